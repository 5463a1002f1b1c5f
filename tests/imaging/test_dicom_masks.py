"""Masks onto a reference grid: RTSTRUCT rasterisation against the shipped NIfTI masks, the
even-odd rule on polygons with a known area, SEG export and import, NIfTI checks."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from imaging.dicom.masks import (
    MaskError,
    dice,
    mask_to_seg,
    nifti_to_mask,
    polygon_to_mask,
    rtstruct_roi_names,
    rtstruct_to_mask,
    seg_to_mask,
)
from imaging.dicom.synthetic import synthetic_series
from imaging.dicom.volume import read_series_dir, volume_from_datasets, volume_from_dir
from tests.shared_data import shared_data


@pytest.fixture(scope="module")
def phantom():
    root = shared_data("ibsi", "ibsi_1_ct_radiomics_phantom")
    datasets = read_series_dir(root / "dicom" / "image")
    rtstruct = pydicom.dcmread(root / "dicom" / "mask" / "DCM_RS_00060.dcm")
    return root, datasets, volume_from_datasets(datasets), rtstruct


def test_ibsi_phantom_gtv_rasterises_to_the_shipped_nifti_mask(phantom):
    root, _, volume, rtstruct = phantom
    assert rtstruct_roi_names(rtstruct) == ["GTV-1"]
    mask = rtstruct_to_mask(rtstruct, volume, "GTV-1")
    reference = nifti_to_mask(root / "nifti" / "mask" / "mask.nii.gz", volume)
    # Issue 3 asks for Dice >= 0.98; centre-in-polygon rasterisation reproduces it voxel for
    # voxel (Dice 1.0, 125,256 voxels) at the time of writing.
    assert dice(mask, reference) >= 0.98
    assert abs(int(mask.sum()) - int(reference.sum())) <= 0.01 * reference.sum()


def test_sts_001_gtv_rasterises_to_the_shipped_nifti_mask():
    root = shared_data("ibsi_validation_sts_001")
    volume = volume_from_dir(root / "dicom" / "STS_001" / "CT" / "image")
    rtstruct = pydicom.dcmread(root / "dicom" / "STS_001" / "CT" / "mask" / "RS.dcm")
    assert rtstruct_roi_names(rtstruct) == ["GTV_Mass_CT"]
    mask = rtstruct_to_mask(rtstruct, volume, "GTV_Mass_CT")
    reference = nifti_to_mask(root / "nifti" / "STS_001" / "CT_mask.nii.gz", volume)
    assert reference.sum() == 117_145  # the README's voxel count
    assert dice(mask, reference) >= 0.98


def test_polygon_fills_exactly_the_voxel_centres_inside():
    # square from 1.5 to 4.5 in x and 0.5 to 2.5 in y holds centres x 2,3,4 and y 1,2
    mask = polygon_to_mask(np.array([[1.5, 0.5], [4.5, 0.5], [4.5, 2.5], [1.5, 2.5]]), (5, 6))
    expected = np.zeros((5, 6), bool)
    expected[1:3, 2:5] = True
    np.testing.assert_array_equal(mask, expected)


def test_polygon_area_of_a_disc_matches_pi_r_squared():
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    disc = np.c_[50 + 30 * np.cos(angles), 50 + 30 * np.sin(angles)]
    assert polygon_to_mask(disc, (100, 100)).sum() == pytest.approx(np.pi * 30**2, rel=0.01)


def _rtstruct(volume_datasets, contours_mm: list[np.ndarray], name: str = "Lesion") -> Dataset:
    ds = Dataset()
    ds.Modality = "RTSTRUCT"
    ds.FrameOfReferenceUID = volume_datasets[0].FrameOfReferenceUID
    roi = Dataset()
    roi.ROINumber = 7
    roi.ROIName = name
    ds.StructureSetROISequence = Sequence([roi])
    items = []
    for points in contours_mm:
        contour = Dataset()
        contour.ContourGeometricType = "CLOSED_PLANAR"
        contour.NumberOfContourPoints = len(points)
        contour.ContourData = [float(v) for v in np.asarray(points).ravel()]
        items.append(contour)
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 7
    roi_contour.ContourSequence = Sequence(items)
    ds.ROIContourSequence = Sequence([roi_contour])
    return ds


def _square_mm(x0, y0, x1, y1, z):
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])


def test_contour_inside_another_on_the_same_slice_is_a_hole():
    datasets = synthetic_series(np.zeros((3, 20, 20)), spacing=(2.0, 1.0, 1.0), origin=(0, 0, 0))
    volume = volume_from_datasets(datasets)
    outer = _square_mm(1.5, 1.5, 11.5, 11.5, 2.0)  # centres 2..11 -> 10x10
    inner = _square_mm(4.5, 4.5, 8.5, 8.5, 2.0)  # centres 5..8 -> 4x4 hole
    mask = rtstruct_to_mask(_rtstruct(datasets, [outer, inner]), volume, "Lesion")
    assert mask[1].sum() == 100 - 16
    assert not mask[1, 6, 6]
    assert mask[0].sum() == 0
    assert mask[2].sum() == 0


def test_unknown_roi_names_the_rois_present(phantom):
    _, _, volume, rtstruct = phantom
    with pytest.raises(MaskError, match="GTV-1"):
        rtstruct_to_mask(rtstruct, volume, "PTV")


def test_rtstruct_on_another_frame_of_reference_is_refused():
    datasets = synthetic_series(np.zeros((2, 8, 8)), origin=(0, 0, 0))
    rtstruct = _rtstruct(datasets, [_square_mm(1, 1, 3, 3, 0.0)])
    rtstruct.FrameOfReferenceUID = "1.2.3"
    with pytest.raises(MaskError, match="frame of reference"):
        rtstruct_to_mask(rtstruct, volume_from_datasets(datasets), "Lesion")


def test_mask_exported_as_seg_reads_back_identically(phantom):
    _, datasets, volume, rtstruct = phantom
    mask = rtstruct_to_mask(rtstruct, volume, "GTV-1")
    seg = mask_to_seg(mask, datasets, "GTV-1")
    assert seg.Modality == "SEG"
    buffer = io.BytesIO()
    seg.save_as(buffer)
    reread = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(seg_to_mask(reread, volume, "GTV-1"), mask)
    np.testing.assert_array_equal(seg_to_mask(reread, volume, 1), mask)
    with pytest.raises(MaskError, match="not in the SEG"):
        seg_to_mask(reread, volume, "Liver")


def test_seg_export_refuses_a_mask_of_the_wrong_shape():
    datasets = synthetic_series(np.zeros((2, 8, 8)))
    with pytest.raises(MaskError, match="mask shape"):
        mask_to_seg(np.zeros((3, 8, 8), bool), datasets, "Lesion")


def test_nifti_mask_on_another_grid_is_refused(phantom, tmp_path):
    _, _, volume, _ = phantom
    shifted = volume.with_array(np.zeros(volume.shape, np.uint8))
    shifted.origin = (volume.origin[0] + 5.0, volume.origin[1], volume.origin[2])
    sitk.WriteImage(shifted.to_sitk(), str(tmp_path / "shifted.nii.gz"))
    with pytest.raises(MaskError, match="origin"):
        nifti_to_mask(tmp_path / "shifted.nii.gz", volume)
    small = volume_from_datasets(synthetic_series(np.zeros((2, 4, 4))))
    sitk.WriteImage(small.to_sitk(), str(tmp_path / "small.nii.gz"))
    with pytest.raises(MaskError, match="shape"):
        nifti_to_mask(tmp_path / "small.nii.gz", volume)


def test_fractional_seg_is_thresholded_at_half_and_placed_by_position():
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    datasets = synthetic_series(np.zeros((4, 6, 6)), spacing=(2.0, 1.0, 1.0))
    volume = volume_from_datasets(datasets)
    fractions = np.zeros((4, 6, 6), np.float32)
    fractions[2, 1:3, 1:4] = 0.8  # inside
    fractions[2, 4, 4] = 0.3  # below half: outside
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=fractions,
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        segment_descriptions=[
            hd.seg.SegmentDescription(
                segment_number=1,
                segment_label="Lesion",
                segmented_property_category=codes.SCT.Tissue,
                segmented_property_type=codes.SCT.Tumor,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            )
        ],
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
    )
    buffer = io.BytesIO()
    seg.save_as(buffer)
    mask = seg_to_mask(pydicom.dcmread(io.BytesIO(buffer.getvalue())), volume)
    expected = np.zeros((4, 6, 6), bool)
    expected[2, 1:3, 1:4] = True
    np.testing.assert_array_equal(mask, expected)
