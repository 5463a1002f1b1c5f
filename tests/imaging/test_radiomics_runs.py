"""GLRLM run counting (vectorised over sheared line layouts) against a plain walk along every
line, for all 13 directions and volumes whose smallest axis is z, y or x (which changes the
axis the lines are laid along)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from imaging.radiomics.glrlm import run_counts
from imaging.radiomics.texture import DIRECTIONS_3D


def _walked_runs(levels: np.ndarray, ng: int, offset: tuple[int, int, int]) -> np.ndarray:
    """Counts (slice of the first voxel, level, length) by walking from each run start."""
    shape = levels.shape
    found: list[tuple[int, int, int]] = []
    for start in itertools.product(*(range(n) for n in shape)):
        g = levels[start]
        before = tuple(c - d for c, d in zip(start, offset, strict=True))
        inside = all(0 <= c < n for c, n in zip(before, shape, strict=True))
        if g == 0 or (inside and levels[before] == g):
            continue  # outside the ROI, or not the first voxel of its run
        length, pos = 0, start
        while all(0 <= c < n for c, n in zip(pos, shape, strict=True)) and levels[pos] == g:
            length += 1
            pos = tuple(c + d for c, d in zip(pos, offset, strict=True))
        found.append((start[0], int(g), length))
    nj = max(length for _, _, length in found)
    counts = np.zeros((shape[0], ng, nj))
    for z, g, length in found:
        counts[z, g - 1, length - 1] += 1
    return counts


@pytest.mark.parametrize("shape", [(3, 7, 6), (7, 3, 6), (7, 6, 3), (5, 5, 5)])
def test_run_counts_match_a_walk_along_every_direction(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(sum(shape) * 7 + shape[0])
    ng = 3
    levels = rng.integers(1, ng + 1, size=shape).astype(np.int16)
    levels[rng.random(shape) < 0.2] = 0  # holes: runs stop at the ROI edge
    for offset in DIRECTIONS_3D:
        got = run_counts(levels, ng, offset)
        expected = _walked_runs(levels, ng, offset)
        if offset[0] != 0:
            # Out-of-plane runs are only ever summed over slices (3D aggregation).
            got, expected = got.sum(0), expected.sum(0)
        assert got.shape == expected.shape, offset
        np.testing.assert_array_equal(got, expected, err_msg=str(offset))
        merged = run_counts(levels, ng, offset, per_slice=False)[0]
        np.testing.assert_array_equal(merged, run_counts(levels, ng, offset).sum(0))
