"""Rigid registration recovers a known rotation and shift, and brings STS_001's MR onto its CT."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from imaging.dicom.processing import resample_to_reference
from imaging.dicom.registration import (
    acquired_mask,
    foreground_mask,
    register_rigid,
    resample_onto,
)
from imaging.dicom.volume import Volume
from tests.shared_data import shared_data


def _phantom() -> Volume:
    """Three smooth ellipsoids of different intensity: no symmetry to fall into."""
    z, y, x = np.mgrid[0:48, 0:64, 0:64].astype(float)
    array = np.zeros((48, 64, 64), np.float32)
    for centre, radii, value in [
        ((24, 32, 32), (14, 20, 18), 100),
        ((20, 28, 40), (5, 6, 4), 300),
        ((30, 36, 22), (4, 5, 7), 200),
    ]:
        inside = sum(((c - m) / r) ** 2 for c, m, r in zip((z, y, x), centre, radii, strict=True))
        array[inside <= 1] = value
    return Volume(
        ndimage.gaussian_filter(array, 1).astype(np.float32), (3.0, 2.0, 2.0), (-60.0, -60.0, -70.0)
    )


def test_known_rigid_motion_is_recovered_within_a_millimetre_and_a_degree():
    fixed = _phantom()
    truth = sitk.Euler3DTransform()
    truth.SetCenter(fixed.index_to_patient([[32, 32, 24]])[0].tolist())
    truth.SetRotation(*np.radians([3.0, -2.0, 5.0]))
    truth.SetTranslation((4.0, -3.0, 2.0))
    # moving(p) = fixed(truth^-1(p)); the registration (fixed -> moving points) should find truth.
    # Inverted contrast, as between modalities: mutual information does not care.
    moved = resample_to_reference(fixed, fixed, transform=truth.GetInverse())
    moving = moved.with_array((1000 - 2 * moved.array).astype(np.float32))

    result = register_rigid(fixed, moving)

    points = fixed.index_to_patient(
        np.array([[16, 16, 12], [48, 48, 36], [32, 32, 24], [16, 48, 36]])
    )
    errors = [
        np.linalg.norm(
            np.subtract(
                result.transform.TransformPoint(p.tolist()), truth.TransformPoint(p.tolist())
            )
        )
        for p in points
    ]
    assert max(errors) < 1.0
    found = np.array(result.transform.GetMatrix()).reshape(3, 3)
    expected = np.array(truth.GetMatrix()).reshape(3, 3)
    residual = found @ expected.T
    angle = np.degrees(np.arccos(np.clip((np.trace(residual) - 1) / 2, -1, 1)))
    assert angle < 1.0
    assert result.resampled.shape == fixed.shape
    inside = fixed.array > 50
    # resampled moving is back in register: its inverted contrast correlates with fixed
    assert np.corrcoef(result.resampled.array[inside], fixed.array[inside])[0, 1] < -0.95


# --- STS_001: a real MR onto its CT, judged by bone ------------------------------------------
#
# The IBSI STS_001 NIfTI files put CT, MR and PET in one patient coordinate system, and their
# tumour masks are the same voxels (a copied contour, so they say nothing about where the MR's
# anatomy lies). Only the CT exists as DICOM here, so no Frame of Reference UID can vouch for
# the MR either. The external reference is the femoral shaft, a rigid structure segmented
# independently in each image: its centre on each axial slice (CT: bone above 300 HU; MR: the
# dark cortical ring, filled). In the files as shipped the CT's femur lies ~9 mm from the MR's.

STS = ("ibsi_validation_sts_001", "nifti", "STS_001")


def _sts(name: str, modality: str) -> Volume:
    path = shared_data(*STS, f"{name}.nii.gz")
    return Volume.from_sitk(sitk.ReadImage(str(path)), modality=modality)


def _femur_centres(
    volume: Volume, bone: Callable[[np.ndarray], np.ndarray], seed_xy: tuple[int, int]
) -> np.ndarray:
    """LPS centres of the femur's filled cross-section, slice by slice, following the component
    (250-1500 mm2) nearest the previous slice's centre from `seed_xy` (x, y voxel indices)."""
    pixel_mm2 = volume.spacing[1] * volume.spacing[2]
    previous, centres = np.array(seed_xy, float), []
    for k in range(volume.shape[0]):
        labels, count = ndimage.label(ndimage.binary_fill_holes(bone(volume.array[k])))
        found = []
        for label in range(1, count + 1):
            component = labels == label
            if 250 <= component.sum() * pixel_mm2 <= 1500:
                centre = np.argwhere(component).mean(axis=0)[::-1]  # (x, y)
                found.append((float(np.linalg.norm(centre - previous)), centre))
        if not found or min(found, key=lambda f: f[0])[0] > 15:
            continue
        previous = min(found, key=lambda f: f[0])[1]
        centres.append(volume.index_to_patient(np.array([[*previous, k]]))[0])
    return np.array(centres)


def _distance_to_line(point: np.ndarray, line: np.ndarray) -> float:
    best = np.inf
    for a, b in itertools.pairwise(line):
        t = np.clip(np.dot(point - a, b - a) / np.dot(b - a, b - a), 0, 1)
        best = min(best, float(np.linalg.norm(a + t * (b - a) - point)))
    return best


def test_sts001_mr_registers_onto_the_ct_femur_within_a_few_millimetres():
    ct, mr = _sts("CT_image", "CT"), _sts("MR_T1_image", "MR")
    ct_femur = _femur_centres(ct, lambda s: s > 300, (160, 20))[14:38]  # the shaft
    mr_femur = _femur_centres(mr, lambda s: (s > 0) & (s < 250), (136, 5))
    assert len(ct_femur) == 24
    assert len(mr_femur) > 30
    start = [_distance_to_line(p, mr_femur) for p in ct_femur]
    assert np.median(start) > 7  # the reference sees the misalignment the files ship with

    # The fused display's settings (imaging/fusion.py RIGID_SETTINGS)
    result = register_rigid(ct, mr, sampling_fraction=0.5, max_samples=100_000)

    moved = [
        _distance_to_line(np.array(result.transform.TransformPoint(p.tolist())), mr_femur)
        for p in ct_femur
    ]
    assert np.median(moved) < 3.0
    assert max(moved) < 5.0
    assert result.max_displacement_mm < 25  # no drift (it used to slide ~150 mm)
    assert max(abs(a) for a in result.rotation_deg) < 3


def test_padding_at_the_minimum_touching_the_border_is_outside_the_acquired_field():
    array = np.full((3, 6, 6), 50.0, np.float32)
    array[:, :2, :2] = 0  # a zero-filled corner, as a rotated resampling leaves
    array[1, 3, 3] = 0  # tissue that happens to be at the minimum, inside
    acquired = acquired_mask(Volume(array, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
    assert not acquired[:, :2, :2].any()
    assert acquired[1, 3, 3]
    assert acquired.sum() == array.size - 12


def test_ct_foreground_is_the_patient_above_air():
    array = np.array([[[-1000.0, -500.0, -399.0, 40.0]]], np.float32)
    volume = Volume(array, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), modality="CT")
    assert foreground_mask(volume).tolist() == [[[False, False, True, True]]]


def test_resampling_onto_the_fixed_grid_leaves_nan_outside_the_moving_image():
    moving = Volume(np.full((2, 4, 4), 7.0, np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    fixed = Volume(np.zeros((2, 4, 8), np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    out = resample_onto(moving, fixed)
    assert out.shape == fixed.shape
    assert np.all(out.array[:, :, :4] == 7.0)
    assert np.all(np.isnan(out.array[:, :, 5:]))
