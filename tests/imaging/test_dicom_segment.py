"""Seed-point segmentation on volumes with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.dicom import Volume, dice
from imaging.dicom.segment import SegmentationError, segment_from_seed


def _sphere_in_lung(
    radius_mm: float = 10.0, noise: float = 20.0, seed: int = 7
) -> tuple[Volume, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (40, 64, 64)
    spacing = (2.0, 1.0, 1.0)
    z, y, x = np.indices(shape)
    centre = (20, 32, 32)
    dist = np.sqrt(
        ((z - centre[0]) * spacing[0]) ** 2
        + ((y - centre[1]) * spacing[1]) ** 2
        + ((x - centre[2]) * spacing[2]) ** 2
    )
    truth = dist <= radius_mm
    array = np.where(truth, 40.0, -850.0) + rng.normal(0, noise, shape)  # soft tissue in lung
    return Volume(array=array.astype(np.float32), spacing=spacing, origin=(0.0, 0.0, 0.0)), truth


def test_a_solid_nodule_in_lung_is_recovered_from_a_seed_at_its_centre() -> None:
    volume, truth = _sphere_in_lung()
    result = segment_from_seed(volume, (20, 32, 32))
    assert dice(result.mask, truth) >= 0.95
    assert not result.touches_window
    assert result.low < 40 < result.high


def test_an_explicit_hu_range_is_used_as_given() -> None:
    volume, truth = _sphere_in_lung()
    result = segment_from_seed(volume, (20, 30, 33), low=-300.0, high=300.0)
    assert (result.low, result.high) == (-300.0, 300.0)
    assert dice(result.mask, truth) >= 0.95


def test_a_vessel_touching_the_nodule_is_cut_off_by_the_opening() -> None:
    volume, truth = _sphere_in_lung(noise=5.0)
    vessel = np.zeros_like(truth)
    vessel[20, 32, 42:64] = True  # a 1-voxel vessel leaving the nodule's edge
    volume.array[vessel & ~truth] = 40.0
    grown = segment_from_seed(volume, (20, 32, 32), low=-300.0, high=300.0)
    assert grown.mask[20, 32, 60]  # without an opening the region follows the vessel
    opened = segment_from_seed(volume, (20, 32, 32), low=-300.0, high=300.0, opening_mm=2.0)
    assert not opened.mask[20, 32, 60]
    assert dice(opened.mask, truth) >= 0.9


def test_a_region_that_leaks_to_the_window_edge_is_flagged_for_review() -> None:
    volume, _ = _sphere_in_lung()
    volume.array[:] = 40.0  # no boundary at all
    result = segment_from_seed(volume, (20, 32, 32), window_mm=20.0)
    assert result.touches_window


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed_zyx": (99, 0, 0)}, "outside the volume"),
        ({"seed_zyx": (20, 32, 32), "low": -100.0}, "both low and high"),
        ({"seed_zyx": (20, 32, 32), "low": 500.0, "high": 900.0}, "seed's own intensity"),
    ],
)
def test_bad_seeds_and_ranges_are_refused_with_a_reason(kwargs: dict, message: str) -> None:
    volume, _ = _sphere_in_lung()
    with pytest.raises(SegmentationError, match=message):
        segment_from_seed(volume, **kwargs)
