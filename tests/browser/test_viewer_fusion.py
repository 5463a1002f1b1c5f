"""The fused display in a real browser: pick a second series, see its overlay follow the slices."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imaging import viewer
from tests.conftest import World
from tests.imaging.fusion_data import store_fixed_ct, store_unmoved_pt

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


def _stage_pixels(page: Any, path: Path) -> np.ndarray:
    page.locator("#viewer-stage").screenshot(path=str(path))
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"), dtype=int)


def test_a_clinician_fuses_a_pet_onto_the_ct_and_scrolls_with_it(
    live_server: Any, page: Any, world: World, tmp_path: Path
) -> None:
    ct = store_fixed_ct(world.patient)
    pt = store_unmoved_pt(world.patient, ct)
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "correct-horse-battery-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patients/**")
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))

    page.goto(f"{base}/patients/{world.patient.public_id}/imaging/series/{ct.public_id}/")
    page.wait_for_selector("#viewer[data-state=ready]")
    page.wait_for_selector("#viewer-fusion-series:not([disabled])")
    before = _stage_pixels(page, tmp_path / "ct.png")
    # CT alone is grey: red and green equal everywhere.
    assert np.abs(before[..., 0] - before[..., 1]).max() <= 2

    page.select_option("#viewer-fusion-series", str(pt.public_id))
    page.wait_for_selector("#viewer-fusion[data-state=ready]")
    assert page.input_value("#viewer-fusion-cmap") == "hot"  # a PET's default
    assert "scanner coordinates" in page.inner_text("#viewer-fusion-status")
    page.wait_for_function(
        "() => (document.getElementById('viewer-fusion').getAttribute('data-overlay') || '')"
        ".startsWith('axial:12:')"
    )
    fused = _stage_pixels(page, tmp_path / "fused.png")
    # The hot overlay adds colour: somewhere red clearly exceeds green.
    assert (fused[..., 0] - fused[..., 1]).max() > 60

    # The overlay follows the viewer: a wheel step draws the next slice's overlay.
    page.hover("#viewer-stage")
    page.mouse.wheel(0, 120)
    page.wait_for_function(
        "() => (document.getElementById('viewer-fusion').getAttribute('data-overlay') || '')"
        ".startsWith('axial:13:')"
    )
    # Opacity 0 hides it again.
    page.locator("#viewer-fusion-opacity").fill("0")
    page.wait_for_function(
        "() => (document.getElementById('viewer-fusion').getAttribute('data-overlay') || '')"
        ".endsWith(':0')"
    )
    hidden = _stage_pixels(page, tmp_path / "hidden.png")
    assert np.abs(hidden[..., 0] - hidden[..., 1]).max() <= 2
    assert page_errors == []
