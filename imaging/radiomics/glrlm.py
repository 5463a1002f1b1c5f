"""Grey level run length matrix features (IBSI reference manual, section 3.7).

M_d(i, j) counts runs of j consecutive ROI voxels of grey level i along direction d (one of the
13 3D or 4 in-plane directions, each with its opposite). For merged matrices N_v is the number
of voxels times the number of merged directions (sum_ij j M_ij), as IBSI specifies for the run
percentage.
"""

from __future__ import annotations

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, FeatureValue, averaged
from imaging.radiomics.texture import (
    AVERAGED_OR_MERGED,
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    shifted_pairs,
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


def run_counts(levels: np.ndarray, ng: int, offset: tuple[int, int, int]) -> np.ndarray:
    """Run-length counts per slice along ``offset``: shape (n_slices, Ng, max run length)."""
    a, b = shifted_pairs(levels.shape, offset)
    same = np.zeros(levels.shape, dtype=bool)  # voxel continues into its neighbour at +offset
    same[a] = (levels[a] > 0) & (levels[a] == levels[b])
    starts = levels > 0
    starts[b] &= ~same[a]  # a run starts where the voxel at -offset does not continue into it
    # steps(v) = how many times the run continues from v, by pointer jumping: after the pass
    # with jump k it is exact up to 2k (min(true, 2k)), so log2(max dimension) passes suffice.
    steps = same.astype(np.int64)
    k = 1
    while k < max(levels.shape):
        off = (offset[0] * k, offset[1] * k, offset[2] * k)
        src, dst = shifted_pairs(levels.shape, off)
        ahead = np.zeros_like(steps)
        ahead[src] = steps[dst]
        steps = steps + np.where(steps == k, ahead, 0)
        k *= 2
    z = np.nonzero(starts)[0]
    runs = steps[starts] + 1
    nj = int(runs.max()) if runs.size else 1
    index = (z * ng + levels[starts] - 1) * nj + runs - 1
    counts = np.bincount(index, minlength=levels.shape[0] * ng * nj)
    return counts.reshape(levels.shape[0], ng, nj).astype(np.float64)


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
        d3 = _pad([run_counts(levels, ng, d).sum(0) for d in DIRECTIONS_3D])
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
