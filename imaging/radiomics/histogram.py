"""Intensity histogram features (IBSI reference manual, section 3.4).

They use the discretised grey levels X_d,k (1..N_g) of the intensity mask, with
p_i = n_i / N_v the histogram of grey level i.
"""

from __future__ import annotations

import numpy as np

from imaging.radiomics import statistics as st
from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, evaluate, feature

FAMILY_KEY = "ih"


def _hist(x: np.ndarray, ng: int) -> np.ndarray:
    return np.bincount(x.astype(np.int64), minlength=ng + 1)[1:].astype(np.float64)


def _gradient(x: np.ndarray, ng: int) -> np.ndarray:
    h = _hist(x, ng)
    if h.size < 2:
        return np.zeros_like(h)
    return np.gradient(h)  # central differences inside, one-sided at both ends (IBSI 3.4.20)


def _same(name: str, code: str, source: Feature, title: str) -> Feature:
    doc = f"{title} ({code}): as {source.ibsi_code}, on discretised grey levels. {source.formula}"

    def compute(x: np.ndarray, ng: int) -> float:
        return source.function(x)

    compute.__doc__ = doc
    return Feature(name, code, compute)


mean = _same("mean", "X6K6", st.mean, "Mean discretised intensity")
variance = _same("variance", "CH89", st.variance, "Discretised intensity variance")
skewness = _same("skewness", "88K1", st.skewness, "Discretised intensity skewness")
kurtosis = _same("kurtosis", "C3I7", st.kurtosis, "(Excess) discretised intensity kurtosis")
median = _same("median", "WIFQ", st.median, "Median discretised intensity")
minimum = _same("minimum", "1PR8", st.minimum, "Minimum discretised intensity")
# The IBSI manual gives the 10th percentile the same identifier as the minimum (1PR8).
p10 = _same("p10", "1PR8", st.p10, "10th discretised intensity percentile")
p90 = _same("p90", "GPMT", st.p90, "90th discretised intensity percentile")
maximum = _same("maximum", "3NCY", st.maximum, "Maximum discretised intensity")


@feature("mode", "AMMC")
def mode(x: np.ndarray, ng: int) -> float:
    """Intensity histogram mode (AMMC): the grey level i with the largest n_i (lowest on ties)."""
    return float(np.argmax(_hist(x, ng)) + 1)


interquartile_range = _same(
    "interquartile_range", "WR0O", st.interquartile_range, "Discretised interquartile range"
)
intensity_range = _same("range", "5Z3W", st.intensity_range, "Discretised intensity range")
mean_absolute_deviation = _same(
    "mean_absolute_deviation", "D2ZX", st.mean_absolute_deviation, "Histogram MAD"
)
robust_mean_absolute_deviation = _same(
    "robust_mean_absolute_deviation",
    "WRZB",
    st.robust_mean_absolute_deviation,
    "Histogram robust MAD",
)
median_absolute_deviation = _same(
    "median_absolute_deviation", "4RNL", st.median_absolute_deviation, "Histogram median AD"
)
coefficient_of_variation = _same(
    "coefficient_of_variation", "CWYJ", st.coefficient_of_variation, "Histogram CoV"
)
quartile_coefficient_of_dispersion = _same(
    "quartile_coefficient_of_dispersion",
    "SLWD",
    st.quartile_coefficient_of_dispersion,
    "Histogram quartile coefficient of dispersion",
)


@feature("entropy", "TLU2")
def entropy(x: np.ndarray, ng: int) -> float:
    """Discretised intensity entropy (TLU2): -sum_i p_i log2 p_i."""
    p = _hist(x, ng) / x.size
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


@feature("uniformity", "BJ5W")
def uniformity(x: np.ndarray, ng: int) -> float:
    """Discretised intensity uniformity (BJ5W): sum_i p_i^2."""
    p = _hist(x, ng) / x.size
    return float(np.sum(p**2))


@feature("max_gradient", "12CE")
def max_gradient(x: np.ndarray, ng: int) -> float:
    """Maximum histogram gradient (12CE): max_i H'(i).

    H'(i) = (n_(i+1) - n_(i-1)) / 2 inside, n_2 - n_1 at i = 1, n_Ng - n_(Ng-1) at i = Ng.
    """
    return float(_gradient(x, ng).max())


@feature("max_gradient_grey_level", "8E6O")
def max_gradient_grey_level(x: np.ndarray, ng: int) -> float:
    """Maximum histogram gradient intensity (8E6O): argmax_i H'(i) (lowest i on ties)."""
    return float(np.argmax(_gradient(x, ng)) + 1)


@feature("min_gradient", "VQB3")
def min_gradient(x: np.ndarray, ng: int) -> float:
    """Minimum histogram gradient (VQB3): min_i H'(i), H' as for 12CE."""
    return float(_gradient(x, ng).min())


@feature("min_gradient_grey_level", "RHQZ")
def min_gradient_grey_level(x: np.ndarray, ng: int) -> float:
    """Minimum histogram gradient intensity (RHQZ): argmin_i H'(i) (lowest i on ties)."""
    return float(np.argmin(_gradient(x, ng)) + 1)


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
    mode,
    interquartile_range,
    intensity_range,
    mean_absolute_deviation,
    robust_mean_absolute_deviation,
    median_absolute_deviation,
    coefficient_of_variation,
    quartile_coefficient_of_dispersion,
    entropy,
    uniformity,
    max_gradient,
    max_gradient_grey_level,
    min_gradient,
    min_gradient_grey_level,
)


def compute(ctx: RoiContext) -> list[FeatureValue]:
    x = ctx.levels[ctx.texture_mask].astype(np.float64)
    with st.order_statistics_shared(x):
        return evaluate(FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), (x, ctx.n_levels))


FAMILY = Family(FAMILY_KEY, "Intensity histogram features", FEATURES, compute)
