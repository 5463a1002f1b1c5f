"""Neighbouring grey level dependence matrix features (IBSI reference manual, section 3.11).

Each ROI voxel of grey level i has dependence j = 1 + the number of ROI neighbours (Chebyshev
distance 1: 26 in 3D, 8 in-plane in 2D) whose grey level differs from i by at most the
coarseness alpha (0 by default). M(i, j) counts voxels; N_v = number of ROI voxels. The shared
formulas of :mod:`zone_matrix` apply with j the dependence count, plus the energy.
"""

from __future__ import annotations

import itertools

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.glszm import aggregate
from imaging.radiomics.registry import Family, FeatureValue
from imaging.radiomics.texture import PER_DIMENSION, shifted_pairs, wanted_dimensions
from imaging.radiomics.zone_matrix import energy, entry, family_features

FAMILY_KEY = "ngl"

FEATURES = family_features(
    [
        ("low_dependence_emphasis", "SODN", "Low dependence emphasis"),
        ("high_dependence_emphasis", "IMOQ", "High dependence emphasis"),
        ("low_grey_level_count_emphasis", "TL9H", "Low grey level count emphasis"),
        ("high_grey_level_count_emphasis", "OAE7", "High grey level count emphasis"),
        ("low_dependence_low_grey_level_emphasis", "EQ3F", "Low dependence low grey level emph."),
        ("low_dependence_high_grey_level_emphasis", "JA6D", "Low dependence high grey level emph."),
        ("high_dependence_low_grey_level_emphasis", "NBZI", "High dependence low grey level emph."),
        ("high_dependence_high_grey_level_emphasis", "9QMG", "High dependence high grey lvl emph."),
        ("grey_level_non_uniformity", "FP8K", "Grey level non-uniformity"),
        ("grey_level_non_uniformity_normalised", "5SPA", "Normalised grey level non-uniformity"),
        ("dependence_count_non_uniformity", "Z87G", "Dependence count non-uniformity"),
        ("dependence_count_non_uniformity_normalised", "OKJI", "Normalised dependence count NU"),
        ("dependence_count_percentage", "6XV8", "Dependence count percentage"),
        ("grey_level_variance", "1PFV", "Grey level variance"),
        ("dependence_count_variance", "DNX2", "Dependence count variance"),
        ("dependence_count_entropy", "FCBV", "Dependence count entropy"),
    ]
) + (entry("dependence_count_energy", "CAS9", "Dependence count energy", energy),)


def dependence(
    levels: np.ndarray, two_d: bool, alpha: float = 0.0, distance: int = 1
) -> np.ndarray:
    """Dependence count of every voxel (0 outside the ROI)."""
    mask = levels > 0
    if alpha == 0:
        return _dependence_equal(levels, mask, two_d, distance)
    count = mask.astype(np.int64)
    reach = range(-distance, distance + 1)
    for off in itertools.product(range(0, 1) if two_d else reach, reach, reach):
        if off == (0, 0, 0):
            continue
        a, b = shifted_pairs(levels.shape, off)
        la, lb = levels[a], levels[b]
        count[a] += (la > 0) & (lb > 0) & (np.abs(la - lb) <= alpha)
    return count


def _dependence_equal(
    levels: np.ndarray, mask: np.ndarray, two_d: bool, distance: int
) -> np.ndarray:
    """:func:`dependence` for coarseness 0: neighbours count when their level is equal. Each
    pair of opposite offsets is compared once and counted for both voxels; comparing with a
    copy that holds -1 outside the ROI makes one equality test mean "both in the ROI and
    equal"."""
    outside = np.where(mask, levels, -1).astype(levels.dtype)
    count = mask.astype(np.int16)
    reach = range(-distance, distance + 1)
    for off in itertools.product(range(0, 1) if two_d else reach, reach, reach):
        if next((c for c in off if c != 0), 0) <= 0:
            continue  # the centre, or the opposite of an offset already counted
        a, b = shifted_pairs(levels.shape, off)
        equal = levels[a] == outside[b]
        count[a] += equal
        count[b] += equal
    return count.astype(np.int64)


def matrix(
    levels: np.ndarray, ng: int, dep: np.ndarray, per_slice: bool
) -> tuple[np.ndarray, np.ndarray]:
    mask = levels > 0
    nj = int(dep.max())
    z = np.nonzero(mask)[0] if per_slice else np.zeros(int(mask.sum()), dtype=np.int64)
    n = levels.shape[0] if per_slice else 1
    index = (z * ng + levels[mask] - 1) * nj + dep[mask] - 1
    counts = np.bincount(index, minlength=n * ng * nj).reshape(n, ng, nj).astype(np.float64)
    return counts, np.arange(1, nj + 1)


def compute(ctx: RoiContext) -> list[FeatureValue]:
    levels, ng, s = ctx.levels, ctx.n_levels, ctx.settings
    wanted = ctx.aggregations_for(FAMILY_KEY)
    two_d, three_d = wanted_dimensions(wanted)
    m2d = m3d = None
    if two_d:
        dep2 = dependence(levels, True, s.ngldm_coarseness, s.ngldm_distance)
        m2d = matrix(levels, ng, dep2, per_slice=True)
    if three_d:
        dep3 = dependence(levels, False, s.ngldm_coarseness, s.ngldm_distance)
        m3d = matrix(levels, ng, dep3, per_slice=False)
    return aggregate(
        FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), m2d, m3d, ctx.texture_mask, wanted
    )


FAMILY = Family(
    FAMILY_KEY,
    "Neighbouring grey level dependence based features",
    FEATURES,
    compute,
    PER_DIMENSION,
)
