"""The viewer's fused display: candidates, registration job and cache, overlay slices, access
and audit."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from core.models import AuditEvent, Job
from imaging import fusion, viewer
from imaging.models import Series
from tests.conftest import World
from tests.imaging import fusion_data
from tests.imaging.fusion_data import (
    FIXED_ORIGIN,
    FIXED_SPACING,
    HOT_CENTRE,
    store_fixed_ct,
    store_moving_mr,
    store_unmoved_pt,
)


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


@pytest.fixture
def ct(world: World) -> Series:
    return store_fixed_ct(world.patient)


@pytest.fixture
def mr(world: World) -> Series:
    return store_moving_mr(world.patient)


def _url(name: str, world: World, fixed: Series, **extra: Any) -> str:
    kwargs = {"public_id": world.patient.public_id, "series_id": fixed.public_id, **extra}
    return reverse(f"imaging:{name}", kwargs=kwargs)


def _status(client: Client, world: World, fixed: Series, moving: Series, **query: str) -> Any:
    return client.get(_url("viewer-fusion-status", world, fixed, moving_id=moving.public_id), query)


def _overlay(
    client: Client, world: World, fixed: Series, moving: Series, index: int, **query: str
) -> np.ndarray:
    url = _url(
        "viewer-fusion-slice", world, fixed, moving_id=moving.public_id, axis="axial", index=index
    )
    response = client.get(url, query)
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.mode == "RGBA"
    return np.asarray(image)


def _register(
    client: Client, world: World, fixed: Series, moving: Series, capture: Any
) -> dict[str, Any]:
    with capture(execute=True):
        first = _status(client, world, fixed, moving, registration="rigid")
    assert first.status_code == 202
    assert first.json() == {"status": "registering"}
    job = Job.objects.get(kind=fusion.FUSION_JOB_KIND)
    assert job.status == "succeeded", job.error
    ready = _status(client, world, fixed, moving, registration="rigid")
    assert ready.status_code == 200
    return ready.json()


def _hot_slice_and_pixel() -> tuple[int, tuple[int, int]]:
    """The fixed grid's axial slice and (row, column) at the dense ellipsoid's centre."""
    x, y, z = HOT_CENTRE
    column = round((x - FIXED_ORIGIN[0]) / FIXED_SPACING[2])
    row = round((y - FIXED_ORIGIN[1]) / FIXED_SPACING[1])
    return round((z - FIXED_ORIGIN[2]) / FIXED_SPACING[0]), (row, column)


def _centroid(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).mean(axis=0)


def test_rigid_registration_recovers_the_known_motion_and_caches_it(
    world: World,
    ct: Series,
    mr: Series,
    member_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    report = _register(member_client, world, ct, mr, django_capture_on_commit_callbacks)
    assert report["registration"] == "rigid"
    assert report["modality"] == "MR"
    # The truth is 4 degrees about z and (6, -5, 4) mm about the centre (0, 0, 0), which is
    # also the fixed grid's centre, the registration's centre of rotation.
    np.testing.assert_allclose(report["rotation_deg"], [0, 0, 4], atol=1.0)
    np.testing.assert_allclose(report["translation_mm"], [6, -5, 4], atol=1.5)
    truth = fusion_data.truth()
    corners = [(x, y, z) for x in (-40, 40) for y in (-40, 40) for z in (-40, 40)]
    worst = max(float(np.linalg.norm(np.subtract(truth.TransformPoint(p), p))) for p in corners)
    assert report["max_displacement_mm"] == pytest.approx(worst, abs=2.0)
    # Registered once: a second request neither runs nor queues another job.
    again = _status(member_client, world, ct, mr, registration="rigid")
    assert again.status_code == 200
    assert Job.objects.filter(kind=fusion.FUSION_JOB_KIND).count() == 1
    assert list(fusion.viewer_series.cache_dir().glob("*.fusion.json"))


def test_the_registered_overlay_puts_the_dense_sphere_on_the_fixed_ones_pixels(
    world: World,
    ct: Series,
    mr: Series,
    member_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _register(member_client, world, ct, mr, django_capture_on_commit_callbacks)
    index, (row, column) = _hot_slice_and_pixel()
    # The CT slice: the dense ellipsoid (700 HU) is above mid-grey in a window centred on 400.
    ct_url = _url("viewer-slice", world, ct, axis="axial", index=index)
    ct_png = np.asarray(
        Image.open(io.BytesIO(member_client.get(ct_url, {"wc": 400, "ww": 200}).content))
    )
    ct_sphere = ct_png > 127
    assert ct_sphere[row, column]
    # The overlay, greyscale, windowed so that only the MR's brightest tissue (1200) is white.
    rgba = _overlay(
        member_client, world, ct, mr, index, registration="rigid", cmap="grey", wc="800", ww="200"
    )
    assert rgba.shape == (*ct_png.shape, 4)
    mr_sphere = rgba[..., 0] > 127
    overlap = (mr_sphere & ct_sphere).sum() / (mr_sphere | ct_sphere).sum()
    assert overlap > 0.8
    assert np.abs(_centroid(mr_sphere) - _centroid(ct_sphere)).max() < 1.0  # pixels of 2 mm
    # Without registration (scanner coordinates) the MR's sphere sits where the motion put it.
    unregistered = _overlay(
        member_client,
        world,
        ct,
        mr,
        index,
        registration="scanner",
        cmap="grey",
        wc="800",
        ww="200",
    )
    shifted = unregistered[..., 0] > 127
    assert (shifted & ct_sphere).sum() / max(1, (shifted | ct_sphere).sum()) < 0.5


def test_the_overlay_is_transparent_where_the_moving_series_has_no_data(
    world: World, ct: Series, member_client: Client
) -> None:
    pt = store_unmoved_pt(world.patient, ct)
    status = _status(member_client, world, ct, pt)
    assert status.status_code == 200
    assert status.json()["registration"] == "scanner"  # shared frame of reference
    # The fixed grid reaches 47 mm from the centre in x and y, the PET's 48.75 mm: all covered
    # in-plane; its slices cover the same z. Shrink nothing, but check the hot map's alpha:
    # air (uptake 0) is transparent, the dense ellipsoid opaque.
    index, (row, column) = _hot_slice_and_pixel()
    rgba = _overlay(member_client, world, ct, pt, index, cmap="hot", wc="300", ww="600")
    assert rgba[row, column, 3] == 255
    assert rgba[0, 0, 3] == 0
    # Hot map: black -> red -> yellow -> white; the dense ellipsoid's 900 is above the
    # window: white. The body's 100 at the window's centre: half-way from red to yellow.
    assert tuple(rgba[row, column, :3]) == (255, 255, 255)
    body = _overlay(member_client, world, ct, pt, index, cmap="hot", wc="100", ww="300")
    assert body[row, column - 12, 3] == 255
    assert body[row, column - 12, :3].astype(int).tolist() == pytest.approx([255, 128, 0], abs=12)


def test_voxels_outside_the_moving_image_are_transparent() -> None:
    from imaging.dicom import Volume

    fused = Volume(np.full((2, 3, 4), np.nan, np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    fused.array[:, 1, :] = 5.0
    png = fusion.render_fused_png(fused, "axial", 0, 5.0, 10.0, "green")
    rgba = np.asarray(Image.open(io.BytesIO(png)))
    assert rgba[0, :, 3].tolist() == [0, 0, 0, 0]
    assert rgba[1, :, 3].tolist() == [255] * 4
    # DICOM window (PS3.3 C.11.2.1.2.1): ((5 - 4.5) / 9 + 0.5) * 255 = 141.7 -> 142
    assert rgba[1, 0, :3].tolist() == [0, 142, 0]


def test_candidates_list_the_same_frame_of_reference_first(
    world: World, ct: Series, mr: Series, member_client: Client
) -> None:
    pt = store_unmoved_pt(world.patient, ct)
    body = member_client.get(_url("viewer-fusion", world, ct)).json()
    ids = [c["id"] for c in body["candidates"]]
    assert ids == [str(pt.public_id), str(mr.public_id)]
    first, second = body["candidates"]
    assert first["same_frame_of_reference"]
    assert first["registration"] == "scanner"
    assert first["colour_map"] == "hot"
    assert not second["same_frame_of_reference"]
    assert second["registration"] == "rigid"
    assert second["colour_map"] == "green"
    # The structure-set-free CT itself is never a candidate for itself.
    assert str(ct.public_id) not in ids


@pytest.mark.parametrize("name", ["viewer-fusion", "viewer-fusion-status", "viewer-fusion-slice"])
def test_a_clinician_outside_the_care_team_gets_404(
    name: str, world: World, ct: Series, mr: Series, outsider_client: Client
) -> None:
    extra: dict[str, Any] = {}
    if name != "viewer-fusion":
        extra["moving_id"] = mr.public_id
    if name == "viewer-fusion-slice":
        extra.update(axis="axial", index=0)
    assert outsider_client.get(_url(name, world, ct, **extra)).status_code == 404


def test_a_series_of_another_patient_cannot_be_fused(
    world: World, ct: Series, member_client: Client
) -> None:
    from tests.factories import PatientFactory

    other = PatientFactory(institution=world.institution, teams=[world.team])
    foreign = store_moving_mr(other)
    response = _status(member_client, world, ct, foreign, registration="scanner")
    assert response.status_code == 404
    ids = [
        c["id"] for c in member_client.get(_url("viewer-fusion", world, ct)).json()["candidates"]
    ]
    assert str(foreign.public_id) not in ids
    assert not Job.objects.exists()


def test_fusing_audits_both_series_once_per_viewing(
    world: World, ct: Series, mr: Series, member_client: Client
) -> None:
    AuditEvent.objects.all().delete()
    assert _status(member_client, world, ct, mr, registration="scanner").status_code == 200
    events = AuditEvent.objects.filter(action="view", object_type="dicom_series")
    assert {str(e.object_id) for e in events} == {str(ct.public_id), str(mr.public_id)}
    assert {e.detail["format"] for e in events} == {"fusion"}
    assert all(e.actor_id == world.member.pk for e in events)
    # The slices of the same viewing add nothing.
    _overlay(member_client, world, ct, mr, 3, registration="scanner")
    assert events.count() == 2


@pytest.mark.parametrize(
    "query",
    [
        {"registration": "elastic"},
        {"registration": "scanner", "cmap": "jet"},
        {"registration": "scanner", "wc": "nan"},
    ],
)
def test_unknown_registrations_colour_maps_and_windows_are_refused(
    query: dict[str, str], world: World, ct: Series, mr: Series, member_client: Client
) -> None:
    assert _status(member_client, world, ct, mr, registration="scanner").status_code == 200
    url = _url("viewer-fusion-slice", world, ct, moving_id=mr.public_id, axis="axial", index=0)
    assert member_client.get(url, query).status_code == 404


def test_overlay_slices_wait_for_the_registration(
    world: World, ct: Series, mr: Series, member_client: Client
) -> None:
    url = _url("viewer-fusion-slice", world, ct, moving_id=mr.public_id, axis="axial", index=0)
    assert member_client.get(url, {"registration": "rigid"}).status_code == 404
    assert not list(fusion.viewer_series.cache_dir().glob("*.fusion.json"))


def test_a_structure_set_or_the_series_itself_cannot_be_fused(
    world: World, member_client: Client
) -> None:
    from tests.imaging.viewer_data import store_ct_with_structure_set

    ct = store_ct_with_structure_set(world.patient)
    rt = Series.objects.get(study=ct.study, modality="RTSTRUCT")
    assert _status(member_client, world, ct, rt).status_code == 404
    assert _status(member_client, world, ct, ct).status_code == 404


def test_a_failed_registration_says_why(
    world: World,
    ct: Series,
    member_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # An MR that is all air: nothing to register on.
    from tests.imaging.fusion_data import MOVING_ORIGIN, MOVING_SHAPE, MOVING_SPACING, _store_series

    blank = _store_series(
        world.patient,
        np.zeros(MOVING_SHAPE, np.float32),
        modality="MR",
        spacing=MOVING_SPACING,
        origin=MOVING_ORIGIN,
        intercept=0.0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert _status(member_client, world, ct, blank, registration="rigid").status_code == 202
    response = _status(member_client, world, ct, blank, registration="rigid")
    assert response.status_code == 422
    assert "foreground" in response.json()["error"]


def test_the_page_offers_the_fused_display_from_a_static_script(
    world: World, ct: Series, member_client: Client
) -> None:
    html = member_client.get(_url("viewer", world, ct)).content.decode()
    assert 'src="/static/js/viewer-fusion.js"' in html
    assert 'id="viewer-fusion-series"' in html
    assert "<script>" not in html


def test_a_refused_request_writes_no_audit_event(
    world: World, ct: Series, mr: Series, member_client: Client
) -> None:
    AuditEvent.objects.all().delete()
    assert _status(member_client, world, ct, mr, registration="elastic").status_code == 404
    url = _url("viewer-fusion-slice", world, ct, moving_id=mr.public_id, axis="axial", index=0)
    assert member_client.get(url, {"registration": "scanner", "cmap": "jet"}).status_code == 404
    assert not AuditEvent.objects.exists()
