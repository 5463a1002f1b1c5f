"""Connected zones of equal grey level, shared by GLSZM and GLDZM (IBSI 3.8, 3.9).

Zones are linked by 26-connectedness in 3D and 8-connectedness within a slice in 2D (IBSI
linkage distance 1, Chebyshev).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Zones:
    """One entry per zone: its grey level, size (voxels), slice and label volume."""

    level: np.ndarray
    size: np.ndarray
    slice: np.ndarray
    labels: np.ndarray  # 0 outside zones, zone k has label k + 1


def find_zones(levels: np.ndarray, ng: int, two_d: bool) -> Zones:
    structure = np.ones((3, 3, 3), dtype=bool)
    if two_d:
        structure[[0, 2]] = False
    labels = np.zeros(levels.shape, dtype=np.int64)
    zone_level: list[np.ndarray] = []
    count = 0
    for g in range(1, ng + 1):
        present = levels == g
        if not present.any():
            continue
        lab, n = ndimage.label(present, structure=structure)
        labels[present] = lab[present] + count
        zone_level.append(np.full(n, g, dtype=np.int64))
        count += n
    flat = labels.ravel()
    size = np.bincount(flat, minlength=count + 1)[1:]
    z = np.broadcast_to(np.arange(levels.shape[0])[:, None, None], levels.shape).ravel()
    zone_slice = np.zeros(count + 1, dtype=np.int64)
    zone_slice[flat] = z  # any voxel's slice: in 2D a zone lies within one slice
    level = np.concatenate(zone_level) if zone_level else np.zeros(0, dtype=np.int64)
    return Zones(level, size, zone_slice[1:], labels)


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
