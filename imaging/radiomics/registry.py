"""The shape every feature family shares, and the values the engine returns.

A :class:`Feature` is one IBSI feature: a stable snake_case name (used by the outcome models,
so never renamed), its IBSI identifier and a function whose docstring gives the formula. A
:class:`Family` lists its features explicitly and computes them for one ROI.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

IBSI_CODE = re.compile(r"^[0-9A-Z]{4}$")


@dataclass(frozen=True)
class Feature:
    name: str
    ibsi_code: str
    function: Callable[..., float]

    @property
    def formula(self) -> str:
        return (self.function.__doc__ or "").strip()

    def __call__(self, *args: Any) -> float:
        return float(self.function(*args))


def feature(name: str, ibsi_code: str) -> Callable[[Callable[..., Any]], Feature]:
    """Declare a feature; the decorated function's docstring must carry its formula."""

    def wrap(function: Callable[..., Any]) -> Feature:
        return Feature(name, ibsi_code, function)

    return wrap


@dataclass(frozen=True)
class FeatureValue:
    family: str
    name: str
    ibsi_code: str
    value: float
    aggregation: str = ""

    @property
    def key(self) -> str:
        """Stable column name, e.g. ``glcm_joint_max_3d_merged`` or ``stat_mean``."""
        base = f"{self.family}_{self.name}"
        return f"{base}_{self.aggregation}" if self.aggregation else base


@dataclass(frozen=True)
class Family:
    key: str
    title: str  # the IBSI family title, as in the reference-value tables
    features: tuple[Feature, ...]
    compute: Callable[[Any], list[FeatureValue]]
    # The texture aggregations (IBSI 3.6.1) this family reports, which suffix its feature keys;
    # empty for the families without aggregation (morphology, intensity, histogram, ...).
    aggregations: tuple[str, ...] = ()

    def keys(self) -> tuple[str, ...]:
        """Every feature key this family can report (``FeatureValue.key``)."""
        names = [f"{self.key}_{f.name}" for f in self.features]
        if not self.aggregations:
            return tuple(names)
        return tuple(f"{n}_{a}" for n in names for a in self.aggregations)


def evaluate(
    family: str, features: Iterable[Feature], args: tuple[Any, ...], aggregation: str = ""
) -> list[FeatureValue]:
    """Apply every feature to ``args``; a feature undefined for this ROI gives NaN."""
    out = []
    # Degenerate ROIs (one voxel, one grey level, a flat slab) make some formulas undefined:
    # numpy's warnings become errors here and that feature's value NaN, whatever the global
    # filters. (One context for the whole loop: entering it per feature cost more than many
    # of the features.)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for f in features:
            try:
                value = f(*args)
            except (ZeroDivisionError, ValueError, FloatingPointError, RuntimeWarning):
                value = float("nan")
            out.append(FeatureValue(family, f.name, f.ibsi_code, value, aggregation))
    return out


def averaged(
    family: str, features: Iterable[Feature], arg_sets: list[tuple[Any, ...]], aggregation: str
) -> list[FeatureValue]:
    """Mean of each feature over several matrices (IBSI 'averaged' aggregation)."""
    features = tuple(features)
    rows = [evaluate(family, features, args) for args in arg_sets]
    out = []
    for k, f in enumerate(features):
        values = np.array([r[k].value for r in rows], dtype=np.float64)
        value = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        out.append(FeatureValue(family, f.name, f.ibsi_code, value, aggregation))
    return out
