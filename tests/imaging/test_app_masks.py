"""Stored masks (imaging/services/masks.py): NIfTI import against the series' grid, seed
segmentation, drawing, delete, and export as DICOM SEG and NIfTI, read back independently."""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from django.core.files.storage import default_storage

from core.models import AuditEvent
from imaging import viewer, viewer_series
from imaging.dicom import seg_to_mask
from imaging.dicom.segment import segment_from_seed
from imaging.models import Mask, MaskKind, Series
from imaging.services import masks as service
from imaging.services.masks import MaskInputError, SeedParameters
from tests.conftest import World
from tests.imaging import mask_data
from tests.imaging.mask_data import CENTRE, SPHERE_ML, store_ct_with_sphere


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


@pytest.fixture
def series(world: World) -> Series:
    return store_ct_with_sphere(world.patient)


def _stored_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / service.STORAGE_DIR
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _nifti(array: np.ndarray, *, spacing: Any, origin: Any, direction: Any = None) -> bytes:
    """A NIfTI written by SimpleITK from an LPS [z, y, x] array, as another tool would."""
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing((spacing[2], spacing[1], spacing[0]))
    image.SetOrigin(tuple(float(v) for v in origin))
    if direction is not None:
        image.SetDirection(direction)
    path = Path(default_storage.path("")).parent / "upload-test.nii.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), True)  # noqa: FBT003
    return path.read_bytes()


def _sphere_nifti(**changes: Any) -> bytes:
    geometry = {"spacing": mask_data.SPACING, "origin": mask_data.ORIGIN, **changes}
    array = changes.pop("array", mask_data.sphere())
    geometry.pop("array", None)
    return _nifti(array, **geometry)


def _import(world: World, series: Series, data: bytes, filename: str = "m.nii.gz") -> Mask:
    return service.mask_create_from_nifti(
        actor=world.member,
        patient=world.patient,
        series=series,
        data=data,
        filename=filename,
        label="GTV nifti",
    )


# --- NIfTI import -------------------------------------------------------------------------


def test_a_nifti_on_the_series_grid_is_stored_voxel_for_voxel(
    world: World, series: Series, settings: Any
) -> None:
    mask = _import(world, series, _sphere_nifti())
    assert mask.kind == MaskKind.NIFTI
    assert mask.voxel_count == int(mask_data.sphere().sum())
    assert mask.volume_key == viewer_series.volume_key(series)
    voxels = service.mask_voxels(mask)
    np.testing.assert_array_equal(voxels, mask_data.sphere())
    assert mask.sha256 == viewer.voxels_sha256(mask_data.sphere())
    assert len(_stored_files(settings)) == 1
    [event] = AuditEvent.objects.filter(object_type=service.AUDIT_OBJECT)
    assert (event.action, event.object_id) == ("create", str(mask.public_id))
    assert event.patient_id == world.patient.pk
    assert event.detail == {"format": "nifti"}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"origin": (-20.0, -20.0, 52.0)}, "origin"),
        ({"spacing": (2.0, 1.0, 1.1)}, "spacing"),
        ({"array": np.zeros((16, 40, 39), dtype=bool)}, "shape"),
        ({"direction": (1, 0, 0, 0, -1, 0, 0, 0, -1)}, "orientation"),
    ],
)
def test_a_nifti_on_another_grid_is_refused_naming_the_mismatch_and_nothing_is_stored(
    changes: dict[str, Any], named: str, world: World, series: Series, settings: Any
) -> None:
    with pytest.raises(MaskInputError, match=named):
        _import(world, series, _sphere_nifti(**changes))
    assert Mask.objects.count() == 0
    assert _stored_files(settings) == []
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"not a nifti at all", "m.nii", "not a readable NIfTI"),
        (b"plain", "m.nii.gz", "not gzip"),
        (b"\x1f\x8b", "m.nii.gz", "not a readable NIfTI"),
        (b"anything", "mask.png", "ends in .nii"),
    ],
)
def test_unreadable_uploads_are_refused_clearly(
    data: bytes, filename: str, message: str, world: World, series: Series, settings: Any
) -> None:
    with pytest.raises(MaskInputError, match=message) as caught:
        _import(world, series, data, filename)
    assert tempfile.gettempdir() not in str(caught.value)  # no server paths in the message
    assert Mask.objects.count() == 0
    assert _stored_files(settings) == []


def test_an_oversize_nifti_is_refused_before_it_is_read(
    world: World, series: Series, settings: Any
) -> None:
    settings.IMAGING_MAX_MASK_UPLOAD_BYTES = 100
    with pytest.raises(MaskInputError, match="larger than the limit"):
        _import(world, series, _sphere_nifti())
    assert Mask.objects.count() == 0


def test_an_empty_nifti_mask_is_refused(world: World, series: Series) -> None:
    with pytest.raises(MaskInputError, match="empty"):
        _import(world, series, _sphere_nifti(array=np.zeros(mask_data.SHAPE, dtype=bool)))


def test_a_failure_after_the_file_is_written_leaves_no_file_and_no_row(
    world: World, series: Series, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_audit(**kwargs: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(service, "audit_record", broken_audit)
    with pytest.raises(RuntimeError):
        _import(world, series, _sphere_nifti())
    assert Mask.objects.count() == 0
    assert _stored_files(settings) == []


# --- seed segmentation --------------------------------------------------------------------


def _seed(world: World, series: Series, **parameters: Any) -> Mask:
    return service.mask_create_from_seed(
        actor=world.member,
        patient=world.patient,
        series=series,
        parameters=SeedParameters(seed_zyx=CENTRE, **parameters),
    )


def test_seed_segmentation_stores_the_library_result_and_finds_the_sphere(
    world: World, series: Series
) -> None:
    mask = _seed(world, series)
    volume = viewer_series.series_volume(series)
    expected = segment_from_seed(volume, CENTRE)
    voxels = service.mask_voxels(mask)
    np.testing.assert_array_equal(voxels, expected.mask)
    # The analytic sphere (4/3 pi r^3 = 2.145 ml) within 5 %: voxelisation of an 8 mm sphere on
    # 2 x 1 x 1 mm voxels; the digital sphere itself is found exactly.
    volume_ml = voxels.sum() * 2.0 / 1000
    assert volume_ml == pytest.approx(SPHERE_ML, rel=0.05)
    np.testing.assert_array_equal(voxels, mask_data.sphere())
    assert mask.kind == MaskKind.SEED
    assert mask.edited is False
    assert mask.parameters["seed_zyx"] == list(CENTRE)
    # auto range: mean 40 +/- max(3 SD = 0, 100/2) around the seed
    assert mask.parameters["low"] == pytest.approx(-10, abs=0.01)
    assert mask.parameters["high"] == pytest.approx(90, abs=0.01)
    assert mask.parameters["window_mm"] == 60.0
    assert mask.parameters["touches_window"] is False


def test_a_given_hu_range_and_a_small_window_are_used_and_a_leak_is_flagged(
    world: World, series: Series
) -> None:
    # -200..100 HU takes the background too: the region fills the 10 mm window and says so.
    mask = _seed(world, series, low=-200.0, high=100.0, window_mm=10.0)
    voxels = service.mask_voxels(mask)
    assert mask.parameters["range_given"] is True
    assert mask.parameters["touches_window"] is True
    zs, ys, xs = np.nonzero(voxels)
    assert (zs.max() - zs.min() + 1, ys.max() - ys.min() + 1) == (7, 11)  # ceil(5/2)*2+1, 5*2+1


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"seed_zyx": (99, 0, 0)}, "outside the volume"),
        ({"seed_zyx": (0, 0, 0), "low": 0.0, "high": 50.0}, "outside the range"),
        ({"seed_zyx": CENTRE, "window_mm": 1000.0}, "window"),
        ({"seed_zyx": CENTRE, "low": 10.0}, "both low and high"),
    ],
)
def test_bad_seeds_and_parameters_are_refused_and_store_nothing(
    parameters: dict[str, Any], message: str, world: World, series: Series, settings: Any
) -> None:
    with pytest.raises(MaskInputError, match=message):
        service.mask_create_from_seed(
            actor=world.member,
            patient=world.patient,
            series=series,
            parameters=SeedParameters(**parameters),
        )
    assert Mask.objects.count() == 0
    assert _stored_files(settings) == []


# --- drawing -----------------------------------------------------------------------------


def test_run_lengths_round_trip_and_bad_runs_are_refused() -> None:
    rng = np.random.default_rng(7)
    plane = rng.random((40, 40)) > 0.6
    plane[0, 0] = True  # starts inside: a leading 0 run
    runs = service.rle_encode(plane)
    assert runs[0] == 0
    np.testing.assert_array_equal(service.rle_decode(runs, 1600).reshape(40, 40), plane)
    assert service.rle_encode(np.zeros((2, 3), bool)) == [6]
    with pytest.raises(MaskInputError, match="cover"):
        service.rle_decode([5, 5], 1600)
    with pytest.raises(MaskInputError, match="non-negative"):
        service.rle_decode([1600, -1, 1], 1600)
    with pytest.raises(MaskInputError, match="out"):
        service.decode_slices([{"z": 16, "runs": [1600]}], mask_data.SHAPE)


def test_a_drawing_from_nothing_holds_exactly_the_drawn_voxels(
    world: World, series: Series
) -> None:
    plane = np.zeros((40, 40), dtype=bool)
    plane[10:15, 12:20] = True
    mask = service.mask_save_drawing(
        actor=world.member, patient=world.patient, series=series, slices={3: plane, 4: plane}
    )
    expected = np.zeros(mask_data.SHAPE, dtype=bool)
    expected[3] = expected[4] = plane
    np.testing.assert_array_equal(service.mask_voxels(mask), expected)
    assert (mask.kind, mask.edited, mask.voxel_count) == (MaskKind.DRAWN, False, 80)
    assert mask.parameters == {"edited_slices": [3, 4]}


def test_editing_a_seed_mask_changes_exactly_the_edited_slices_and_makes_a_new_version(
    world: World, series: Series, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mask = _seed(world, series)
    before = service.mask_voxels(mask).copy()
    old_sha, old_file = mask.sha256, mask.storage_name
    edited = before[CENTRE[0]].copy()
    edited[:, : CENTRE[2]] = False  # erase the left half of the middle slice
    edited[0:3, 0:3] = True  # and paint a corner
    with django_capture_on_commit_callbacks(execute=True):
        updated = service.mask_save_drawing(
            actor=world.member,
            patient=world.patient,
            series=series,
            slices={CENTRE[0]: edited},
            mask=mask,
        )
    after = service.mask_voxels(updated)
    changed = np.argwhere(after != before)
    assert set(changed[:, 0]) == {CENTRE[0]}
    np.testing.assert_array_equal(after[CENTRE[0]], edited)
    expected_changes = int((edited != before[CENTRE[0]]).sum())
    assert len(changed) == expected_changes > 0
    assert updated.public_id == mask.public_id
    assert updated.kind == MaskKind.SEED  # still marked semi-automatic
    assert updated.edited is True
    assert updated.sha256 != old_sha == updated.parameters["edits"][0]["previous_sha256"]
    assert updated.voxel_count == int(after.sum())
    assert not default_storage.exists(old_file)  # the old version's file went on commit
    assert len(_stored_files(settings)) == 1
    actions = list(
        AuditEvent.objects.filter(object_type=service.AUDIT_OBJECT)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update"]


def test_an_edit_that_changes_nothing_or_empties_the_mask_is_refused(
    world: World, series: Series
) -> None:
    mask = _seed(world, series)
    same = service.mask_voxels(mask)[CENTRE[0]].copy()
    with pytest.raises(MaskInputError, match="no voxel"):
        service.mask_save_drawing(
            actor=world.member,
            patient=world.patient,
            series=series,
            slices={CENTRE[0]: same},
            mask=mask,
        )
    empty = {z: np.zeros((40, 40), bool) for z in range(mask_data.SHAPE[0])}
    with pytest.raises(MaskInputError, match="empty"):
        service.mask_save_drawing(
            actor=world.member, patient=world.patient, series=series, slices=empty, mask=mask
        )
    mask.refresh_from_db()
    assert mask.edited is False


# --- listing, delete, export -----------------------------------------------------------------


def test_stored_masks_are_listed_beside_dicom_ones_with_opaque_ids_and_kind_labels(
    world: World, series: Series
) -> None:
    seed = _seed(world, series)
    imported = _import(world, series, _sphere_nifti())
    sources = viewer_series.series_masks(series)
    kinds = {s.id: s.kind for s in sources}
    assert kinds == {seed.public_id.hex: "semi-automatic", imported.public_id.hex: "imported"}
    assert viewer_series.series_dicom_masks(series) == []
    for source in sources:
        assert source.label not in source.id
        volume = viewer_series.series_volume(series)
        key = viewer_series.volume_key(series)
        assert viewer_series.source_mask(key, volume, source).sum() == mask_data.sphere().sum()


def test_a_mask_made_on_other_instances_is_not_shown_on_the_changed_series(
    world: World, series: Series
) -> None:
    from imaging.dicom import MaskError

    mask = _seed(world, series)
    Mask.objects.filter(pk=mask.pk).update(volume_key="0" * 64)
    mask.refresh_from_db()
    [source] = viewer_series.series_masks(series)
    volume = viewer_series.series_volume(series)
    with pytest.raises(MaskError, match="changed"):
        viewer_series.source_mask(viewer_series.volume_key(series), volume, source)


def test_delete_removes_the_row_and_its_file_on_commit(
    world: World, series: Series, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mask = _seed(world, series)
    with django_capture_on_commit_callbacks(execute=True):
        service.mask_delete(actor=world.member, patient=world.patient, mask=mask)
    assert Mask.objects.count() == 0
    assert _stored_files(settings) == []
    event = AuditEvent.objects.filter(object_type=service.AUDIT_OBJECT).latest("id")
    assert (event.action, event.object_id) == ("delete", str(mask.public_id))


def _export(world: World, series: Series, mask: Mask, fmt: str) -> bytes:
    [source] = [s for s in viewer_series.series_masks(series) if s.stored == mask]
    return service.mask_export(
        actor=world.member, patient=world.patient, series=series, source=source, fmt=fmt
    )


def test_seg_export_reads_back_with_highdicom_and_rasterises_to_the_stored_mask(
    world: World, series: Series
) -> None:
    mask = _seed(world, series)
    data = _export(world, series, mask, "seg")
    ds = pydicom.dcmread(io.BytesIO(data))
    seg = hd.seg.Segmentation.from_dataset(ds)
    assert seg.SegmentationType == "BINARY"
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Seed lesion"]
    assert ds.SeriesDescription == "semi-automatic mask"
    # It references the series' instances (the frames name their source images).
    instance_uids = set(series.instances.values_list("sop_instance_uid", flat=True))
    referenced = {
        str(ref.ReferencedSOPInstanceUID)
        for ref in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert referenced == instance_uids
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == series.series_instance_uid
    volume = viewer_series.series_volume(series)
    np.testing.assert_array_equal(seg_to_mask(ds, volume), service.mask_voxels(mask))
    # and highdicom's own reconstruction, by source instance, agrees with it
    ordered = [str(uid) for uid in volume.source_uids]
    frames = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=ordered, segment_numbers=[1], assert_missing_frames_are_empty=True
    )
    np.testing.assert_array_equal(frames[..., 0].astype(bool), service.mask_voxels(mask))
    event = AuditEvent.objects.filter(object_type=service.AUDIT_OBJECT).latest("id")
    assert (event.action, event.detail) == ("export", {"format": "seg"})


def test_nifti_export_round_trips_through_the_import_check(world: World, series: Series) -> None:
    mask = _seed(world, series)
    data = _export(world, series, mask, "nifti")
    again = _import(world, series, data)
    np.testing.assert_array_equal(service.mask_voxels(again), service.mask_voxels(mask))
    assert again.sha256 == mask.sha256


def test_measurements_of_a_stored_mask_match_the_sphere(world: World, series: Series) -> None:
    from imaging.dicom.measure import measure_mask

    mask = _seed(world, series)
    volume = viewer_series.series_volume(series)
    m = measure_mask(volume, service.mask_voxels(mask))
    assert m.volume_ml == pytest.approx(mask.voxel_count * 2.0 / 1000)
    # the central slice is a digital disc of radius 8 voxels: edge-to-edge diameter 17 mm
    assert m.longest_diameter_mm == pytest.approx(17.0, abs=0.6)
    assert m.diameter_slice == CENTRE[0]
    assert math.isclose(m.mean_intensity, mask_data.LESION_HU, abs_tol=1e-3)
