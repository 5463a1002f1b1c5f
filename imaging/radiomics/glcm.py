"""Grey level co-occurrence matrix features (IBSI reference manual, section 3.6).

The GLCM M_d(i, j) counts pairs of ROI voxels with grey levels i and j that are neighbours
along direction d (both orders, so M is symmetric). With p_ij = M_ij / sum M, the marginals
p_i. = sum_j p_ij, p_.j, the diagonal p_(i-j)(k) = sum_{|i-j|=k} p_ij (k = 0..Ng-1) and the
cross-diagonal p_(i+j)(k) = sum_{i+j=k} p_ij (k = 2..2Ng). Logarithms are base 2.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, averaged, feature
from imaging.radiomics.texture import (
    AVERAGED_OR_MERGED,
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    shifted_pairs,
    slice_indices,
    wanted_dimensions,
)

FAMILY_KEY = "cm"


class Glcm:
    def __init__(self, counts: np.ndarray):
        self.ng = counts.shape[0]
        self.p = counts / counts.sum()
        self.i = np.arange(1, self.ng + 1, dtype=np.float64)[:, None]
        self.j = self.i.T

    @cached_property
    def pi(self) -> np.ndarray:
        return self.p.sum(axis=1)

    @cached_property
    def mu(self) -> float:
        return float(np.sum(self.i * self.p))

    @cached_property
    def sigma(self) -> float:
        return float(np.sqrt(np.sum((self.i - self.mu) ** 2 * self.p)))

    @cached_property
    def diff(self) -> np.ndarray:
        k = np.abs(self.i - self.j).astype(np.int64)
        return np.bincount(k.ravel(), weights=self.p.ravel(), minlength=self.ng)

    @cached_property
    def sum(self) -> np.ndarray:
        k = (self.i + self.j).astype(np.int64)
        return np.bincount(k.ravel(), weights=self.p.ravel(), minlength=2 * self.ng + 1)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


@feature("joint_max", "GYBY")
def joint_max(m: Glcm) -> float:
    """Joint maximum (GYBY): max_ij p_ij."""
    return float(m.p.max())


@feature("joint_average", "60VM")
def joint_average(m: Glcm) -> float:
    """Joint average (60VM): mu = sum_ij i p_ij."""
    return m.mu


@feature("joint_variance", "UR99")
def joint_variance(m: Glcm) -> float:
    """Joint variance (UR99): sum_ij (i - mu)^2 p_ij."""
    return m.sigma**2


@feature("joint_entropy", "TU9B")
def joint_entropy(m: Glcm) -> float:
    """Joint entropy (TU9B): -sum_ij p_ij log2 p_ij."""
    return _entropy(m.p)


@feature("difference_average", "TF7R")
def difference_average(m: Glcm) -> float:
    """Difference average (TF7R): mu_d = sum_k k p_(i-j)(k)."""
    return float(np.sum(np.arange(m.ng) * m.diff))


@feature("difference_variance", "D3YU")
def difference_variance(m: Glcm) -> float:
    """Difference variance (D3YU): sum_k (k - mu_d)^2 p_(i-j)(k)."""
    k = np.arange(m.ng)
    mu = np.sum(k * m.diff)
    return float(np.sum((k - mu) ** 2 * m.diff))


@feature("difference_entropy", "NTRS")
def difference_entropy(m: Glcm) -> float:
    """Difference entropy (NTRS): -sum_k p_(i-j)(k) log2 p_(i-j)(k)."""
    return _entropy(m.diff)


@feature("sum_average", "ZGXS")
def sum_average(m: Glcm) -> float:
    """Sum average (ZGXS): mu_s = sum_k k p_(i+j)(k)."""
    return float(np.sum(np.arange(m.sum.size) * m.sum))


@feature("sum_variance", "OEEB")
def sum_variance(m: Glcm) -> float:
    """Sum variance (OEEB): sum_k (k - mu_s)^2 p_(i+j)(k)."""
    k = np.arange(m.sum.size)
    mu = np.sum(k * m.sum)
    return float(np.sum((k - mu) ** 2 * m.sum))


@feature("sum_entropy", "P6QZ")
def sum_entropy(m: Glcm) -> float:
    """Sum entropy (P6QZ): -sum_k p_(i+j)(k) log2 p_(i+j)(k)."""
    return _entropy(m.sum)


@feature("angular_second_moment", "8ZQL")
def angular_second_moment(m: Glcm) -> float:
    """Angular second moment / energy (8ZQL): sum_ij p_ij^2."""
    return float(np.sum(m.p**2))


@feature("contrast", "ACUI")
def contrast(m: Glcm) -> float:
    """Contrast (ACUI): sum_ij (i - j)^2 p_ij."""
    return float(np.sum((m.i - m.j) ** 2 * m.p))


@feature("dissimilarity", "8S9J")
def dissimilarity(m: Glcm) -> float:
    """Dissimilarity (8S9J): sum_ij |i - j| p_ij."""
    return float(np.sum(np.abs(m.i - m.j) * m.p))


@feature("inverse_difference", "IB1Z")
def inverse_difference(m: Glcm) -> float:
    """Inverse difference (IB1Z): sum_ij p_ij / (1 + |i - j|)."""
    return float(np.sum(m.p / (1 + np.abs(m.i - m.j))))


@feature("normalised_inverse_difference", "NDRX")
def normalised_inverse_difference(m: Glcm) -> float:
    """Normalised inverse difference (NDRX): sum_ij p_ij / (1 + |i - j| / Ng)."""
    return float(np.sum(m.p / (1 + np.abs(m.i - m.j) / m.ng)))


@feature("inverse_difference_moment", "WF0Z")
def inverse_difference_moment(m: Glcm) -> float:
    """Inverse difference moment (WF0Z): sum_ij p_ij / (1 + (i - j)^2)."""
    return float(np.sum(m.p / (1 + (m.i - m.j) ** 2)))


@feature("normalised_inverse_difference_moment", "1QCO")
def normalised_inverse_difference_moment(m: Glcm) -> float:
    """Normalised inverse difference moment (1QCO): sum_ij p_ij / (1 + (i - j)^2 / Ng^2)."""
    return float(np.sum(m.p / (1 + (m.i - m.j) ** 2 / m.ng**2)))


@feature("inverse_variance", "E8JP")
def inverse_variance(m: Glcm) -> float:
    """Inverse variance (E8JP): sum_{k>=1} p_(i-j)(k) / k^2 (i.e. sum_{i != j} p_ij/(i-j)^2)."""
    k = np.arange(1, m.ng)
    return float(np.sum(m.diff[1:] / k**2))


@feature("correlation", "NI2N")
def correlation(m: Glcm) -> float:
    """Correlation (NI2N): [sum_ij (i - mu_i.)(j - mu_.j) p_ij] / (sigma_i. sigma_.j)."""
    return float(np.sum((m.i - m.mu) * (m.j - m.mu) * m.p) / m.sigma**2)


@feature("autocorrelation", "QWB0")
def autocorrelation(m: Glcm) -> float:
    """Autocorrelation (QWB0): sum_ij i j p_ij."""
    return float(np.sum(m.i * m.j * m.p))


@feature("cluster_tendency", "DG8W")
def cluster_tendency(m: Glcm) -> float:
    """Cluster tendency (DG8W): sum_ij (i + j - mu_i. - mu_.j)^2 p_ij."""
    return float(np.sum((m.i + m.j - 2 * m.mu) ** 2 * m.p))


@feature("cluster_shade", "7NFM")
def cluster_shade(m: Glcm) -> float:
    """Cluster shade (7NFM): sum_ij (i + j - mu_i. - mu_.j)^3 p_ij."""
    c = m.i + m.j - 2 * m.mu
    return float(np.sum(c * c * c * m.p))


@feature("cluster_prominence", "AE86")
def cluster_prominence(m: Glcm) -> float:
    """Cluster prominence (AE86): sum_ij (i + j - mu_i. - mu_.j)^4 p_ij."""
    c2 = (m.i + m.j - 2 * m.mu) ** 2
    return float(np.sum(c2 * c2 * m.p))


def _hx_hxy1_hxy2(m: Glcm) -> tuple[float, float, float]:
    outer = m.pi[:, None] * m.pi[None, :]
    nz = outer > 0
    hxy1 = float(-np.sum(m.p[nz] * np.log2(outer[nz])))
    hxy2 = float(-np.sum(outer[nz] * np.log2(outer[nz])))
    return _entropy(m.pi), hxy1, hxy2


@feature("information_correlation_1", "R8DG")
def information_correlation_1(m: Glcm) -> float:
    """Information correlation 1 (R8DG): (HXY - HXY1) / HX, with HXY the joint entropy,
    HX = -sum_i p_i. log2 p_i. and HXY1 = -sum_ij p_ij log2(p_i. p_.j)."""
    hx, hxy1, _ = _hx_hxy1_hxy2(m)
    return (_entropy(m.p) - hxy1) / hx


@feature("information_correlation_2", "JN9H")
def information_correlation_2(m: Glcm) -> float:
    """Information correlation 2 (JN9H): sqrt(1 - exp(-2 (HXY2 - HXY))),
    HXY2 = -sum_ij p_i. p_.j log2(p_i. p_.j)."""
    _, _, hxy2 = _hx_hxy1_hxy2(m)
    return float(np.sqrt(1 - np.exp(-2 * (hxy2 - _entropy(m.p)))))


FEATURES: tuple[Feature, ...] = (
    joint_max,
    joint_average,
    joint_variance,
    joint_entropy,
    difference_average,
    difference_variance,
    difference_entropy,
    sum_average,
    sum_variance,
    sum_entropy,
    angular_second_moment,
    contrast,
    dissimilarity,
    inverse_difference,
    normalised_inverse_difference,
    inverse_difference_moment,
    normalised_inverse_difference_moment,
    inverse_variance,
    correlation,
    autocorrelation,
    cluster_tendency,
    cluster_shade,
    cluster_prominence,
    information_correlation_1,
    information_correlation_2,
)


def glcm_counts(levels: np.ndarray, ng: int, offset: tuple[int, int, int]) -> np.ndarray:
    """Symmetric co-occurrence counts per slice: shape (n_slices, Ng, Ng), slice of voxel a."""
    a, b = shifted_pairs(levels.shape, offset)
    la, lb = levels[a], levels[b]
    both = (la > 0) & (lb > 0)
    z = np.broadcast_to(np.arange(levels.shape[0])[a[0]][:, None, None], la.shape)[both]
    index = (z * ng + la[both] - 1) * ng + lb[both] - 1
    counts = np.bincount(index, minlength=levels.shape[0] * ng * ng).astype(np.float64)
    counts = counts.reshape(levels.shape[0], ng, ng)
    return counts + counts.transpose(0, 2, 1)


def glcm_counts_volume(levels: np.ndarray, ng: int, offset: tuple[int, int, int]) -> np.ndarray:
    """:func:`glcm_counts` summed over slices, shape (Ng, Ng), for the 3D aggregations.

    Pairs are counted on (Ng + 1)^2 cells, level 0 (outside the ROI) included, which needs no
    mask of the pairs; row and column 0 are dropped afterwards."""
    a, b = shifted_pairs(levels.shape, offset)
    index = levels[a].astype(np.intp) * (ng + 1) + levels[b]
    counts = np.bincount(index.ravel(), minlength=(ng + 1) ** 2).reshape(ng + 1, ng + 1)
    counts = counts[1:, 1:].astype(np.float64)
    return counts + counts.T


def _scaled(d: tuple[int, int, int], k: int) -> tuple[int, int, int]:
    return (d[0] * k, d[1] * k, d[2] * k)


def matrices(
    levels: np.ndarray, ng: int, distance: int = 1, two_d: bool = True, three_d: bool = True
) -> dict[str, list[np.ndarray]]:
    """The count matrices behind each IBSI aggregation (2D/2.5D and/or 3D ones)."""
    out: dict[str, list[np.ndarray]] = {}
    if two_d:
        per = np.stack(
            [glcm_counts(levels, ng, _scaled(d, distance)) for d in DIRECTIONS_2D]
        )  # (direction, slice, Ng, Ng)
        per = per[:, slice_indices(levels > 0)]
        out["2d_averaged"] = list(per.reshape(-1, ng, ng))
        out["2d_slice_merged"] = list(per.sum(0))
        out["2_5d_direction_merged"] = list(per.sum(1))
        out["2_5d_merged"] = [per.sum((0, 1))]
    if three_d:
        d3 = [glcm_counts_volume(levels, ng, _scaled(d, distance)) for d in DIRECTIONS_3D]
        out["3d_averaged"] = d3
        out["3d_merged"] = [np.sum(d3, axis=0)]
    return out


def compute(ctx: RoiContext) -> list[FeatureValue]:
    out: list[FeatureValue] = []
    wanted = ctx.aggregations_for(FAMILY_KEY)
    features = ctx.features_for(FAMILY_KEY, FEATURES)
    two_d, three_d = wanted_dimensions(wanted)
    groups = matrices(ctx.levels, ctx.n_levels, ctx.settings.glcm_distance, two_d, three_d)
    for aggregation, mats in groups.items():
        if wanted and aggregation not in wanted:
            continue
        args = [(Glcm(m),) for m in mats if m.sum() > 0]
        out.extend(averaged(FAMILY_KEY, features, args, aggregation))
    return out


FAMILY = Family(
    FAMILY_KEY, "Grey level co-occurrence based features", FEATURES, compute, AVERAGED_OR_MERGED
)
