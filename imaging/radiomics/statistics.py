"""Intensity-based statistical features (IBSI reference manual, section 3.3).

All use the intensities X_k, k = 1..N_v, of the voxels in the intensity mask (not discretised).
Variance and moments are population moments (divide by N_v), as IBSI specifies.
"""

from __future__ import annotations

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, evaluate, feature

FAMILY_KEY = "stat"


def _robust(x: np.ndarray) -> np.ndarray:
    p10, p90 = np.percentile(x, [10, 90])
    return x[(x >= p10) & (x <= p90)]


@feature("mean", "Q4LE")
def mean(x: np.ndarray) -> float:
    """Mean intensity (Q4LE): mu = 1/N_v sum_k X_k."""
    return float(x.mean())


@feature("variance", "ECT3")
def variance(x: np.ndarray) -> float:
    """Intensity variance (ECT3): 1/N_v sum_k (X_k - mu)^2."""
    return float(x.var())


@feature("skewness", "KE2A")
def skewness(x: np.ndarray) -> float:
    """Intensity skewness (KE2A): [1/N_v sum (X_k-mu)^3] / [1/N_v sum (X_k-mu)^2]^(3/2)."""
    d = x - x.mean()
    return float(np.mean(d**3) / np.mean(d**2) ** 1.5)


@feature("kurtosis", "IPH6")
def kurtosis(x: np.ndarray) -> float:
    """(Excess) intensity kurtosis (IPH6): [1/N_v sum (X-mu)^4] / [1/N_v sum (X-mu)^2]^2 - 3."""
    d = x - x.mean()
    return float(np.mean(d**4) / np.mean(d**2) ** 2 - 3.0)


@feature("median", "Y12H")
def median(x: np.ndarray) -> float:
    """Median intensity (Y12H): the sample median of X."""
    return float(np.median(x))


@feature("minimum", "1GSF")
def minimum(x: np.ndarray) -> float:
    """Minimum intensity (1GSF): min(X)."""
    return float(x.min())


@feature("p10", "QG58")
def p10(x: np.ndarray) -> float:
    """10th intensity percentile (QG58): P10(X)."""
    return float(np.percentile(x, 10))


@feature("p90", "8DWT")
def p90(x: np.ndarray) -> float:
    """90th intensity percentile (8DWT): P90(X)."""
    return float(np.percentile(x, 90))


@feature("maximum", "84IY")
def maximum(x: np.ndarray) -> float:
    """Maximum intensity (84IY): max(X)."""
    return float(x.max())


@feature("interquartile_range", "SALO")
def interquartile_range(x: np.ndarray) -> float:
    """Intensity interquartile range (SALO): P75(X) - P25(X)."""
    q25, q75 = np.percentile(x, [25, 75])
    return float(q75 - q25)


@feature("range", "2OJQ")
def intensity_range(x: np.ndarray) -> float:
    """Intensity range (2OJQ): max(X) - min(X)."""
    return float(x.max() - x.min())


@feature("mean_absolute_deviation", "4FUA")
def mean_absolute_deviation(x: np.ndarray) -> float:
    """Intensity-based mean absolute deviation (4FUA): 1/N_v sum_k |X_k - mu|."""
    return float(np.mean(np.abs(x - x.mean())))


@feature("robust_mean_absolute_deviation", "1128")
def robust_mean_absolute_deviation(x: np.ndarray) -> float:
    """Robust mean absolute deviation (1128): 1/N_10-90 sum |X_10-90 - mean(X_10-90)|.

    X_10-90 are the intensities between the 10th and 90th percentile (inclusive).
    """
    r = _robust(x)
    return float(np.mean(np.abs(r - r.mean())))


@feature("median_absolute_deviation", "N72L")
def median_absolute_deviation(x: np.ndarray) -> float:
    """Intensity-based median absolute deviation (N72L): 1/N_v sum_k |X_k - median(X)|."""
    return float(np.mean(np.abs(x - np.median(x))))


@feature("coefficient_of_variation", "7TET")
def coefficient_of_variation(x: np.ndarray) -> float:
    """Intensity-based coefficient of variation (7TET): sigma / mu (sigma population SD)."""
    return float(x.std() / x.mean())


@feature("quartile_coefficient_of_dispersion", "9S40")
def quartile_coefficient_of_dispersion(x: np.ndarray) -> float:
    """Quartile coefficient of dispersion (9S40): (P75 - P25) / (P75 + P25)."""
    q25, q75 = np.percentile(x, [25, 75])
    return float((q75 - q25) / (q75 + q25))


@feature("energy", "N8CA")
def energy(x: np.ndarray) -> float:
    """Intensity-based energy (N8CA): sum_k X_k^2."""
    return float(np.sum(x**2))


@feature("root_mean_square", "5ZWQ")
def root_mean_square(x: np.ndarray) -> float:
    """Root mean square intensity (5ZWQ): sqrt(1/N_v sum_k X_k^2)."""
    return float(np.sqrt(np.mean(x**2)))


FEATURES: tuple[Feature, ...] = (
    mean,
    variance,
    skewness,
    kurtosis,
    median,
    minimum,
    p10,
    p90,
    maximum,
    interquartile_range,
    intensity_range,
    mean_absolute_deviation,
    robust_mean_absolute_deviation,
    median_absolute_deviation,
    coefficient_of_variation,
    quartile_coefficient_of_dispersion,
    energy,
    root_mean_square,
)


def compute(ctx: RoiContext) -> list[FeatureValue]:
    return evaluate(FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), (ctx.values,))


FAMILY = Family(FAMILY_KEY, "Intensity-based statistical features", FEATURES, compute)
