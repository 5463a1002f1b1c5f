"""Series -> Volume: geometry against the NIfTI versions shipped with the reference data, and
every assembly irregularity on synthetic series with a known answer."""

from __future__ import annotations

import random

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from imaging.dicom.synthetic import enhanced_from_series, synthetic_series
from imaging.dicom.volume import Volume, VolumeAssemblyError, volume_from_datasets, volume_from_dir
from tests.shared_data import shared_data


def _assert_equals_nifti(volume: Volume, nifti_path) -> None:
    nifti = nib.load(nifti_path)
    # nibabel arrays are [x, y, z] and the affine maps them to RAS; Volume is [z, y, x] in LPS.
    np.testing.assert_array_equal(volume.array, np.asarray(nifti.dataobj).T)
    np.testing.assert_allclose(volume.affine(ras=True), nifti.affine, atol=1e-4)
    np.testing.assert_allclose(volume.spacing[::-1], nifti.header.get_zooms(), atol=1e-5)


def test_ibsi_ct_phantom_series_equals_the_shipped_nifti():
    phantom = shared_data("ibsi", "ibsi_1_ct_radiomics_phantom")
    volume = volume_from_dir(phantom / "dicom" / "image")
    assert volume.shape == (60, 201, 204)
    assert volume.modality == "CT"
    assert volume.warnings == []
    _assert_equals_nifti(volume, phantom / "nifti" / "image" / "phantom.nii.gz")


def test_sts_001_ct_series_equals_the_shipped_nifti():
    sts = shared_data("ibsi_validation_sts_001")
    volume = volume_from_dir(sts / "dicom" / "STS_001" / "CT" / "image")
    assert volume.shape == (59, 202, 198)
    _assert_equals_nifti(volume, sts / "nifti" / "STS_001" / "CT_image.nii.gz")


def test_slice_order_comes_from_positions_not_file_order_or_instance_number():
    stored = np.arange(6)[:, None, None] * np.ones((6, 3, 4), dtype=np.int16)
    datasets = synthetic_series(stored)
    shuffled = datasets[:]
    random.Random(3).shuffle(shuffled)
    volume = volume_from_datasets(shuffled)
    np.testing.assert_array_equal(volume.array[:, 0, 0], np.arange(6) - 1024.0)
    assert volume.origin == (-100.0, -120.0, 30.0)


def test_rescale_slope_and_intercept_are_applied():
    stored = np.full((2, 2, 2), 100, dtype=np.int16)
    volume = volume_from_datasets(synthetic_series(stored, slope=2.5, intercept=-1000))
    np.testing.assert_array_equal(volume.array, np.full((2, 2, 2), -750.0))


def test_spacing_comes_from_positions_not_slice_thickness():
    datasets = synthetic_series(np.zeros((4, 2, 2)), spacing=(2.5, 0.7, 0.8), slice_thickness=5.0)
    volume = volume_from_datasets(datasets)
    assert volume.spacing == pytest.approx((2.5, 0.7, 0.8))
    assert any("SliceThickness" in w for w in volume.warnings)


def test_sagittal_series_keeps_direction_and_voxel_positions():
    # x runs anterior->posterior (+y), y runs head->feet (-z): the normal row x column is -x
    orientation = (0, 1, 0, 0, 0, -1)
    datasets = synthetic_series(
        np.zeros((3, 4, 5)), spacing=(3.0, 1.0, 2.0), orientation=orientation
    )
    volume = volume_from_datasets(datasets[::-1])
    normal = np.cross([0, 1, 0], [0, 0, -1])
    np.testing.assert_allclose(volume.direction, [[0, 1, 0], [0, 0, -1], normal])
    # voxel [k=2, j=1, i=3] = origin + 3*2 mm along rows + 1*1 mm along columns + 2*3 mm normal
    expected = (
        np.array([-100, -120, 30]) + 6 * np.array([0, 1, 0]) + np.array([0, 0, -1]) + 6 * normal
    )
    np.testing.assert_allclose(volume.index_to_patient([[3, 1, 2]])[0], expected)


def test_enhanced_multiframe_object_gives_the_same_volume_as_its_single_frames():
    stored = np.random.default_rng(0).integers(0, 2000, (5, 6, 7)).astype(np.int16)
    datasets = synthetic_series(stored, spacing=(1.25, 0.5, 0.6))
    single = volume_from_datasets(datasets)
    multi = volume_from_datasets([enhanced_from_series(datasets[::-1])])
    np.testing.assert_array_equal(multi.array, single.array)
    assert multi.spacing == pytest.approx(single.spacing)
    assert multi.origin == pytest.approx(single.origin)


def test_missing_slice_is_reported_as_a_gap():
    datasets = synthetic_series(np.zeros((6, 2, 2)))
    del datasets[3]
    with pytest.raises(VolumeAssemblyError, match="gap: about 1 slice"):
        volume_from_datasets(datasets)


def test_duplicate_positions_are_reported():
    datasets = synthetic_series(np.zeros((4, 2, 2)))
    duplicate = synthetic_series(np.zeros((1, 2, 2)))[0]
    duplicate.SeriesInstanceUID = datasets[0].SeriesInstanceUID
    with pytest.raises(VolumeAssemblyError, match="duplicate positions"):
        volume_from_datasets([*datasets, duplicate])


def test_uneven_spacing_beyond_ten_percent_is_an_error():
    datasets = synthetic_series(np.zeros((5, 2, 2)), spacing=(2.0, 1.0, 1.0))
    datasets[4].ImagePositionPatient = [-100.0, -120.0, 30.0 + 6.0 + 3.0]
    with pytest.raises(VolumeAssemblyError, match="uneven spacing"):
        volume_from_datasets(datasets)


def test_small_spacing_jitter_is_a_warning_and_the_mean_spacing_is_used():
    datasets = synthetic_series(np.zeros((3, 2, 2)), spacing=(2.0, 1.0, 1.0))
    datasets[2].ImagePositionPatient = [-100.0, -120.0, 30.0 + 4.1]
    volume = volume_from_datasets(datasets)
    assert volume.spacing[0] == pytest.approx(2.05)
    assert any("uneven spacing" in w for w in volume.warnings)


def test_mixed_orientations_are_reported():
    datasets = synthetic_series(np.zeros((3, 2, 2)))
    datasets[1].ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    with pytest.raises(VolumeAssemblyError, match="mixed orientations"):
        volume_from_datasets(datasets)


def test_mixed_series_are_reported():
    datasets = synthetic_series(np.zeros((3, 2, 2)))
    datasets[2].SeriesInstanceUID = "1.2.3.4"
    with pytest.raises(VolumeAssemblyError, match="mixed series"):
        volume_from_datasets(datasets)


def test_mixed_shapes_are_reported():
    datasets = synthetic_series(np.zeros((3, 2, 2)))
    other = synthetic_series(np.zeros((1, 3, 2)), origin=(-100.0, -120.0, 36.0))[0]
    other.SeriesInstanceUID = datasets[0].SeriesInstanceUID
    with pytest.raises(VolumeAssemblyError, match="mixed shapes"):
        volume_from_datasets([*datasets, other])


def test_gantry_tilt_drift_is_reported():
    datasets = synthetic_series(np.zeros((3, 2, 2)))
    for k, ds in enumerate(datasets):
        ds.ImagePositionPatient = [-100.0, -120.0 + 0.5 * k, 30.0 + 2.0 * k]
    with pytest.raises(VolumeAssemblyError, match="not stacked along their normal"):
        volume_from_datasets(datasets)


def test_instance_without_position_is_reported():
    datasets = synthetic_series(np.zeros((2, 2, 2)))
    del datasets[0].ImagePositionPatient
    with pytest.raises(VolumeAssemblyError, match="lacks ImagePositionPatient"):
        volume_from_datasets(datasets)


def test_single_pydicom_ct_slice_becomes_a_one_slice_volume_in_hu():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    volume = volume_from_datasets([ds])
    assert volume.shape == (1, 128, 128)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(volume.array[0], expected)
    assert volume.spacing[0] == pytest.approx(float(ds.SliceThickness))
    assert any("single slice" in w for w in volume.warnings)


def test_volume_survives_a_simpleitk_round_trip():
    datasets = synthetic_series(np.arange(24).reshape(2, 3, 4), orientation=(0, 1, 0, 0, 0, -1))
    volume = volume_from_datasets(datasets)
    back = Volume.from_sitk(volume.to_sitk())
    np.testing.assert_array_equal(back.array, volume.array)
    np.testing.assert_allclose(back.direction, volume.direction)
    np.testing.assert_allclose(back.affine(), volume.affine())
    index = np.array([[3.0, 2.0, 1.0]])
    image = volume.to_sitk()
    np.testing.assert_allclose(
        volume.index_to_patient(index)[0],
        image.TransformContinuousIndexToPhysicalPoint((3.0, 2.0, 1.0)),
    )
    np.testing.assert_allclose(volume.patient_to_index(volume.index_to_patient(index)), index)


def test_directory_without_images_is_an_assembly_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not dicom")
    with pytest.raises(VolumeAssemblyError, match="no DICOM image instances"):
        volume_from_dir(tmp_path)


def test_directory_with_two_series_asks_for_one(tmp_path):
    for n, ds in enumerate(
        [*synthetic_series(np.zeros((2, 2, 2))), *synthetic_series(np.zeros((2, 2, 2)))]
    ):
        ds.save_as(tmp_path / f"{n}.dcm", enforce_file_format=True)
    with pytest.raises(VolumeAssemblyError, match="2 image series"):
        volume_from_dir(tmp_path)


def test_integer_dtype_is_refused_when_rescaling_is_fractional():
    datasets = synthetic_series(np.ones((2, 2, 2)), slope=0.25, intercept=0)
    with pytest.raises(VolumeAssemblyError, match="fractional rescale"):
        volume_from_datasets(datasets, dtype=np.int16)
    exact = volume_from_datasets(synthetic_series(np.ones((2, 2, 2))), dtype=np.int16)
    assert exact.array.dtype == np.int16
    assert exact.array[0, 0, 0] == -1023


def test_oblique_volume_written_by_simpleitk_reads_back_in_nibabel_with_the_ras_affine(tmp_path):
    import SimpleITK as sitk

    c, s = np.cos(np.radians(20)), np.sin(np.radians(20))
    orientation = (c, s, 0.0, 0.0, 0.0, -1.0)  # coronal-ish, rotated 20 degrees about z
    datasets = synthetic_series(np.arange(60).reshape(3, 4, 5), orientation=orientation)
    volume = volume_from_datasets(datasets)
    sitk.WriteImage(volume.to_sitk(), str(tmp_path / "oblique.nii.gz"))
    nifti = nib.load(tmp_path / "oblique.nii.gz")
    np.testing.assert_allclose(nifti.affine, volume.affine(ras=True), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(nifti.dataobj).T, volume.array)
    # RAS world point of voxel (i=4, j=1, k=2) is the LPS point with x and y negated
    lps = volume.index_to_patient([[4, 1, 2]])[0]
    np.testing.assert_allclose(
        nifti.affine @ [4, 1, 2, 1], [-lps[0], -lps[1], lps[2], 1], atol=1e-4
    )


def test_truncated_pixel_data_is_an_assembly_error_not_a_crash():
    datasets = synthetic_series(np.zeros((3, 4, 4)))
    datasets[1].PixelData = datasets[1].PixelData[:10]
    with pytest.raises(VolumeAssemblyError, match="pixel data cannot be decoded"):
        volume_from_datasets(datasets)
