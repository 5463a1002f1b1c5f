"""Neighbourhoods and aggregation shared by the texture families (IBSI sections 3.6-3.11).

Aggregation (IBSI 3.6.1): a 3D matrix per direction or one merged over directions; 2D matrices
per slice (and direction), averaged per slice or merged over directions (2D), or merged over
slices (2.5D). Directions are the 13 unique offsets at Chebyshev distance 1 in 3D and the 4
in-plane ones in 2D; opposite directions are folded in by symmetry where the family needs it.
"""

from __future__ import annotations

import itertools

import numpy as np

DIRECTIONS_3D: tuple[tuple[int, int, int], ...] = tuple(
    (d[0], d[1], d[2])
    for d in itertools.product((-1, 0, 1), repeat=3)
    if next((c for c in d if c != 0), 0) > 0  # one of each pair of opposite offsets
)
# Aggregations each texture family reports: GLCM/GLRLM per direction (averaged) or merged over
# directions; GLSZM, GLDZM, NGTDM and NGLDM have no directions, one per dimension.
AVERAGED_OR_MERGED: tuple[str, ...] = (
    "2d_averaged",
    "2d_slice_merged",
    "2_5d_direction_merged",
    "2_5d_merged",
    "3d_averaged",
    "3d_merged",
)
PER_DIMENSION: tuple[str, ...] = ("2d", "2_5d", "3d")

DIRECTIONS_2D: tuple[tuple[int, int, int], ...] = tuple(d for d in DIRECTIONS_3D if d[0] == 0)


def shifted_pairs(
    shape: tuple[int, ...], offset: tuple[int, ...]
) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices (a, b) such that ``x[b]`` is the neighbour at ``offset`` of ``x[a]``."""
    src, dst = [], []
    for n, d in zip(shape, offset, strict=True):
        # Both slices are empty when |d| >= n (stops clamped at 0 so they never wrap around).
        src.append(slice(max(0, -d), max(n - max(0, d), 0)))
        dst.append(slice(max(0, d), max(n - max(0, -d), 0)))
    return tuple(src), tuple(dst)


def neighbour_kernel(two_d: bool, distance: int = 1) -> np.ndarray:
    """Chebyshev neighbourhood without its centre; in-plane only when ``two_d``."""
    n = 2 * distance + 1
    kernel = np.ones((1 if two_d else n, n, n), dtype=np.float64)
    kernel[tuple(k // 2 for k in kernel.shape)] = 0.0
    return kernel


def wanted_dimensions(aggregations: tuple[str, ...]) -> tuple[bool, bool]:
    """(2D/2.5D wanted, 3D wanted) for a settings' aggregation list (empty: both)."""
    if not aggregations:
        return True, True
    return any(a.startswith("2") for a in aggregations), any(
        a.startswith("3") for a in aggregations
    )


def slice_indices(mask: np.ndarray) -> np.ndarray:
    """The slices (z) that hold at least one ROI voxel."""
    return np.nonzero(mask.reshape(mask.shape[0], -1).any(axis=1))[0]
