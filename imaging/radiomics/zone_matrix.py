"""Formulas shared by the run-length, size-zone, distance-zone and dependence matrices.

IBSI (sections 3.7-3.11) defines GLRLM, GLSZM, GLDZM and NGLDM features with the same formulas
on a matrix M(i, j): i the grey level (1..Ng), j the run length, zone size, zone distance or
dependence count (1..Nj). N_s = sum_ij M_ij; N_v = the number of voxels (for merged matrices the
voxels counted over all merged matrices); r_i. = sum_j M_ij, r_.j = sum_i M_ij; p_ij = M_ij/N_s.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from imaging.radiomics.registry import Feature


class ZoneMatrix:
    def __init__(self, counts: np.ndarray, n_voxels: float, columns: np.ndarray | None = None):
        """``columns`` are the j values of the matrix columns (default 1..Nj); zone sizes are
        sparse, so size-zone matrices keep only the sizes that occur."""
        self.m = counts.astype(np.float64)
        self.ns = float(self.m.sum())
        self.nv = float(n_voxels)
        self.i = np.arange(1, self.m.shape[0] + 1, dtype=np.float64)[:, None]
        if columns is None:
            columns = np.arange(1, self.m.shape[1] + 1)
        self.j = np.asarray(columns, dtype=np.float64)[None, :]
        self.p = self.m / self.ns


def small_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij M_ij / j^2."""
    return float(np.sum(z.m / z.j**2) / z.ns)


def large_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij j^2 M_ij."""
    return float(np.sum(z.m * z.j**2) / z.ns)


def low_grey_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij M_ij / i^2."""
    return float(np.sum(z.m / z.i**2) / z.ns)


def high_grey_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij i^2 M_ij."""
    return float(np.sum(z.m * z.i**2) / z.ns)


def small_low_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij M_ij / (i^2 j^2)."""
    return float(np.sum(z.m / (z.i**2 * z.j**2)) / z.ns)


def small_high_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij i^2 M_ij / j^2."""
    return float(np.sum(z.m * z.i**2 / z.j**2) / z.ns)


def large_low_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij j^2 M_ij / i^2."""
    return float(np.sum(z.m * z.j**2 / z.i**2) / z.ns)


def large_high_emphasis(z: ZoneMatrix) -> float:
    """1/N_s sum_ij i^2 j^2 M_ij."""
    return float(np.sum(z.m * z.i**2 * z.j**2) / z.ns)


def grey_non_uniformity(z: ZoneMatrix) -> float:
    """1/N_s sum_i r_i.^2."""
    return float(np.sum(z.m.sum(1) ** 2) / z.ns)


def grey_non_uniformity_normalised(z: ZoneMatrix) -> float:
    """1/N_s^2 sum_i r_i.^2."""
    return float(np.sum(z.m.sum(1) ** 2) / z.ns**2)


def size_non_uniformity(z: ZoneMatrix) -> float:
    """1/N_s sum_j r_.j^2."""
    return float(np.sum(z.m.sum(0) ** 2) / z.ns)


def size_non_uniformity_normalised(z: ZoneMatrix) -> float:
    """1/N_s^2 sum_j r_.j^2."""
    return float(np.sum(z.m.sum(0) ** 2) / z.ns**2)


def percentage(z: ZoneMatrix) -> float:
    """N_s / N_v."""
    return z.ns / z.nv


def grey_variance(z: ZoneMatrix) -> float:
    """sum_ij (i - mu)^2 p_ij with mu = sum_ij i p_ij."""
    mu = np.sum(z.i * z.p)
    return float(np.sum((z.i - mu) ** 2 * z.p))


def size_variance(z: ZoneMatrix) -> float:
    """sum_ij (j - mu)^2 p_ij with mu = sum_ij j p_ij."""
    mu = np.sum(z.j * z.p)
    return float(np.sum((z.j - mu) ** 2 * z.p))


def entropy(z: ZoneMatrix) -> float:
    """-sum_ij p_ij log2 p_ij."""
    p = z.p[z.p > 0]
    return float(-np.sum(p * np.log2(p)))


def energy(z: ZoneMatrix) -> float:
    """sum_ij p_ij^2."""
    return float(np.sum(z.p**2))


def entry(name: str, code: str, title: str, formula: Callable[[ZoneMatrix], float]) -> Feature:
    """A family's feature that uses one of the shared formulas above (docstring: code + formula)."""

    def compute(z: ZoneMatrix) -> float:
        return formula(z)

    compute.__doc__ = f"{title} ({code}): {(formula.__doc__ or '').strip()}"
    compute.__name__ = name
    return Feature(name, code, compute)


# (name suffix, formula) in IBSI order for GLRLM / GLSZM / GLDZM; NGLDM adds energy.
STANDARD = (
    small_emphasis,
    large_emphasis,
    low_grey_emphasis,
    high_grey_emphasis,
    small_low_emphasis,
    small_high_emphasis,
    large_low_emphasis,
    large_high_emphasis,
    grey_non_uniformity,
    grey_non_uniformity_normalised,
    size_non_uniformity,
    size_non_uniformity_normalised,
    percentage,
    grey_variance,
    size_variance,
    entropy,
)


def family_features(table: list[tuple[str, str, str]]) -> tuple[Feature, ...]:
    """Features for rows (name, IBSI code, title) paired with STANDARD formulas in order."""
    if len(table) != len(STANDARD):
        raise ValueError("one row per standard formula")
    return tuple(
        entry(name, code, title, formula)
        for (name, code, title), formula in zip(table, STANDARD, strict=True)
    )
