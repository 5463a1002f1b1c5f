"""Declared feature specifications and the encoder that turns a frame into a model matrix.

A model declares its inputs as :class:`FeatureSpec` rows (name, source, kind, missing-value
policy). :class:`FeatureEncoder` is fitted on the TRAINING rows only: it learns the imputation
values, the category levels and the standardisation (mean, standard deviation) there and applies
them unchanged to any later frame, so no information leaks from validation or test rows.

Encoding: numeric and binary features are imputed by policy and numeric ones standardised;
categorical features are one-hot encoded against their first (most frequent) training level, with
a ``missing`` level when the policy asks for one. A category not seen in training encodes as the
reference level and is reported by :meth:`FeatureEncoder.unseen_levels` (for the applicability
check), never silently invented.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

Source = Literal["clinical", "radiomics", "genomics"]
Kind = Literal["numeric", "binary", "categorical"]
# reject: a missing value is an error; median/mode: impute the training median (numeric) or most
# frequent value; indicator: impute the median and add a 0/1 "<name>__missing" column;
# category: a missing categorical value becomes its own level "missing".
MissingPolicy = Literal["reject", "median", "mode", "indicator", "category"]
# numeric features only: "log1p" takes log(1 + x) before imputation and standardisation (for
# skewed non-negative values such as node counts and receptor levels)
Transform = Literal["none", "log1p"]

SOURCES: tuple[str, ...] = ("clinical", "radiomics", "genomics")
KINDS: tuple[str, ...] = ("numeric", "binary", "categorical")
POLICIES: tuple[str, ...] = ("reject", "median", "mode", "indicator", "category")


class FeatureError(ValueError):
    """Bad specification or input frame (missing column, forbidden missing value, ...)."""


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    source: Source = "clinical"
    kind: Kind = "numeric"
    missing: MissingPolicy = "median"
    description: str = ""
    transform: Transform = "none"

    def __post_init__(self) -> None:
        if not self.name:
            raise FeatureError("a feature needs a name")
        if self.source not in SOURCES:
            raise FeatureError(f"{self.name}: source must be one of {SOURCES}")
        if self.kind not in KINDS:
            raise FeatureError(f"{self.name}: kind must be one of {KINDS}")
        if self.missing not in POLICIES:
            raise FeatureError(f"{self.name}: missing-value policy must be one of {POLICIES}")
        if self.missing == "category" and self.kind != "categorical":
            raise FeatureError(f"{self.name}: policy 'category' is for categorical features")
        if self.transform not in ("none", "log1p"):
            raise FeatureError(f"{self.name}: transform must be 'none' or 'log1p'")
        if self.transform != "none" and self.kind != "numeric":
            raise FeatureError(f"{self.name}: transforms apply to numeric features only")
        if self.missing in ("median", "indicator") and self.kind == "categorical":
            raise FeatureError(f"{self.name}: categorical features take 'mode' or 'category'")

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "source": self.source,
            "kind": self.kind,
            "missing": self.missing,
            "description": self.description,
            "transform": self.transform,
        }


def infer_specs(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> list[FeatureSpec]:
    """Specifications for every column not in ``exclude`` (used by the command-line tool).

    Numeric columns with two distinct values {0, 1} are binary, other numeric columns numeric
    (missing: median plus indicator when any value is missing; log(1 + x) when the values are
    non-negative and strongly right-skewed, skewness > 2), everything else categorical
    (missing: its own level). All are declared clinical.
    """
    skip = set(exclude)
    specs = []
    for name in frame.columns:
        if name in skip:
            continue
        col = frame[name]
        has_missing = bool(col.isna().any())
        if pd.api.types.is_bool_dtype(col) or (
            pd.api.types.is_numeric_dtype(col) and set(col.dropna().unique()) <= {0, 1}
        ):
            specs.append(FeatureSpec(str(name), kind="binary", missing="mode"))
        elif pd.api.types.is_numeric_dtype(col):
            policy: MissingPolicy = "indicator" if has_missing else "median"
            values = col.dropna().astype(float)
            skewed = bool((values >= 0).all() and values.nunique() > 2 and values.skew() > 2)
            transform: Transform = "log1p" if skewed else "none"
            specs.append(
                FeatureSpec(str(name), kind="numeric", missing=policy, transform=transform)
            )
        else:
            specs.append(FeatureSpec(str(name), kind="categorical", missing="category"))
    return specs


@dataclass
class _Fitted:
    fill: float | str | None = None
    mean: float = 0.0
    std: float = 1.0
    levels: list[str] = field(default_factory=list)  # categorical: levels[0] is the reference


class FeatureEncoder:
    """Fit on training rows, then transform any frame into a float matrix."""

    def __init__(self, specs: Sequence[FeatureSpec]):
        names = [s.name for s in specs]
        if not specs:
            raise FeatureError("at least one feature is needed")
        if len(set(names)) != len(names):
            raise FeatureError("feature names must be unique")
        self.specs = list(specs)
        self._fitted: dict[str, _Fitted] = {}
        self.columns_: list[str] = []

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> FeatureEncoder:
        self._check_columns(frame)
        fitted: dict[str, _Fitted] = {}
        columns: list[str] = []
        for spec in self.specs:
            col = frame[spec.name]
            self._check_missing(spec, col)
            state = _Fitted()
            if spec.kind == "categorical":
                values = col.astype(object).where(col.notna(), None)
                if spec.missing == "category":
                    values = values.where(values.notna(), "missing")
                counts = values.dropna().astype(str).value_counts()
                if counts.empty:
                    raise FeatureError(f"{spec.name}: no observed value in the training rows")
                # most frequent first (reference level), ties broken by name for determinism
                ordered = sorted(counts.index, key=lambda lvl: (-int(counts[lvl]), str(lvl)))
                state.levels = [str(lvl) for lvl in ordered]
                state.fill = state.levels[0]
                columns += [f"{spec.name}={lvl}" for lvl in state.levels[1:]]
            else:
                numeric = self._numeric(spec, col)
                observed = numeric[~np.isnan(numeric)]
                if observed.size == 0:
                    raise FeatureError(f"{spec.name}: no observed value in the training rows")
                if spec.kind == "binary":
                    state.fill = float(np.round(observed.mean()))  # mode of a 0/1 column
                else:
                    state.fill = float(np.median(observed))
                    filled = np.where(np.isnan(numeric), state.fill, numeric)
                    state.mean = float(filled.mean())
                    std = float(filled.std())
                    state.std = std if std > 0 else 1.0
                columns.append(spec.name)
                if spec.missing == "indicator":
                    columns.append(f"{spec.name}__missing")
            fitted[spec.name] = state
        self._fitted = fitted
        self.columns_ = columns
        return self

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    # -- transforming --------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if not self._fitted:
            raise FeatureError("the encoder is not fitted")
        self._check_columns(frame)
        blocks: list[np.ndarray] = []
        for spec in self.specs:
            col = frame[spec.name]
            self._check_missing(spec, col)
            state = self._fitted[spec.name]
            if spec.kind == "categorical":
                values = col.astype(object).where(col.notna(), None)
                if spec.missing == "category":
                    values = values.where(values.notna(), "missing")
                values = values.where(values.notna(), state.fill).astype(str)
                arr = values.to_numpy()
                for lvl in state.levels[1:]:
                    blocks.append((arr == lvl).astype(float)[:, None])
            else:
                numeric = self._numeric(spec, col)
                missing = np.isnan(numeric)
                filled = np.where(missing, float(state.fill or 0.0), numeric)
                if spec.kind == "numeric":
                    filled = (filled - state.mean) / state.std
                blocks.append(filled[:, None])
                if spec.missing == "indicator":
                    blocks.append(missing.astype(float)[:, None])
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.hstack(blocks)

    def unseen_levels(self, frame: pd.DataFrame) -> dict[str, list[str]]:
        """Categorical values in ``frame`` that the training rows never had."""
        out: dict[str, list[str]] = {}
        for spec in self.specs:
            if spec.kind != "categorical":
                continue
            known = set(self._fitted[spec.name].levels)
            values = frame[spec.name].dropna().astype(str)
            unseen = sorted(set(values) - known)
            if unseen:
                out[spec.name] = unseen
        return out

    # -- helpers -------------------------------------------------------------------------------
    def _check_columns(self, frame: pd.DataFrame) -> None:
        absent = [s.name for s in self.specs if s.name not in frame.columns]
        if absent:
            raise FeatureError(f"missing feature columns: {', '.join(absent)}")

    @staticmethod
    def _check_missing(spec: FeatureSpec, col: pd.Series) -> None:
        if spec.missing == "reject" and col.isna().any():
            raise FeatureError(f"{spec.name}: missing values are not allowed for this feature")

    @staticmethod
    def _numeric(spec: FeatureSpec, col: pd.Series) -> np.ndarray:
        try:
            numeric = pd.to_numeric(col, errors="raise").astype(float).to_numpy()
        except (TypeError, ValueError) as exc:
            raise FeatureError(f"{spec.name}: expected numbers") from exc
        if spec.kind == "binary" and not set(np.unique(numeric[~np.isnan(numeric)])) <= {0, 1}:
            raise FeatureError(f"{spec.name}: a binary feature takes 0 or 1")
        if spec.transform == "log1p":
            if (numeric[~np.isnan(numeric)] < 0).any():
                raise FeatureError(f"{spec.name}: log1p needs non-negative values")
            numeric = np.log1p(numeric)
        return np.asarray(numeric)
