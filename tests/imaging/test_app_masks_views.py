"""The viewer's stored-mask routes (imaging/views_masks.py): who may write, CSRF, the JSON they
take and give, audit events, and that stored masks show and measure like DICOM ones."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from django.test import Client
from django.urls import reverse
from PIL import Image

from core.models import AuditEvent, Role
from imaging import viewer, viewer_series
from imaging.dicom import seg_to_mask
from imaging.models import Mask, MaskKind, Series
from imaging.services import masks as service
from tests.conftest import World
from tests.factories import PatientFactory, UserFactory
from tests.imaging import mask_data
from tests.imaging.mask_data import CENTRE, store_ct_with_sphere
from tests.imaging.viewer_data import store_ct_with_structure_set


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


@pytest.fixture
def series(world: World) -> Series:
    return store_ct_with_sphere(world.patient)


def _url(name: str, world: World, series: Series, **extra: Any) -> str:
    kwargs = {"public_id": world.patient.public_id, "series_id": series.public_id, **extra}
    return reverse(f"imaging:{name}", kwargs=kwargs)


def _post_json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _seed(client: Client, world: World, series: Series, **extra: Any) -> Any:
    return _post_json(
        client, _url("viewer-mask-seed", world, series), {"seed": list(CENTRE), **extra}
    )


def _mask_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=service.AUDIT_OBJECT).order_by("id"))


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("member", 201), ("outsider", 404), ("integration", 403), ("anonymous", 302)],
)
def test_only_the_care_team_may_segment_from_a_seed(
    persona: str, expected: int, world: World, series: Series
) -> None:
    client = Client()
    if persona != "anonymous":
        client.force_login(getattr(world, persona))
    assert _seed(client, world, series).status_code == expected
    assert Mask.objects.count() == (1 if expected == 201 else 0)
    assert len(_mask_events()) == (1 if expected == 201 else 0)


def test_a_role_that_may_not_change_the_record_cannot_write_masks(
    world: World, series: Series
) -> None:
    admin = UserFactory(role=Role.ADMINISTRATOR, institution=world.institution, teams=[world.team])
    client = Client()
    client.force_login(admin)
    assert _seed(client, world, series).status_code == 403
    assert Mask.objects.count() == 0


def test_writes_need_the_csrf_token(world: World, series: Series) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.member)
    assert _seed(client, world, series).status_code == 403
    assert Mask.objects.count() == 0


def test_a_seed_mask_is_listed_as_semi_automatic_shown_and_measured(
    world: World, series: Series, member_client: Client
) -> None:
    response = _seed(member_client, world, series, label="Lesion A", window_mm=50)
    assert response.status_code == 201
    created = response.json()["mask"]
    assert created["kind"] == "seed"
    mask = Mask.objects.get()
    assert created["id"] == mask.public_id.hex
    assert mask.label == "Lesion A"
    assert mask.parameters["window_mm"] == 50.0
    [event] = _mask_events()
    assert (event.action, event.object_id, event.detail) == (
        "create",
        str(mask.public_id),
        {"format": "seed"},
    )

    meta = member_client.get(_url("viewer-meta", world, series)).json()
    [listed] = meta["masks"]
    assert listed["kind"] == "semi-automatic"
    assert listed["id"] == mask.public_id.hex
    assert listed["stored"] is True
    assert listed["version"] == mask.sha256[:16]
    assert meta["can_edit_masks"] is True

    measured = member_client.get(_url("viewer-mask", world, series, mask_id=listed["id"])).json()
    assert measured["kind"] == "semi-automatic"
    assert measured["measurement"]["voxel_count"] == int(mask_data.sphere().sum())
    assert measured["measurement"]["slice"] == CENTRE[0]

    url = _url("viewer-mask-slice", world, series, mask_id=listed["id"], axis="axial", index=8)
    rgba = np.asarray(Image.open(io.BytesIO(member_client.get(url).content)))
    np.testing.assert_array_equal(rgba[..., 3] == 255, mask_data.sphere()[8])


def test_bad_seed_requests_are_422_with_a_message(
    world: World, series: Series, member_client: Client
) -> None:
    url = _url("viewer-mask-seed", world, series)
    cases = [
        ({"seed": [1, 2]}, "three voxel indices"),
        ({"seed": [99, 0, 0]}, "outside the volume"),
        ({"seed": list(CENTRE), "window_mm": "wide"}, "must be a number"),
        ({"seed": [0, 0, 0], "low": 0, "high": 50}, "outside the range"),
    ]
    for body, message in cases:
        response = _post_json(member_client, url, body)
        assert response.status_code == 422, body
        assert message in response.json()["error"]
    response = member_client.post(url, data="{not json", content_type="application/json")
    assert response.status_code == 422
    assert Mask.objects.count() == 0
    assert _mask_events() == []


def _nifti_upload(array: np.ndarray, origin: Any = mask_data.ORIGIN) -> io.BytesIO:
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(tuple(reversed(mask_data.SPACING)))
    image.SetOrigin(origin)
    path = Path(viewer_series.cache_dir()) / "upload.nii.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), True)  # noqa: FBT003
    upload = io.BytesIO(path.read_bytes())
    upload.name = "lesion.nii.gz"
    return upload


def test_a_nifti_upload_is_imported_or_refused_naming_the_mismatch(
    world: World, series: Series, member_client: Client
) -> None:
    url = _url("viewer-mask-import", world, series)
    shifted = _nifti_upload(mask_data.sphere(), origin=(-20.0, -19.0, 50.0))
    refused = member_client.post(url, {"file": shifted, "label": "Liver"})
    assert refused.status_code == 422
    assert "origin" in refused.json()["error"]
    assert Mask.objects.count() == 0

    assert member_client.post(url, {"label": "x"}).status_code == 422  # no file

    response = member_client.post(url, {"file": _nifti_upload(mask_data.sphere()), "label": "L"})
    assert response.status_code == 201
    mask = Mask.objects.get()
    assert (mask.kind, mask.label) == (MaskKind.NIFTI, "L")
    meta = member_client.get(_url("viewer-meta", world, series)).json()
    assert [m["kind"] for m in meta["masks"]] == ["imported"]


def test_drawing_on_a_structure_set_roi_makes_a_new_drawn_mask_from_its_voxels(
    world: World, member_client: Client
) -> None:
    from tests.imaging.viewer_data import LESION

    ct = store_ct_with_structure_set(world.patient)
    [roi] = member_client.get(_url("viewer-meta", world, ct)).json()["masks"]
    plane = np.zeros((32, 48), dtype=bool)
    plane[0:2, 0:4] = True  # a new island on slice 0
    body = {
        "mask": roi["id"],
        "label": "GTV edited",
        "slices": [{"z": 0, "runs": service.rle_encode(plane)}],
    }
    response = _post_json(member_client, _url("viewer-mask-draw", world, ct), body)
    assert response.status_code == 201, response.content
    mask = Mask.objects.get()
    assert (mask.kind, mask.edited, mask.label) == (MaskKind.DRAWN, False, "GTV edited")
    assert mask.parameters["based_on"] == roi["id"]
    expected = np.zeros((10, 32, 48), dtype=bool)
    expected[LESION] = True
    expected[0] = plane
    np.testing.assert_array_equal(service.mask_voxels(mask), expected)
    kinds = [m["kind"] for m in member_client.get(_url("viewer-meta", world, ct)).json()["masks"]]
    assert kinds == ["RTSTRUCT", "drawn"]


def test_editing_a_stored_mask_through_the_view_marks_it_edited(
    world: World, series: Series, member_client: Client
) -> None:
    mask_id = _seed(member_client, world, series).json()["mask"]["id"]
    plane = np.zeros((40, 40), dtype=bool)
    plane[20:25, 20:25] = True
    body = {"mask": mask_id, "slices": [{"z": 2, "runs": service.rle_encode(plane)}]}
    response = _post_json(member_client, _url("viewer-mask-draw", world, series), body)
    assert response.status_code == 200
    assert response.json()["mask"]["edited"] is True
    mask = Mask.objects.get()
    assert mask.kind == MaskKind.SEED
    assert mask.edited
    assert service.mask_voxels(mask)[2].sum() == 25
    assert [e.action for e in _mask_events()] == ["create", "update"]
    bad = {"mask": mask_id, "slices": [{"z": 2, "runs": [1, 2, 3]}]}
    refused = _post_json(member_client, _url("viewer-mask-draw", world, series), bad)
    assert refused.status_code == 422
    assert "cover" in refused.json()["error"]


def test_delete_and_the_outsider_cannot(
    world: World, series: Series, member_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    mask_id = _seed(member_client, world, series).json()["mask"]["id"]
    url = _url("viewer-mask-delete", world, series, mask_id=mask_id)
    outsider = Client()
    outsider.force_login(world.outsider)
    assert outsider.post(url).status_code == 404
    assert Mask.objects.count() == 1
    assert (
        member_client.post(_url("viewer-mask-delete", world, series, mask_id="0" * 32)).status_code
        == 404
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert member_client.post(url).status_code == 200
    assert Mask.objects.count() == 0
    assert [e.action for e in _mask_events()] == ["create", "delete"]


def test_a_dicom_roi_cannot_be_deleted_through_the_viewer(
    world: World, member_client: Client
) -> None:
    ct = store_ct_with_structure_set(world.patient)
    [roi] = member_client.get(_url("viewer-meta", world, ct)).json()["masks"]
    response = member_client.post(_url("viewer-mask-delete", world, ct, mask_id=roi["id"]))
    assert response.status_code == 422


def test_downloads_as_seg_and_nifti_are_audited_and_read_back(
    world: World, series: Series, member_client: Client
) -> None:
    mask_id = _seed(member_client, world, series).json()["mask"]["id"]
    mask = Mask.objects.get()
    seg = member_client.get(_url("viewer-mask-export", world, series, mask_id=mask_id, fmt="seg"))
    assert seg.status_code == 200
    assert seg["Content-Type"] == "application/dicom"
    assert seg["Content-Disposition"] == f'attachment; filename="mask-{mask_id}.dcm"'
    ds = pydicom.dcmread(io.BytesIO(seg.content))
    volume = viewer_series.series_volume(series)
    np.testing.assert_array_equal(seg_to_mask(ds, volume), service.mask_voxels(mask))
    nifti = member_client.get(
        _url("viewer-mask-export", world, series, mask_id=mask_id, fmt="nifti")
    )
    assert nifti.status_code == 200
    assert nifti.content[:2] == b"\x1f\x8b"
    unknown = _url("viewer-mask-export", world, series, mask_id=mask_id, fmt="stl")
    assert member_client.get(unknown).status_code == 404
    exports = [e for e in _mask_events() if e.action == "export"]
    assert [e.detail["format"] for e in exports] == ["seg", "nifti"]
    assert all(e.object_id == mask_id for e in exports)
    outsider = Client()
    outsider.force_login(world.outsider)
    url = _url("viewer-mask-export", world, series, mask_id=mask_id, fmt="seg")
    assert outsider.get(url).status_code == 404
    assert len(_mask_events()) == 3  # refused requests write nothing


def test_a_structure_set_roi_exports_as_seg_too(world: World, member_client: Client) -> None:
    from tests.imaging.viewer_data import LESION

    ct = store_ct_with_structure_set(world.patient)
    [roi] = member_client.get(_url("viewer-meta", world, ct)).json()["masks"]
    response = member_client.get(
        _url("viewer-mask-export", world, ct, mask_id=roi["id"], fmt="seg")
    )
    assert response.status_code == 200
    volume = viewer_series.series_volume(ct)
    expected = np.zeros(volume.shape, dtype=bool)
    expected[LESION] = True
    seg = pydicom.dcmread(io.BytesIO(response.content))
    np.testing.assert_array_equal(seg_to_mask(seg, volume), expected)
    assert str(seg.SegmentSequence[0].SegmentLabel) == "GTV-1"


def test_change_across_studies_against_the_baseline_mask(
    world: World, series: Series, member_client: Client
) -> None:
    # Baseline: the sphere (seed). Follow-up series: the same sphere, measured by its seed mask
    # after an edit that erased its middle slice. Change = follow-up minus baseline.
    baseline_id = _seed(member_client, world, series).json()["mask"]["id"]
    follow = store_ct_with_sphere(world.patient)
    follow_id = _seed(member_client, world, follow).json()["mask"]["id"]
    empty = np.zeros((40, 40), dtype=bool)
    body = {"mask": follow_id, "slices": [{"z": CENTRE[0], "runs": service.rle_encode(empty)}]}
    assert (
        _post_json(member_client, _url("viewer-mask-draw", world, follow), body).status_code == 200
    )

    options = member_client.get(_url("viewer-mask-compare-options", world, follow)).json()
    [option] = options["options"]
    assert (option["series"], option["mask"]) == (str(series.public_id), baseline_id)
    assert "semi-automatic" in option["label"]

    url = _url(
        "viewer-mask-change",
        world,
        follow,
        mask_id=follow_id,
        other_series_id=series.public_id,
        other_mask_id=baseline_id,
    )
    data = member_client.get(url).json()
    sphere_voxels = int(mask_data.sphere().sum())
    middle = int(mask_data.sphere()[CENTRE[0]].sum())
    assert data["other"]["volume_ml"] == pytest.approx(sphere_voxels * 2 / 1000, abs=1e-3)
    assert data["this"]["volume_ml"] == pytest.approx((sphere_voxels - middle) * 2 / 1000, abs=1e-3)
    assert data["change"]["volume_ml"] == pytest.approx(-middle * 2 / 1000, abs=2e-3)
    assert data["change"]["volume_percent"] == pytest.approx(-100 * middle / sphere_voxels, abs=0.1)
    # The longest axial diameter moves to a neighbouring, smaller slice: it shrinks.
    assert data["change"]["diameter_mm"] < 0

    outsider = Client()
    outsider.force_login(world.outsider)
    assert outsider.get(url).status_code == 404
    foreign = store_ct_with_sphere(
        PatientFactory(institution=world.institution, teams=[world.team])
    )
    wrong = _url(
        "viewer-mask-change",
        world,
        follow,
        mask_id=follow_id,
        other_series_id=foreign.public_id,
        other_mask_id=baseline_id,
    )
    assert member_client.get(wrong).status_code == 404  # another patient's series
