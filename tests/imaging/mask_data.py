"""A synthetic CT series holding one sphere, stored the way ingest stores it, for the stored-mask
tests (seed segmentation has a lesion with a known volume to find)."""

from __future__ import annotations

import math

import numpy as np

from imaging.dicom.synthetic import synthetic_series
from imaging.models import Series, Study
from oncology.models import Patient
from tests.imaging.viewer_data import _store

SHAPE = (16, 40, 40)  # z, y, x
SPACING = (2.0, 1.0, 1.0)  # mm
ORIGIN = (-20.0, -20.0, 50.0)
CENTRE = (8, 20, 20)  # voxel (z, y, x) of the sphere's centre
RADIUS_MM = 8.0
LESION_HU, BACKGROUND_HU = 40, -100
SPHERE_ML = 4 / 3 * math.pi * RADIUS_MM**3 / 1000  # 2.145 ml


def sphere() -> np.ndarray:
    """Voxels whose centre lies within RADIUS_MM of the centre voxel's centre."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    d2 = sum(((a - c) * s) ** 2 for a, c, s in zip((z, y, x), CENTRE, SPACING, strict=True))
    return d2 <= RADIUS_MM**2


def sphere_hu() -> np.ndarray:
    return np.where(sphere(), LESION_HU, BACKGROUND_HU).astype(np.int16)


def store_ct_with_sphere(patient: Patient) -> Series:
    images = synthetic_series(sphere_hu() + 1024, spacing=SPACING, origin=ORIGIN)
    first = images[0]
    study = Study.objects.create(
        patient=patient,
        institution=patient.institution,
        study_instance_uid=str(first.StudyInstanceUID),
    )
    series = Series.objects.create(
        study=study,
        series_instance_uid=str(first.SeriesInstanceUID),
        modality="CT",
        frame_of_reference_uid=str(first.FrameOfReferenceUID),
        instance_count=len(images),
    )
    for ds in images:
        _store(series, ds)
    return series
