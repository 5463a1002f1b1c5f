"""Neighbourhood grey tone difference matrix features (IBSI reference manual, section 3.10).

For each ROI voxel k of grey level i with at least one ROI neighbour (Chebyshev distance 1; 26
neighbours in 3D, 8 in-plane in 2D), A_k is the mean grey level of its ROI neighbours.
s_i = sum_k |i - A_k|, n_i the number of such voxels, N_v,c = sum_i n_i, p_i = n_i / N_v,c and
N_g,p the number of grey levels with p_i > 0. 2D: per slice, averaged; 2.5D: s and n summed
over slices; 3D: one volume.
"""

from __future__ import annotations

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, averaged, feature
from imaging.radiomics.texture import (
    PER_DIMENSION,
    slice_indices,
    wanted_dimensions,
)

FAMILY_KEY = "ngt"


class Ngtdm:
    def __init__(self, s: np.ndarray, n: np.ndarray):
        keep = n > 0
        self.nvc = float(n.sum())
        self.i = np.arange(1, n.size + 1, dtype=np.float64)[keep]
        self.s = s[keep]
        self.p = n[keep] / self.nvc
        self.ngp = int(keep.sum())


def _pairs(m: Ngtdm) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return m.i[:, None], m.i[None, :], m.p[:, None], m.p[None, :]


@feature("coarseness", "QCDE")
def coarseness(m: Ngtdm) -> float:
    """Coarseness (QCDE): 1 / sum_i p_i s_i."""
    return float(1.0 / np.sum(m.p * m.s))


@feature("contrast", "65HE")
def contrast(m: Ngtdm) -> float:
    """Contrast (65HE): [1/(N_g,p (N_g,p - 1)) sum_ij p_i p_j (i - j)^2] [1/N_v,c sum_i s_i]."""
    i, j, pi, pj = _pairs(m)
    left = np.sum(pi * pj * (i - j) ** 2) / (m.ngp * (m.ngp - 1))
    return float(left * np.sum(m.s) / m.nvc)


@feature("busyness", "NQ30")
def busyness(m: Ngtdm) -> float:
    """Busyness (NQ30): sum_i p_i s_i / sum_ij |i p_i - j p_j|, over p_i, p_j > 0."""
    i, j, pi, pj = _pairs(m)
    return float(np.sum(m.p * m.s) / np.sum(np.abs(i * pi - j * pj)))


@feature("complexity", "HDEZ")
def complexity(m: Ngtdm) -> float:
    """Complexity (HDEZ): 1/N_v,c sum_ij |i - j| (p_i s_i + p_j s_j) / (p_i + p_j)."""
    i, j, pi, pj = _pairs(m)
    si, sj = m.s[:, None], m.s[None, :]
    return float(np.sum(np.abs(i - j) * (pi * si + pj * sj) / (pi + pj)) / m.nvc)


@feature("strength", "1X9X")
def strength(m: Ngtdm) -> float:
    """Strength (1X9X): sum_ij (p_i + p_j)(i - j)^2 / sum_i s_i."""
    i, j, pi, pj = _pairs(m)
    return float(np.sum((pi + pj) * (i - j) ** 2) / np.sum(m.s))


FEATURES: tuple[Feature, ...] = (coarseness, contrast, busyness, complexity, strength)


def _neighbour_sums(values: np.ndarray, two_d: bool, distance: int) -> np.ndarray:
    """Sum over the Chebyshev neighbourhood without the centre (zeros beyond the edge), as a
    separable box sum: one pass of 2d+1 shifted additions per axis."""
    axes = (1, 2) if two_d else (0, 1, 2)
    total = values
    for axis in axes:
        pad = [(distance, distance) if a == axis else (0, 0) for a in range(3)]
        padded = np.pad(total, pad)
        n = total.shape[axis]
        shifted = [
            padded[tuple(slice(k, k + n) if a == axis else slice(None) for a in range(3))]
            for k in range(2 * distance + 1)
        ]
        total = shifted[0].copy()
        for part in shifted[1:]:
            total += part
    return total - values


def ngtdm_per_slice(
    levels: np.ndarray, ng: int, two_d: bool, distance: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """s and n per slice (shape (n_slices, Ng)); one 'slice' holding everything in 3D."""
    mask = levels > 0
    # Integer sums are exact, so these equal a float correlation with the neighbour kernel.
    sums = _neighbour_sums(levels.astype(np.int32), two_d, distance).astype(np.float64)
    counts = _neighbour_sums(mask.astype(np.int32), two_d, distance).astype(np.float64)
    valid = mask & (counts > 0)
    diff = np.abs(levels[valid] - sums[valid] / counts[valid])
    z = np.nonzero(valid)[0] if two_d else np.zeros(int(valid.sum()), dtype=np.int64)
    n_slices = levels.shape[0] if two_d else 1
    index = z * ng + levels[valid] - 1
    s = np.bincount(index, weights=diff, minlength=n_slices * ng).reshape(n_slices, ng)
    n = np.bincount(index, minlength=n_slices * ng).reshape(n_slices, ng).astype(np.float64)
    return s, n


def compute(ctx: RoiContext) -> list[FeatureValue]:
    levels, ng = ctx.levels, ctx.n_levels
    distance = ctx.settings.glcm_distance  # IBSI: one distance for GLCM, NGTDM and NGLDM
    wanted = ctx.aggregations_for(FAMILY_KEY)
    features = ctx.features_for(FAMILY_KEY, FEATURES)
    two_d, three_d = wanted_dimensions(wanted)
    out: list[FeatureValue] = []
    if two_d:
        s2, n2 = ngtdm_per_slice(levels, ng, two_d=True, distance=distance)
        present = [z for z in slice_indices(levels > 0) if n2[z].sum() > 0]
        if not wanted or "2d" in wanted:
            per = [(Ngtdm(s2[z], n2[z]),) for z in present]
            out += averaged(FAMILY_KEY, features, per, "2d")
        if not wanted or "2_5d" in wanted:
            out += averaged(FAMILY_KEY, features, [(Ngtdm(s2.sum(0), n2.sum(0)),)], "2_5d")
    if three_d:
        s3, n3 = ngtdm_per_slice(levels, ng, two_d=False, distance=distance)
        out += averaged(FAMILY_KEY, features, [(Ngtdm(s3[0], n3[0]),)], "3d")
    return out


FAMILY = Family(
    FAMILY_KEY,
    "Neighbourhood grey tone difference based features",
    FEATURES,
    compute,
    PER_DIMENSION,
)
