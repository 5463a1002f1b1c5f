"""Stored CT series for the screening tests, and a clearly-labelled TEST DOUBLE of the pure
screening library (imaging/screening/, written beside this app), handed to the service through
its `_pipeline()` lookup in the unit tests only.

The double is not a nodule detector: it returns one candidate per connected region brighter
than BLOB_HU (scipy.ndimage.label), scored by the region's mean HU / 1000, so that a test knows
exactly which candidates, scores and centres a series gets. The integration and browser tests
use the real library (tests/integration/test_screening_worker.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from imaging.dicom.synthetic import synthetic_series
from imaging.models import Series, Study
from oncology.models import Patient
from tests.imaging.viewer_data import _store

SHAPE = (20, 32, 32)  # z, y, x
SPACING = (2.5, 0.8, 0.8)
ORIGIN = (-12.8, -12.8, -40.0)  # LPS of voxel [0, 0, 0] (identity orientation)
BLOB_HU = 200.0
# Two cubes of known HU: the brighter one ranks first.
BLOBS = {
    "bright": ((slice(4, 7), slice(5, 9), slice(6, 10)), 900),  # centre z 5, y 6.5, x 7.5
    "dim": ((slice(12, 15), slice(20, 24), slice(22, 26)), 400),  # centre z 13, y 21.5, x 23.5
}


def screening_hu() -> np.ndarray:
    hu = np.full(SHAPE, -800, dtype=np.int16)
    for box, value in BLOBS.values():
        hu[box] = value
    return hu


def store_ct(
    patient: Patient,
    *,
    hu: np.ndarray | None = None,
    description: str = "CT CHEST LOW DOSE",
    spacing: tuple[float, float, float] = SPACING,
    origin: tuple[float, float, float] = ORIGIN,
) -> Series:
    """A CT series of `patient` stored and indexed the way ingest stores it."""
    values = screening_hu() if hu is None else hu
    images = synthetic_series(values.astype(np.int16) + 1024, spacing=spacing, origin=origin)
    first = images[0]
    study = Study.objects.create(
        patient=patient,
        institution=patient.institution,
        study_instance_uid=str(first.StudyInstanceUID),
        description="Thorax" if "CHEST" in description else "",
    )
    series = Series.objects.create(
        study=study,
        series_instance_uid=str(first.SeriesInstanceUID),
        modality="CT",
        description=description,
        frame_of_reference_uid=str(first.FrameOfReferenceUID),
        instance_count=len(images),
    )
    for ds in images:
        _store(series, ds)
    return series


# --- the TEST DOUBLE of imaging.screening ----------------------------------------------------

PIPELINE_VERSION = "test-double-1"


@dataclass(frozen=True)
class ScreeningSettings:
    threshold_hu: float = BLOB_HU
    max_candidates: int = 100


@dataclass
class _Lungs:
    volumes_ml: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"volumes_ml": self.volumes_ml, "warnings": self.warnings}


@dataclass
class _Candidate:
    centre_voxel: tuple[float, float, float]
    mask: np.ndarray
    mask_offset: tuple[int, int, int]
    diameter_mm: float
    volume_ml: float
    mean_hu: float
    nodule_type: str
    sphericity: float
    pleura_distance_mm: float
    score: float
    features: dict[str, float] = field(default_factory=dict)


@dataclass
class _Result:
    lungs: _Lungs
    candidates: list[_Candidate]


def screen_volume(volume: Any, settings: ScreeningSettings | None = None) -> _Result:
    settings = settings or ScreeningSettings()
    hu = np.asarray(volume.array, dtype=np.float32)
    labels, count = ndimage.label(hu > settings.threshold_hu)
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    candidates = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        region = labels[box] == index
        centre = ndimage.center_of_mass(labels == index)
        mean = float(hu[labels == index].mean())
        volume_ml = float(region.sum()) * voxel_ml
        candidates.append(
            _Candidate(
                centre_voxel=(float(centre[0]), float(centre[1]), float(centre[2])),
                mask=region,
                mask_offset=(box[0].start, box[1].start, box[2].start),
                diameter_mm=float((6 * volume_ml * 1000 / np.pi) ** (1 / 3)),
                volume_ml=volume_ml,
                mean_hu=mean,
                nodule_type="solid",
                sphericity=0.8,
                pleura_distance_mm=float("nan"),  # stored as null (jsonb refuses NaN)
                score=mean / 1000.0,
                features={"voxels": float(region.sum())},
            )
        )
    candidates.sort(key=lambda c: -c.score)
    lungs = _Lungs(volumes_ml={"left": 1.0, "right": 2.0, "total": 3.0})
    return _Result(lungs=lungs, candidates=candidates[: settings.max_candidates])


def candidate_centre_mm(volume: Any, candidate: _Candidate) -> tuple[float, float, float]:
    z, y, x = candidate.centre_voxel
    point = volume.index_to_patient_matrix() @ np.array([x, y, z, 1.0])
    return float(point[0]), float(point[1]), float(point[2])


# --- a chest CT for the REAL library (integration and browser tests) --------------------------


@dataclass(frozen=True)
class InsertedNodule:
    centre_voxel: tuple[int, int, int]  # z, y, x
    diameter_mm: float


def chest_ct_with_nodules(
    seed: int = 11,
    shape: tuple[int, int, int] = (48, 128, 128),
    spacing: tuple[float, float, float] = (2.5, 2.0, 2.0),
    diameters_mm: tuple[float, ...] = (10.0, 8.0),
) -> tuple[np.ndarray, tuple[float, float, float], tuple[float, float, float], list[Any]]:
    """The screening library's seeded chest phantom (imaging/screening/phantom.py) with one
    solid nodule (+40 HU, a one-voxel partial-volume rim) per diameter, centred, in turn, on the
    right and the left lung's voxel farthest from the pleura and from every vessel, so the truth
    is known by construction: (HU int16 zyx, spacing, origin LPS mm, [InsertedNodule])."""
    from imaging.screening.phantom import chest_phantom

    phantom = chest_phantom(seed=seed, shape=shape, spacing=spacing)
    hu = np.asarray(phantom.hu, dtype=np.float32).copy()
    grid = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    truths = []
    taken = np.zeros(shape, dtype=bool)
    for k, diameter in enumerate(diameters_mm):
        lung = phantom.lungs_right if k % 2 == 0 else phantom.lungs_left
        free = lung & ~phantom.vessels & ~taken
        depth = ndimage.distance_transform_edt(free, sampling=spacing)
        cz, cy, cx = (int(v) for v in np.unravel_index(int(np.argmax(depth)), shape))
        centre = (cz, cy, cx)
        distance = np.sqrt(
            sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, spacing, strict=True))
        )
        radius = diameter / 2
        # Inside: +40 HU; across the last voxel of the edge, a linear blend into the lung.
        weight = np.clip((radius + spacing[1] / 2 - distance) / spacing[1], 0.0, 1.0)
        hu = hu * (1 - weight) + 40.0 * weight
        taken |= distance <= 3 * radius
        truths.append(InsertedNodule(centre_voxel=centre, diameter_mm=diameter))
    origin = (float(phantom.origin[0]), float(phantom.origin[1]), float(phantom.origin[2]))
    stored = np.clip(np.round(hu), -1024, 3000).astype(np.int16)
    return stored, (float(spacing[0]), float(spacing[1]), float(spacing[2])), origin, truths
