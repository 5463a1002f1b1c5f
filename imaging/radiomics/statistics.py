"""Intensity-based statistical features (IBSI reference manual, section 3.3).

All use the intensities X_k, k = 1..N_v, of the voxels in the intensity mask (not discretised).
Variance and moments are population moments (divide by N_v), as IBSI specifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, evaluate, feature

FAMILY_KEY = "stat"


# Several features need the same order statistics, and each np.percentile / np.median call
# is a selection pass over all voxels. While a family evaluates its features on one array
# (:func:`order_statistics_shared`), they are computed once for that array; direct calls of a
# feature outside that scope compute them as before. np.percentile over several q gives the
# same values as one call per q (the same order statistics, the same interpolation).
_QUANTILES = (10.0, 25.0, 75.0, 90.0)
_SHARED: ContextVar[tuple[np.ndarray, dict[str, Any]] | None] = ContextVar(
    "radiomics_order_statistics", default=None
)


@contextmanager
def order_statistics_shared(x: np.ndarray) -> Iterator[None]:
    token = _SHARED.set((x, {}))
    try:
        yield
    finally:
        _SHARED.reset(token)


def _percentiles(x: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
    shared = _SHARED.get()
    if shared is None or shared[0] is not x or not set(qs) <= set(_QUANTILES):
        return tuple(float(v) for v in np.atleast_1d(np.percentile(x, qs)))
    cache = shared[1]
    if "quantiles" not in cache:
        cache["quantiles"] = dict(zip(_QUANTILES, np.percentile(x, _QUANTILES), strict=True))
    return tuple(float(cache["quantiles"][q]) for q in qs)


def _median(x: np.ndarray) -> float:
    shared = _SHARED.get()
    if shared is None or shared[0] is not x:
        return float(np.median(x))
    if "median" not in shared[1]:
        shared[1]["median"] = float(np.median(x))
    return float(shared[1]["median"])


def _robust(x: np.ndarray) -> np.ndarray:
    p10, p90 = _percentiles(x, (10.0, 90.0))
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
    # d * d * d, not d**3: numpy raises to the power 3 through libm pow, ~100x slower.
    return float(np.mean(d * d * d) / np.mean(d**2) ** 1.5)


@feature("kurtosis", "IPH6")
def kurtosis(x: np.ndarray) -> float:
    """(Excess) intensity kurtosis (IPH6): [1/N_v sum (X-mu)^4] / [1/N_v sum (X-mu)^2]^2 - 3."""
    d = x - x.mean()
    d2 = d * d  # numpy squares directly, but raises to the power 4 through libm pow
    return float(np.mean(d2 * d2) / np.mean(d2) ** 2 - 3.0)


@feature("median", "Y12H")
def median(x: np.ndarray) -> float:
    """Median intensity (Y12H): the sample median of X."""
    return _median(x)


@feature("minimum", "1GSF")
def minimum(x: np.ndarray) -> float:
    """Minimum intensity (1GSF): min(X)."""
    return float(x.min())


@feature("p10", "QG58")
def p10(x: np.ndarray) -> float:
    """10th intensity percentile (QG58): P10(X)."""
    return _percentiles(x, (10.0,))[0]


@feature("p90", "8DWT")
def p90(x: np.ndarray) -> float:
    """90th intensity percentile (8DWT): P90(X)."""
    return _percentiles(x, (90.0,))[0]


@feature("maximum", "84IY")
def maximum(x: np.ndarray) -> float:
    """Maximum intensity (84IY): max(X)."""
    return float(x.max())


@feature("interquartile_range", "SALO")
def interquartile_range(x: np.ndarray) -> float:
    """Intensity interquartile range (SALO): P75(X) - P25(X)."""
    q25, q75 = _percentiles(x, (25.0, 75.0))
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
    return float(np.mean(np.abs(x - _median(x))))


@feature("coefficient_of_variation", "7TET")
def coefficient_of_variation(x: np.ndarray) -> float:
    """Intensity-based coefficient of variation (7TET): sigma / mu (sigma population SD)."""
    return float(x.std() / x.mean())


@feature("quartile_coefficient_of_dispersion", "9S40")
def quartile_coefficient_of_dispersion(x: np.ndarray) -> float:
    """Quartile coefficient of dispersion (9S40): (P75 - P25) / (P75 + P25)."""
    q25, q75 = _percentiles(x, (25.0, 75.0))
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
    x = ctx.values
    with order_statistics_shared(x):
        return evaluate(FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), (x,))


FAMILY = Family(FAMILY_KEY, "Intensity-based statistical features", FEATURES, compute)
