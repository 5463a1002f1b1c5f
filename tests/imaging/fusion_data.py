"""A synthetic CT and a synthetic MR of one phantom, the MR moved by a known rigid motion, stored
the way ingest stores series, for the fused display's tests (and the access matrix).

The phantom, in patient coordinates (LPS mm): a soft-tissue ellipsoid "body" in air holding two
small ellipsoids, a dense one (`HOT_CENTRE`, the "bright sphere" the tests follow) and a less
dense one elsewhere, so that no rotation maps the phantom onto itself. The MR shows the same
anatomy with other contrasts (MR value = a different function of the tissue), on its own grid,
in another frame of reference, moved by `TRUTH`: the anatomy at fixed point p lies at
TRUTH(p) in the MR's coordinates.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from pydicom.uid import generate_uid

from imaging.dicom.synthetic import synthetic_series
from imaging.models import Series, Study
from oncology.models import Patient
from tests.imaging.viewer_data import _store

FIXED_SHAPE = (24, 48, 48)  # z, y, x
FIXED_SPACING = (4.0, 2.0, 2.0)
FIXED_ORIGIN = (-47.0, -47.0, -46.0)  # grid centre at (0, 0, 0)
MOVING_SHAPE = (24, 40, 40)
MOVING_SPACING = (4.0, 2.5, 2.5)
MOVING_ORIGIN = (-48.75, -48.75, -46.0)
HOT_CENTRE = np.array([14.0, -10.0, 6.0])  # LPS mm (x, y, z)
# (centre LPS mm, radii mm, tissue label)
_STRUCTURES = [
    (np.array([0.0, 0.0, 0.0]), np.array([36.0, 30.0, 36.0]), 1),
    (HOT_CENTRE, np.array([7.0, 7.0, 9.0]), 2),
    (np.array([-14.0, 12.0, -8.0]), np.array([10.0, 6.0, 8.0]), 3),
]
CT_HU = {0: -1000.0, 1: 40.0, 2: 700.0, 3: 250.0}
MR_VALUE = {0: 0.0, 1: 400.0, 2: 1200.0, 3: 80.0}


def truth() -> sitk.Euler3DTransform:
    """Fixed -> moving points: 4 degrees about z around the fixed grid's centre, then a shift."""
    transform = sitk.Euler3DTransform()
    transform.SetCenter((0.0, 0.0, 0.0))
    transform.SetRotation(0.0, 0.0, float(np.radians(4.0)))
    transform.SetTranslation((6.0, -5.0, 4.0))
    return transform


def _grid_points(shape: tuple[int, int, int], spacing, origin) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return np.stack(
        [origin[0] + x * spacing[2], origin[1] + y * spacing[1], origin[2] + z * spacing[0]], -1
    )


def _values(points: np.ndarray, table: dict[int, float]) -> np.ndarray:
    """The phantom's value at LPS points, with edges blurred over about a millimetre (partial
    volume, as a scanner sees them): each structure blends in by a logistic of its distance
    to its surface."""
    value = np.full(points.shape[:-1], table[0], dtype=np.float64)
    for centre, radii, label in _STRUCTURES:
        relative = np.sqrt((((points - centre) / radii) ** 2).sum(-1))
        weight = 1 / (1 + np.exp(-(1 - relative) * radii.mean()))
        value = value * (1 - weight) + table[label] * weight
    return value.astype(np.float32)


def fixed_hu() -> np.ndarray:
    return _values(_grid_points(FIXED_SHAPE, FIXED_SPACING, FIXED_ORIGIN), CT_HU)


def moving_values() -> np.ndarray:
    points = _grid_points(MOVING_SHAPE, MOVING_SPACING, MOVING_ORIGIN)
    t = truth()
    rotation = np.array(t.GetMatrix()).reshape(3, 3)
    centre, shift = np.array(t.GetCenter()), np.array(t.GetTranslation())
    # moving(q) shows the anatomy of fixed point TRUTH^-1(q) = R^T (q - c - t) + c
    anatomy = (points - centre - shift) @ rotation + centre
    # Magnitude noise, as MR air never is exactly constant: a constant minimum touching the
    # border is what registration treats as padding outside the field of view.
    noise = np.abs(np.random.default_rng(20261124).normal(0.0, 10.0, MOVING_SHAPE))
    return _values(anatomy, MR_VALUE) + noise.astype(np.float32)


def _store_series(
    patient: Patient,
    stored: np.ndarray,
    *,
    modality: str,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
    intercept: float,
    study: Study | None = None,
    frame_of_reference_uid: str | None = None,
) -> Series:
    images = synthetic_series(
        np.rint(stored).astype(np.int16), spacing=spacing, origin=origin, intercept=intercept
    )
    study_uid = study.study_instance_uid if study else generate_uid()
    frame = frame_of_reference_uid or generate_uid()
    for ds in images:
        ds.Modality = modality
        ds.StudyInstanceUID = study_uid
        ds.FrameOfReferenceUID = frame
    if study is None:
        study = Study.objects.create(
            patient=patient, institution=patient.institution, study_instance_uid=study_uid
        )
    series = Series.objects.create(
        study=study,
        series_instance_uid=str(images[0].SeriesInstanceUID),
        modality=modality,
        frame_of_reference_uid=frame,
        instance_count=len(images),
    )
    for ds in images:
        _store(series, ds)
    return series


def store_fixed_ct(patient: Patient) -> Series:
    return _store_series(
        patient,
        fixed_hu() + 1024,
        modality="CT",
        spacing=FIXED_SPACING,
        origin=FIXED_ORIGIN,
        intercept=-1024.0,
    )


def store_moving_mr(patient: Patient, *, study: Study | None = None) -> Series:
    """The moved MR, in its own frame of reference (and its own study unless given one)."""
    return _store_series(
        patient,
        moving_values(),
        modality="MR",
        spacing=MOVING_SPACING,
        origin=MOVING_ORIGIN,
        intercept=0.0,
        study=study,
    )


def store_unmoved_pt(patient: Patient, fixed: Series) -> Series:
    """A "PET" of the fixed series' study and frame of reference: the phantom in place, on the
    MR's grid, uptake in the dense ellipsoid."""
    points = _grid_points(MOVING_SHAPE, MOVING_SPACING, MOVING_ORIGIN)
    uptake = _values(points, {0: 0.0, 1: 100.0, 2: 900.0, 3: 150.0})
    return _store_series(
        patient,
        uptake.astype(np.float32),
        modality="PT",
        spacing=MOVING_SPACING,
        origin=MOVING_ORIGIN,
        intercept=0.0,
        study=fixed.study,
        frame_of_reference_uid=fixed.frame_of_reference_uid,
    )
