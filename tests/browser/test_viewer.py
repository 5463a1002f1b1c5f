"""The series viewer in a real browser: open, scroll, change the window, overlay the mask."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imaging import viewer
from tests.conftest import World
from tests.imaging.viewer_data import store_ct_with_structure_set

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "correct-horse-battery-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patients/**")


def _rendered(page: Any) -> str:
    return page.get_attribute("#viewer", "data-rendered") or ""


def _wait_rendered_change(page: Any, before: str) -> str:
    page.wait_for_function(
        "before => document.getElementById('viewer').getAttribute('data-rendered') !== before",
        arg=before,
    )
    return _rendered(page)


def _pixels(page: Any, path: Path) -> np.ndarray:
    page.locator("#viewer-canvas").screenshot(path=str(path))
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"), dtype=int)


def test_a_clinician_scrolls_windows_and_overlays_the_mask_in_the_viewer(
    live_server: Any, page: Any, world: World, tmp_path: Path
) -> None:
    series = store_ct_with_structure_set(world.patient)
    base = live_server.url
    _sign_in(page, base)
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))  # uncaught script errors

    page.goto(f"{base}/patients/{world.patient.public_id}/imaging/series/{series.public_id}/")
    page.wait_for_selector("#viewer[data-state=ready]")
    first_ms = int(page.get_attribute("#viewer", "data-first-image-ms") or "0")
    assert first_ms > 0
    start = _rendered(page)
    assert start.startswith("axial:5:40:400")  # middle slice, mediastinum window
    assert "Axial 6 / 10" in page.inner_text("#viewer-slice")
    opened = _pixels(page, tmp_path / "opened.png")

    # Mouse wheel: two slices on.
    page.hover("#viewer-stage")
    page.mouse.wheel(0, 120)
    page.wait_for_function(
        "() => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
        ".startsWith('axial:6:')"
    )
    page.mouse.wheel(0, 120)
    scrolled_state = page.wait_for_function(
        "() => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
        ".startsWith('axial:7:')"
    )
    assert scrolled_state
    scrolled = _pixels(page, tmp_path / "scrolled.png")
    assert (scrolled != opened).any()

    # Keyboard: back one slice.
    page.focus("#viewer-stage")
    before = _rendered(page)
    page.keyboard.press("ArrowUp")
    assert _wait_rendered_change(page, before).startswith("axial:6:")

    # Window preset: lung.
    before = _rendered(page)
    page.select_option("#viewer-preset", "lung")
    assert _wait_rendered_change(page, before) == "axial:6:-600:1500"
    lung = _pixels(page, tmp_path / "lung.png")
    back_at_6 = _pixels(page, tmp_path / "lung-again.png")
    assert (lung == back_at_6).all()  # stable: the same state renders the same pixels
    assert "W 1500 / L -600" in page.inner_text("#viewer-wl")

    # Drag adjusts the window: rightwards widens it.
    box = page.locator("#viewer-stage").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = _rendered(page)
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 50, cy, steps=5)
    page.mouse.up()
    dragged = _wait_rendered_change(page, before)
    assert dragged.startswith("axial:6:-600:")
    assert int(dragged.split(":")[3]) > 1500

    # Back to mediastinum, then the mask: it jumps to the slice where it was measured.
    page.select_option("#viewer-preset", "mediastinum")
    page.wait_for_function(
        "() => document.getElementById('viewer').getAttribute('data-rendered') === 'axial:6:40:400'"
    )
    without_mask = _pixels(page, tmp_path / "without-mask.png")
    page.check("#viewer-mask-toggle")
    page.wait_for_function(
        "() => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
        ".includes(':mask:50')"
    )
    page.wait_for_function("() => document.getElementById('viewer-measure').textContent !== ''")
    assert "0.16 ml" in page.inner_text("#viewer-measure")
    slice_with_lines = int(_rendered(page).split(":")[1])
    assert 3 <= slice_with_lines <= 6
    if slice_with_lines != 6:  # compare the same slice with and without the mask
        page.uncheck("#viewer-mask-toggle")
        page.wait_for_function(
            "() => !(document.getElementById('viewer').getAttribute('data-rendered') || '')"
            ".includes(':mask:')"
        )
        without_mask = _pixels(page, tmp_path / "without-mask.png")
        page.check("#viewer-mask-toggle")
        page.wait_for_function(
            "() => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
            ".includes(':mask:50')"
        )
    with_mask = _pixels(page, tmp_path / "with-mask.png")
    changed = (with_mask != without_mask).any(axis=2)
    assert changed.any()
    # The overlay is the selected mask's declared colour at 50 %: where it changed, each pixel
    # moved towards that colour (new - old has the sign of colour - old in every channel where
    # they differ clearly).
    colour = np.array(
        page.evaluate(
            """async () => {
                const root = document.getElementById('viewer');
                const meta = await (await fetch(root.getAttribute('data-meta-url'))).json();
                const id = document.getElementById('viewer-mask-select').value;
                return meta.masks.find((m) => m.id === id).colour;
            }"""
        ),
        dtype=int,
    )
    old = without_mask[changed]
    diff = with_mask[changed] - old
    towards = colour[None, :] - old
    clear = np.abs(towards) > 30
    assert (np.sign(diff[clear]) == np.sign(towards[clear])).mean() > 0.9

    # Opacity slider: stronger overlay, other pixels.
    before = _rendered(page)
    page.fill("#viewer-opacity", "90")
    page.dispatch_event("#viewer-opacity", "input")
    assert _wait_rendered_change(page, before).endswith(":mask:90")
    stronger = _pixels(page, tmp_path / "stronger.png")
    assert (stronger != with_mask).any()

    # Coronal reformat: another shape of image.
    page.click("[data-axis=coronal]")
    page.wait_for_function(
        "() => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
        ".startsWith('coronal:')"
    )
    assert page.evaluate("document.getElementById('viewer-canvas').height") == 40
    page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
    assert (tmp_path / "viewer.png").stat().st_size > 0

    console_errors = [m.text for m in page.console_messages if m.type == "error"]
    assert console_errors == [], console_errors
    assert page_errors == [], page_errors
    print(f"first image after {first_ms:.0f} ms from navigation start")  # noqa: T201


def _click_voxel(page: Any, x: int, y: int, shape_xy: tuple[int, int]) -> tuple[float, float]:
    """Viewport coordinates of voxel (x, y)'s centre on the axial canvas (object-fit: contain)."""
    page.locator("#viewer-canvas").scroll_into_view_if_needed()
    box = page.locator("#viewer-canvas").bounding_box()
    width, height = page.evaluate(
        "() => [document.getElementById('viewer-canvas').width,"
        " document.getElementById('viewer-canvas').height]"
    )
    scale = min(box["width"] / width, box["height"] / height)
    left = box["x"] + (box["width"] - width * scale) / 2
    top = box["y"] + (box["height"] - height * scale) / 2
    return (
        left + (x + 0.5) * width / shape_xy[0] * scale,
        top + (y + 0.5) * height / shape_xy[1] * scale,
    )


def test_a_clinician_segments_from_a_seed_corrects_it_with_the_brush_and_saves(
    live_server: Any, page: Any, world: World, tmp_path: Path
) -> None:
    from imaging.models import Mask, MaskKind
    from imaging.services.masks import mask_voxels
    from tests.imaging import mask_data

    series = mask_data.store_ct_with_sphere(world.patient)
    base = live_server.url
    _sign_in(page, base)
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.goto(f"{base}/patients/{world.patient.public_id}/imaging/series/{series.public_id}/")
    page.wait_for_selector("#viewer[data-state=ready]")
    assert _rendered(page).startswith(f"axial:{mask_data.CENTRE[0]}:")
    assert page.is_visible("#viewer-mask-tools")

    # Segment from seed: click the sphere's centre on the middle slice.
    page.click("[data-tool=seed]")
    page.fill("#viewer-mask-label", "Lesion 1")
    z, y, x = mask_data.CENTRE
    page.mouse.click(*_click_voxel(page, x, y, (40, 40)))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#viewer-mask-select option')]"
        ".some(o => o.textContent.includes('semi-automatic'))"
    )
    page.wait_for_function(
        "() => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
        ".includes(':mask:')"
    )
    page.wait_for_function("() => document.getElementById('viewer-measure').textContent !== ''")
    mask = Mask.objects.get()
    assert (mask.kind, mask.label, mask.parameters["seed_zyx"]) == (
        MaskKind.SEED,
        "Lesion 1",
        [z, y, x],
    )
    np.testing.assert_array_equal(mask_voxels(mask), mask_data.sphere())
    measured = page.inner_text("#viewer-measure")
    assert f"{mask.voxel_count * 2 / 1000:.2f} ml" in measured
    assert "semi-automatic" in page.inner_text("#viewer-mask-kind")
    seeded = _pixels(page, tmp_path / "seeded.png")

    # Brush: a stroke of radius 0 (size 1) along row 3 from x = 3 to x = 12, then save.
    page.click("[data-tool=brush]")
    page.fill("#viewer-brush-size", "1")
    page.dispatch_event("#viewer-brush-size", "input")
    assert page.inner_text("#viewer-brush-size-value") == "1 px"
    page.mouse.move(*_click_voxel(page, 3, 3, (40, 40)))
    page.mouse.down()
    page.mouse.move(*_click_voxel(page, 12, 3, (40, 40)), steps=8)
    page.mouse.up()
    page.wait_for_function(
        "() => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
        ".includes(':edit:1')"
    )
    drawn = _pixels(page, tmp_path / "drawn.png")
    assert (drawn != seeded).any()
    page.click("#viewer-draw-save")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#viewer-mask-select option')]"
        ".some(o => o.textContent.includes('edited'))"
    )
    mask.refresh_from_db()
    assert mask.edited is True
    assert mask.kind == MaskKind.SEED
    after = mask_voxels(mask)
    expected = mask_data.sphere()
    expected[z, 3, 3:13] = True
    np.testing.assert_array_equal(after, expected)  # exactly the painted voxels were added
    assert page.get_attribute("#viewer-export-seg", "href").endswith(
        f"masks/{mask.public_id.hex}/export/seg/"
    )
    page.wait_for_function(  # the saved version's overlay, no pending edit
        "v => { const r = document.getElementById('viewer').getAttribute('data-rendered') || '';"
        " return r.includes(':v:' + v + ':mask:') && !r.includes(':edit:'); }",
        arg=mask.sha256[:16],
    )
    shown = _pixels(page, tmp_path / "saved.png")
    assert (shown != seeded).any()  # the saved stroke is in the overlay
    page.screenshot(path=str(tmp_path / "viewer-masks.png"), full_page=True)
    assert (tmp_path / "viewer-masks.png").stat().st_size > 0
    console_errors = [m.text for m in page.console_messages if m.type == "error"]
    assert console_errors == [], console_errors
    assert page_errors == [], page_errors
