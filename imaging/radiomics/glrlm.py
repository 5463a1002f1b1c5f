"""Grey level run length matrix features (IBSI reference manual, section 3.7).

M_d(i, j) counts runs of j consecutive ROI voxels of grey level i along direction d (one of the
13 3D or 4 in-plane directions, each with its opposite). For merged matrices N_v is the number
of voxels times the number of merged directions (sum_ij j M_ij), as IBSI specifies for the run
percentage.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, FeatureValue, averaged
from imaging.radiomics.texture import (
    AVERAGED_OR_MERGED,
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    slice_indices,
    wanted_dimensions,
)
from imaging.radiomics.zone_matrix import ZoneMatrix, family_features

FAMILY_KEY = "rlm"

FEATURES = family_features(
    [
        ("short_runs_emphasis", "22OV", "Short runs emphasis"),
        ("long_runs_emphasis", "W4KF", "Long runs emphasis"),
        ("low_grey_level_run_emphasis", "V3SW", "Low grey level run emphasis"),
        ("high_grey_level_run_emphasis", "G3QZ", "High grey level run emphasis"),
        ("short_run_low_grey_level_emphasis", "HTZT", "Short run low grey level emphasis"),
        ("short_run_high_grey_level_emphasis", "GD3A", "Short run high grey level emphasis"),
        ("long_run_low_grey_level_emphasis", "IVPO", "Long run low grey level emphasis"),
        ("long_run_high_grey_level_emphasis", "3KUM", "Long run high grey level emphasis"),
        ("grey_level_non_uniformity", "R5YN", "Grey level non-uniformity"),
        ("grey_level_non_uniformity_normalised", "OVBL", "Normalised grey level non-uniformity"),
        ("run_length_non_uniformity", "W92Y", "Run length non-uniformity"),
        ("run_length_non_uniformity_normalised", "IC23", "Normalised run length non-uniformity"),
        ("run_percentage", "9ZK5", "Run percentage"),
        ("grey_level_variance", "8CE5", "Grey level variance"),
        ("run_length_variance", "SXLW", "Run length variance"),
        ("run_entropy", "HJ9O", "Run entropy"),
    ]
)


def _lines(levels: np.ndarray, offset: tuple[int, int, int]) -> tuple[np.ndarray, int]:
    """The voxels rearranged so that every line along ``offset`` is contiguous and ends with a
    0, flattened; and the number of elements per z-slice in that layout (z is the outer axis
    whenever the offset stays in-plane).

    Lines run along a primary axis p (a nonzero component of the offset; the offset is negated
    when needed so that it steps +1 along p, which leaves the runs unchanged). An axis q the
    offset also moves along is zero-padded by n_p on both sides, so that a strided view that
    steps along p and q at once walks each diagonal line in order, from outside the image in
    zeros to outside again; p gets one trailing zero to end the last lines.
    """
    nonzero = [axis for axis in range(3) if offset[axis]]
    p = min(nonzero, key=lambda axis: levels.shape[axis])  # least padding
    step = offset if offset[p] > 0 else tuple(-d for d in offset)
    n_p = levels.shape[p]
    pads = [(0, 1) if a == p else (n_p, n_p) if step[a] else (0, 0) for a in range(3)]
    padded = np.pad(levels, pads)
    # Axes stepping -1 start n_p into their padding (the line's first voxel is its last x).
    base = padded[tuple(slice(n_p, None) if step[a] < 0 else slice(None) for a in range(3))]
    shape = [n_p + 1 if a == p else levels.shape[a] + (n_p if step[a] else 0) for a in range(3)]
    strides = list(base.strides)
    strides[p] = sum(d * s for d, s in zip(step, base.strides, strict=True))
    view = as_strided(base, shape=shape, strides=strides, writeable=False)
    order = [a for a in range(3) if a != p] + [p]
    flat = np.ascontiguousarray(view.transpose(order)).ravel()
    return flat, flat.size // levels.shape[0] if p != 0 else flat.size


def run_counts(
    levels: np.ndarray, ng: int, offset: tuple[int, int, int], per_slice: bool = True
) -> np.ndarray:
    """Run-length counts per slice along ``offset``: shape (n_slices, Ng, max run length); the
    slice is that of a run's first voxel (for 2D offsets the run's only slice). One slice
    holding every run when not ``per_slice``."""
    flat, slice_size = _lines(levels, offset)
    # Runs are the maximal segments of equal values in the line layout (lines end with a 0).
    starts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], starts))
    lengths = np.diff(starts, append=flat.size)
    level = flat[starts].astype(np.int64)
    keep = level > 0
    starts, lengths, level = starts[keep], lengths[keep], level[keep]
    nj = int(lengths.max()) if lengths.size else 1
    n_slices = levels.shape[0] if per_slice else 1
    index = (level - 1) * nj + lengths - 1
    if per_slice:
        z = starts // slice_size if offset[0] == 0 else np.zeros_like(starts)
        index += z * (ng * nj)
    counts = np.bincount(index, minlength=n_slices * ng * nj)
    return counts.reshape(n_slices, ng, nj).astype(np.float64)


def _pad(mats: list[np.ndarray]) -> list[np.ndarray]:
    nj = max(m.shape[-1] for m in mats)
    return [np.pad(m, [(0, 0)] * (m.ndim - 1) + [(0, nj - m.shape[-1])]) for m in mats]


def _zm(m: np.ndarray) -> ZoneMatrix:
    return ZoneMatrix(m, float(np.sum(m * np.arange(1, m.shape[-1] + 1))))


def matrices(
    levels: np.ndarray, ng: int, two_d: bool = True, three_d: bool = True
) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    if two_d:
        per = np.stack(_pad([run_counts(levels, ng, d) for d in DIRECTIONS_2D]))
        per = per[:, slice_indices(levels > 0)]  # (direction, slice, Ng, Nj)
        out["2d_averaged"] = list(per.reshape(-1, *per.shape[2:]))
        out["2d_slice_merged"] = list(per.sum(0))
        out["2_5d_direction_merged"] = list(per.sum(1))
        out["2_5d_merged"] = [per.sum((0, 1))]
    if three_d:
        d3 = _pad([run_counts(levels, ng, d, per_slice=False)[0] for d in DIRECTIONS_3D])
        out["3d_averaged"] = d3
        out["3d_merged"] = [np.sum(d3, axis=0)]
    return out


def compute(ctx: RoiContext) -> list[FeatureValue]:
    out: list[FeatureValue] = []
    wanted = ctx.aggregations_for(FAMILY_KEY)
    features = ctx.features_for(FAMILY_KEY, FEATURES)
    two_d, three_d = wanted_dimensions(wanted)
    for aggregation, mats in matrices(ctx.levels, ctx.n_levels, two_d, three_d).items():
        if wanted and aggregation not in wanted:
            continue
        args = [(_zm(m),) for m in mats if m.sum() > 0]
        out.extend(averaged(FAMILY_KEY, features, args, aggregation))
    return out


FAMILY = Family(
    FAMILY_KEY, "Grey level run length based features", FEATURES, compute, AVERAGED_OR_MERGED
)
