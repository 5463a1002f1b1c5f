"""Connected zones of equal grey level, shared by GLSZM and GLDZM (IBSI 3.8, 3.9).

Zones are linked by 26-connectedness in 3D and 8-connectedness within a slice in 2D (IBSI
linkage distance 1, Chebyshev).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import measure


@dataclass(frozen=True)
class Zones:
    """One entry per zone: its grey level, size (voxels), slice and label volume."""

    level: np.ndarray
    size: np.ndarray
    slice: np.ndarray
    labels: np.ndarray  # 0 outside zones, zone k has label k + 1


def find_zones(levels: np.ndarray, ng: int, two_d: bool) -> Zones:
    """Every zone of ``levels`` (0 = outside the ROI), in one labelling pass.

    scikit-image labels connected voxels of *equal* value (26-connected with connectivity 3),
    so all grey levels are labelled at once. In 2D the slices are interleaved with empty ones,
    so that no zone links across slices and each slice keeps 8-connectedness.
    """
    if two_d:
        spaced = np.zeros((2 * levels.shape[0] - 1, *levels.shape[1:]), dtype=levels.dtype)
        spaced[::2] = levels
        labels = np.ascontiguousarray(measure.label(spaced, background=0, connectivity=3)[::2])
    else:
        labels = measure.label(levels, background=0, connectivity=3)
    flat = labels.ravel()
    count = int(flat.max()) if flat.size else 0
    size = np.bincount(flat, minlength=count + 1)[1:]
    # Any voxel's level and slice will do: a zone has one grey level, and in 2D one slice.
    zone_level = np.zeros(count + 1, dtype=np.int64)
    zone_level[flat] = levels.ravel()
    z = np.broadcast_to(np.arange(levels.shape[0])[:, None, None], levels.shape).ravel()
    zone_slice = np.zeros(count + 1, dtype=np.int64)
    zone_slice[flat] = z
    return Zones(zone_level[1:], size, zone_slice[1:], labels)


def zone_matrices(
    zones: Zones, column: np.ndarray, ng: int, per_slice: bool, n_slices: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts M[slice, level - 1, c] over the distinct column values (sizes or distances) that
    occur, and those values; one slice when not ``per_slice``."""
    values, col = np.unique(column, return_inverse=True)
    nj = max(values.size, 1)
    s = zones.slice if per_slice else np.zeros_like(zones.slice)
    n = n_slices if per_slice else 1
    index = (s * ng + zones.level - 1) * nj + col
    counts = np.bincount(index, minlength=n * ng * nj).reshape(n, ng, nj).astype(np.float64)
    return counts, values if values.size else np.ones(1, dtype=np.int64)
