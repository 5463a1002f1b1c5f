"""Intensity-volume histogram features (IBSI reference manual, section 3.5).

With grey levels i from X_min to X_max (step one bin), the volume fraction is
nu_i = 1 - (number of voxels with level < i) / N_v and the intensity fraction is
gamma_i = (i - X_min) / (X_max - X_min). Without discretisation (integer intensities, e.g.
the digital phantom or HU) the levels are the intensities themselves; X_min and X_max are the
ROI extremes, or the re-segmentation range when one is set.
"""

from __future__ import annotations

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.discretisation import discretise
from imaging.radiomics.registry import Family, Feature, FeatureValue, evaluate, feature
from imaging.radiomics.settings import RadiomicsSettings

FAMILY_KEY = "ivh"


class Curve:
    """The IVH: levels (in intensity units), their intensity and volume fractions."""

    def __init__(self, intensities: np.ndarray, fractions: np.ndarray, volumes: np.ndarray):
        self.intensities = intensities
        self.gamma = fractions
        self.nu = volumes

    def volume_at(self, x: float) -> float:
        return float(self.nu[np.argmax(self.gamma >= x)])

    def intensity_at(self, x: float) -> float:
        below = np.nonzero(self.nu <= x)[0]
        return float(self.intensities[below[0]] if below.size else self.intensities[-1])


@feature("v10", "BC2M")
def v10(c: Curve) -> float:
    """Volume at intensity fraction 10% (BC2M): V_10 = nu_j, j = min{i : gamma_i >= 0.10}."""
    return c.volume_at(0.10)


@feature("v90", "BC2M")
def v90(c: Curve) -> float:
    """Volume at intensity fraction 90% (BC2M): V_90 = nu_j, j = min{i : gamma_i >= 0.90}."""
    return c.volume_at(0.90)


@feature("i10", "GBPN")
def i10(c: Curve) -> float:
    """Intensity at volume fraction 10% (GBPN): I_10 = min{X_i : nu_i <= 0.10}."""
    return c.intensity_at(0.10)


@feature("i90", "GBPN")
def i90(c: Curve) -> float:
    """Intensity at volume fraction 90% (GBPN): I_90 = min{X_i : nu_i <= 0.90}."""
    return c.intensity_at(0.90)


@feature("v10_minus_v90", "DDTU")
def v10_minus_v90(c: Curve) -> float:
    """Volume fraction difference between intensity fractions (DDTU): V_10 - V_90."""
    return c.volume_at(0.10) - c.volume_at(0.90)


@feature("i10_minus_i90", "CNV2")
def i10_minus_i90(c: Curve) -> float:
    """Intensity fraction difference between volume fractions (CNV2): I_10 - I_90."""
    return c.intensity_at(0.10) - c.intensity_at(0.90)


@feature("area_under_curve", "9CMM")
def area_under_curve(c: Curve) -> float:
    """Area under the IVH curve (9CMM): trapezoidal integral of nu over gamma."""
    return float(np.trapezoid(c.nu, c.gamma))


FEATURES: tuple[Feature, ...] = (
    v10,
    v90,
    i10,
    i90,
    v10_minus_v90,
    i10_minus_i90,
    area_under_curve,
)


def curve(values: np.ndarray, settings: RadiomicsSettings) -> Curve:
    method = settings.ivh_discretisation
    rng = settings.resegmentation_range
    if method.method == "none":
        levels = np.rint(values).astype(np.int64)
        # An open range end (e.g. PET [0, inf)) falls back to the ROI extreme.
        lo = int(np.rint(rng[0])) if rng and np.isfinite(rng[0]) else int(levels.min())
        hi = int(np.rint(rng[1])) if rng and np.isfinite(rng[1]) else int(levels.max())
        grid = np.arange(lo, hi + 1)
        intensities: np.ndarray = grid.astype(np.float64)
    else:
        levels, ng = discretise(values, method, None if rng is None else rng[0])
        grid = np.arange(1, int(levels.max()) + 1 if method.method == "fbs" else ng + 1)
        if method.method == "fbs":
            base = rng[0] if rng else float(values.min())
            intensities = base + (grid - 0.5) * float(method.bin_width or 1.0)
        else:
            intensities = grid.astype(np.float64)
    counts = np.bincount(levels - grid[0], minlength=grid.size)[: grid.size]
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    nu = 1.0 - below / levels.size
    span = grid[-1] - grid[0]
    gamma = (grid - grid[0]) / span if span > 0 else np.ones(grid.size)
    return Curve(intensities, gamma.astype(np.float64), nu)


def compute(ctx: RoiContext) -> list[FeatureValue]:
    return evaluate(
        FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), (curve(ctx.values, ctx.settings),)
    )


FAMILY = Family(FAMILY_KEY, "Intensity-volume histogram features", FEATURES, compute)
