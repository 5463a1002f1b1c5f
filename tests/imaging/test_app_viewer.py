"""The series viewer's routes: access, the images they render, caching and the audit rule."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from core.models import AuditEvent
from imaging import viewer, viewer_series, views_viewer
from imaging.models import Series
from tests.conftest import World
from tests.imaging import viewer_data
from tests.imaging.viewer_data import LESION, SHAPE, store_ct_with_structure_set, synthetic_hu


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


@pytest.fixture
def series(world: World) -> Series:
    return store_ct_with_structure_set(world.patient)


def _kwargs(world: World, series: Series, **extra: Any) -> dict[str, Any]:
    return {"public_id": world.patient.public_id, "series_id": series.public_id, **extra}


def _url(name: str, world: World, series: Series, **extra: Any) -> str:
    return reverse(f"imaging:{name}", kwargs=_kwargs(world, series, **extra))


def _mask_id(client: Client, world: World, series: Series) -> str:
    return client.get(_url("viewer-meta", world, series)).json()["masks"][0]["id"]


def _png(response: Any) -> np.ndarray:
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def dicom_window(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 linear VOI LUT, written out again from the standard's text:
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * (ymax - ymin) + ymin, with the two clamps."""
    x = hu.astype(float)
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    y[x <= center - 0.5 - (width - 1) / 2] = 0
    y[x > center - 0.5 + (width - 1) / 2] = 255
    return np.rint(y).astype(np.uint8)


ROUTES = ["viewer", "viewer-meta", "viewer-slice", "viewer-mask", "viewer-mask-slice"]


def _route_url(name: str, client: Client, world: World, series: Series) -> str:
    extra: dict[str, Any] = {}
    if name in ("viewer-slice", "viewer-mask-slice"):
        extra = {"axis": "axial", "index": 4}
    if name in ("viewer-mask", "viewer-mask-slice"):
        member = Client()
        member.force_login(world.member)
        extra["mask_id"] = _mask_id(member, world, series)
    return _url(name, world, series, **extra)


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize(
    ("persona", "expected"),
    [("member", 200), ("outsider", 404), ("integration", 403), ("anonymous", 302)],
)
def test_each_viewer_route_admits_only_the_care_team(
    name: str, persona: str, expected: int, world: World, series: Series
) -> None:
    url = _route_url(name, Client(), world, series)
    client = Client()
    if persona != "anonymous":
        client.force_login(getattr(world, persona))
    assert client.get(url).status_code == expected


def test_a_series_of_another_patient_is_not_found_under_this_patient(
    world: World, member_client: Client
) -> None:
    from tests.factories import PatientFactory

    other_patient = PatientFactory(institution=world.institution, teams=[world.team])
    foreign_series = store_ct_with_structure_set(other_patient)
    url = reverse(
        "imaging:viewer",
        kwargs={"public_id": world.patient.public_id, "series_id": foreign_series.public_id},
    )
    assert member_client.get(url).status_code == 404


def test_the_page_loads_its_script_from_static_files_and_has_no_inline_script(
    world: World, series: Series, member_client: Client
) -> None:
    html = member_client.get(_url("viewer", world, series)).content.decode()
    assert 'src="/static/js/viewer.js"' in html
    assert "<script>" not in html
    assert world.patient.mrn not in _url("viewer", world, series)


def test_metadata_gives_shape_spacing_presets_and_the_structure_set_masks(
    world: World, series: Series, member_client: Client
) -> None:
    meta = member_client.get(_url("viewer-meta", world, series)).json()
    assert meta["status"] == "ready"
    assert meta["shape"] == {"z": 10, "y": 32, "x": 48}
    assert meta["spacing_mm"] == {"z": 2.0, "y": 0.5, "x": 0.5}
    assert set(meta["presets"]) == {"lung", "mediastinum", "bone", "liver", "brain"}
    assert meta["presets"]["lung"] == {"center": -600, "width": 1500}
    assert meta["window"] == {"center": 40, "width": 400}  # CT opens in mediastinum
    [mask] = meta["masks"]
    assert mask["label"] == "GTV-1"
    assert "GTV" not in mask["id"]  # ids in URLs are opaque


def test_axial_slice_is_the_stored_hu_through_the_dicom_window(
    world: World, series: Series, member_client: Client
) -> None:
    url = _url("viewer-slice", world, series, axis="axial", index=4)
    image = _png(member_client.get(url, {"wc": 40, "ww": 400}))
    assert image.shape == (32, 48)
    expected = dicom_window(synthetic_hu()[4], 40, 400)
    np.testing.assert_array_equal(image, expected)
    # Spot values by hand: HU 40 sits mid-window, -160 and below are black, 240 up white.
    hu = synthetic_hu()[4]
    assert image[0, list(hu[0]).index(40)] == 128
    assert image[0, 0] == 0  # HU -220
    assert image[0, -1] == 255  # HU 250


def test_default_window_is_used_when_none_is_asked(
    world: World, series: Series, member_client: Client
) -> None:
    url = _url("viewer-slice", world, series, axis="axial", index=2)
    np.testing.assert_array_equal(
        _png(member_client.get(url)), dicom_window(synthetic_hu()[2], 40, 400)
    )


@pytest.mark.parametrize(
    ("axis", "index", "size"),
    [
        ("axial", 0, (48, 32)),  # x columns, y rows: 0.5 mm square already
        ("coronal", 5, (48, 40)),  # 10 slices of 2 mm on 0.5 mm pixels: 40 rows
        ("sagittal", 7, (32, 40)),
    ],
)
def test_reformats_have_square_pixels_of_the_true_proportions(
    axis: str,
    index: int,
    size: tuple[int, int],
    world: World,
    series: Series,
    member_client: Client,
) -> None:
    url = _url("viewer-slice", world, series, axis=axis, index=index)
    image = Image.open(io.BytesIO(member_client.get(url).content))
    assert image.size == size
    assert image.mode == "L"


def test_coronal_reformat_has_the_head_at_the_top(
    world: World, series: Series, member_client: Client
) -> None:
    # Column x = 24 holds HU = 5 z: the top row must be the last (most cranial) slice.
    url = _url("viewer-slice", world, series, axis="coronal", index=3)
    image = _png(member_client.get(url, {"wc": 0, "ww": 100}))
    top, bottom = int(image[0, 24]), int(image[-1, 24])
    assert top == dicom_window(np.array([45]), 0, 100)[0]  # z = 9
    assert bottom == dicom_window(np.array([0]), 0, 100)[0]  # z = 0


@pytest.mark.parametrize(
    ("axis", "index", "query"),
    [
        ("oblique", 0, {}),
        ("axial", SHAPE[0], {}),
        ("coronal", SHAPE[1], {}),
        ("axial", 0, {"wc": "nan"}),
        ("axial", 0, {"ww": "wide"}),
    ],
)
def test_unknown_planes_slices_and_windows_are_refused(
    axis: str,
    index: int,
    query: dict[str, str],
    world: World,
    series: Series,
    member_client: Client,
) -> None:
    url = _url("viewer-slice", world, series, axis=axis, index=index)
    assert member_client.get(url, query).status_code == 404


def test_mask_slice_is_opaque_colour_exactly_inside_the_contour(
    world: World, series: Series, member_client: Client
) -> None:
    mask_id = _mask_id(member_client, world, series)
    url = _url("viewer-mask-slice", world, series, mask_id=mask_id, axis="axial", index=4)
    rgba = _png(member_client.get(url))
    assert rgba.shape == (32, 48, 4)
    expected = np.zeros((32, 48), dtype=bool)
    expected[LESION[1], LESION[2]] = True
    np.testing.assert_array_equal(rgba[..., 3] == 255, expected)
    assert (rgba[..., 3][~expected] == 0).all()
    assert tuple(rgba[10, 12, :3]) == viewer.MASK_COLOURS[0]
    empty = _url("viewer-mask-slice", world, series, mask_id=mask_id, axis="axial", index=0)
    assert (_png(member_client.get(empty))[..., 3] == 0).all()


def test_mask_reformat_has_the_same_proportions_as_the_image(
    world: World, series: Series, member_client: Client
) -> None:
    mask_id = _mask_id(member_client, world, series)
    url = _url("viewer-mask-slice", world, series, mask_id=mask_id, axis="coronal", index=10)
    rgba = _png(member_client.get(url))
    assert rgba.shape == (40, 48, 4)
    # slices 3..6 of 10, head up, 4 rows each: rows (9-6)*4 .. (9-3)*4+3
    rows = np.nonzero(rgba[..., 3].any(axis=1))[0]
    assert (rows.min(), rows.max()) == (12, 27)


def test_unknown_mask_is_not_found(world: World, series: Series, member_client: Client) -> None:
    url = _url("viewer-mask", world, series, mask_id="0" * 20)
    assert member_client.get(url).status_code == 404


def test_mask_measurement_matches_the_rectangles_geometry(
    world: World, series: Series, member_client: Client
) -> None:
    mask_id = _mask_id(member_client, world, series)
    m = member_client.get(_url("viewer-mask", world, series, mask_id=mask_id)).json()["measurement"]
    # 4 slices x 8 rows x 10 columns of 2 x 0.5 x 0.5 mm voxels = 160 mm3
    assert m["volume_ml"] == pytest.approx(0.160)
    # a 5 mm x 4 mm rectangle, edge to edge: diagonal sqrt(41); its width across the diagonal
    # is 2ab / sqrt(a^2 + b^2)
    assert m["longest_diameter_mm"] == pytest.approx(math.sqrt(41), abs=0.01)
    assert m["perpendicular_diameter_mm"] == pytest.approx(40 / math.sqrt(41), abs=0.01)
    assert LESION[0].start <= m["slice"] < LESION[0].stop
    (x0, y0), (x1, y1) = m["longest_line"]
    assert math.hypot((x1 - x0) * 0.5, (y1 - y0) * 0.5) == pytest.approx(math.sqrt(41), abs=0.01)
    (px0, py0), (px1, py1) = m["perpendicular_line"]
    length = math.hypot((px1 - px0) * 0.5, (py1 - py0) * 0.5)
    assert length == pytest.approx(40 / math.sqrt(41), abs=0.01)
    dot = (x1 - x0) * (px1 - px0) + (y1 - y0) * (py1 - py0)  # square pixels: index units work
    assert dot == pytest.approx(0, abs=0.05)  # endpoints are rounded to 0.001 pixel


def _viewer_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="dicom_series").order_by("id"))


def test_opening_the_viewer_writes_one_event_and_its_images_none_while_viewing(
    world: World, series: Series, member_client: Client
) -> None:
    member_client.get(_url("viewer", world, series))
    [event] = _viewer_events()
    assert (event.action, event.object_id) == ("view", str(series.public_id))
    assert event.patient_id == world.patient.pk
    assert event.detail == {"format": "viewer"}

    mask_id = _mask_id(member_client, world, series)
    for index in range(SHAPE[0]):
        member_client.get(_url("viewer-slice", world, series, axis="axial", index=index))
    member_client.get(_url("viewer-mask", world, series, mask_id=mask_id))
    member_client.get(
        _url("viewer-mask-slice", world, series, mask_id=mask_id, axis="axial", index=3)
    )
    assert len(_viewer_events()) == 1
    assert AuditEvent.objects.count() == 1  # and nothing else was audited either


def test_an_image_fetched_outside_a_viewing_writes_its_own_event_once(
    world: World, series: Series, member_client: Client
) -> None:
    url = _url("viewer-slice", world, series, axis="sagittal", index=1)
    member_client.get(url)
    member_client.get(url)
    [event] = _viewer_events()
    assert event.detail == {"format": "png"}


def test_a_lapsed_viewing_is_audited_again(
    world: World, series: Series, member_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    member_client.get(_url("viewer", world, series))
    url = _url("viewer-slice", world, series, axis="axial", index=1)
    member_client.get(url)
    assert len(_viewer_events()) == 1
    later = time.time() + views_viewer.VIEWING_WINDOW_SECONDS + 1
    monkeypatch.setattr(views_viewer.time, "time", lambda: later)
    member_client.get(url)
    member_client.get(url)
    assert len(_viewer_events()) == 2


def test_a_viewing_of_one_series_does_not_cover_another(
    world: World, series: Series, member_client: Client
) -> None:
    other = store_ct_with_structure_set(world.patient)
    member_client.get(_url("viewer", world, series))
    member_client.get(_url("viewer-slice", world, other, axis="axial", index=0))
    assert [e.object_id for e in _viewer_events()] == [str(series.public_id), str(other.public_id)]


def test_refused_requests_write_no_event(world: World, series: Series) -> None:
    outsider = Client()
    outsider.force_login(world.outsider)
    outsider.get(_url("viewer", world, series))
    outsider.get(_url("viewer-slice", world, series, axis="axial", index=0))
    assert AuditEvent.objects.count() == 0


def test_a_reopened_series_comes_from_the_disk_cache_without_reading_dicom(
    world: World,
    series: Series,
    member_client: Client,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    url = _url("viewer-slice", world, series, axis="axial", index=4)
    first = member_client.get(url).content
    assert list(Path(settings.IMAGING_CACHE_DIR).glob("*.npy"))
    viewer.VOLUMES.clear()  # as in a new worker process

    def no_dicom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("DICOM read again")

    monkeypatch.setattr(viewer_series, "read_instance", no_dicom)
    assert member_client.get(url).content == first


def test_changed_instances_give_a_new_cache_key() -> None:
    key = viewer.volume_cache_key(["a" * 64, "b" * 64])
    assert key == viewer.volume_cache_key(["b" * 64, "a" * 64])
    assert key != viewer.volume_cache_key(["a" * 64, "c" * 64])


def test_a_large_series_is_prepared_in_a_job_and_then_shown(
    world: World,
    series: Series,
    member_client: Client,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(viewer_series, "INLINE_ASSEMBLY_MAX_INSTANCES", 5)
    url = _url("viewer-meta", world, series)
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.get(url)
    assert response.status_code == 202
    assert response.json() == {"status": "preparing"}
    from core.models import Job

    job = Job.objects.get(kind=viewer_series.PREPARE_JOB_KIND)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert member_client.get(url).json()["status"] == "ready"


def test_a_mask_series_is_not_an_image(world: World, series: Series, member_client: Client) -> None:
    rt_series = Series.objects.get(study=series.study, modality="RTSTRUCT")
    response = member_client.get(_url("viewer-meta", world, rt_series))
    assert response.status_code == 422


def test_the_synthetic_lesion_lies_where_the_fixture_says() -> None:
    # Guards the other tests' expectations: the fixture's geometry constants agree.
    assert viewer_data.SHAPE == synthetic_hu().shape


def test_the_study_list_links_image_series_to_the_viewer_but_not_structure_sets(
    world: World, series: Series, member_client: Client
) -> None:
    page = member_client.get(
        reverse("imaging:study-list", kwargs={"public_id": world.patient.public_id})
    ).content.decode()
    assert _url("viewer", world, series) in page
    structure_sets = Series.objects.filter(study=series.study, modality="RTSTRUCT")
    assert structure_sets.exists()
    for other in structure_sets:
        assert f"series/{other.public_id}/" not in page
