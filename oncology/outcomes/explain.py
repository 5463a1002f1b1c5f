"""Explanations of one prediction: feature contributions, top drivers in words, similar patients.

Contributions decompose a model's log hazard ratio (``model.risk``) for one patient into one
term per model input plus a base value (``base + sum(contributions) == risk``), by the method
that is exact or native for each model kind:

- Cox (``cox``): beta_j * (x_j - mean_j), the mean over the background (training) rows; the base
  is the linear predictor at the background mean. Exact.
- Gradient-boosted Cox (``xgb``): xgboost's own TreeSHAP (``pred_contribs=True``); the base is
  xgboost's bias term (the tree-cover-weighted expected margin), and base + contributions equals
  the margin xgboost predicts.
- Neural (``neural``): integrated gradients (Sundararajan et al. 2017) from the background mean
  to the patient, midpoint rule with ``steps`` points; completeness (sum == f(x) - f(baseline))
  holds up to the quadrature error, which :class:`Contributions` reports as ``residual``.

:class:`Explainer` wraps a fitted :class:`~oncology.outcomes.compare.TreatmentComparison`: for a
patient and an option it explains the log hazard under that option against the training
patients under the SAME option (so the option itself contributes nothing for Cox and the
network; for xgboost its SHAP share is reported as "treatment option"), sums the encoded columns
back to the declared features (one-hot levels, missing indicators and option x feature products
all count for their feature), and phrases the largest ones. :meth:`Explainer.similar_patients`
returns the k nearest training patients in the encoded (standardised, one-hot) feature space with
their observed time, event and option, identified by a research id column only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from oncology.outcomes.ensemble import single_thread
from oncology.outcomes.features import FeatureEncoder

OPTION_FEATURE = "treatment option"


class ExplanationError(ValueError):
    """The model kind or the input cannot be explained."""


@dataclass
class Contributions:
    """Per-input contributions to one patient's log hazard ratio."""

    base: float
    values: np.ndarray  # one per model input column
    risk: float  # the model's log hazard ratio for the patient
    method: str
    residual: float = 0.0  # risk - (base + sum(values)); 0 up to rounding except for IG


def _row(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[0] != 1:
        raise ExplanationError("explain one patient at a time")
    return x


def contributions(
    model: object, x: np.ndarray, background: np.ndarray, steps: int = 128
) -> Contributions:
    """Contributions of each encoded input to ``model.risk(x)`` for one patient ``x``."""
    x = _row(x)
    background = np.asarray(background, dtype=float)
    if background.ndim != 2 or background.shape[1] != x.shape[1]:
        raise ExplanationError("the background must have the patient's columns")
    kind = getattr(model, "kind", "")
    if kind not in ("cox", "xgb", "neural"):
        raise ExplanationError(f"no explanation method for model kind {kind!r}")
    risk = float(model.risk(x)[0])  # type: ignore[attr-defined]
    if kind == "cox":
        coef: np.ndarray = np.array(model.coef_, dtype=np.float64)  # type: ignore[attr-defined]
        mean = background.mean(axis=0)
        values = coef * (x[0] - mean)
        base = float(mean @ coef)
        method = "exact linear predictor"
    elif kind == "xgb":
        import xgboost as xgb

        raw = model.booster_.predict(xgb.DMatrix(x), pred_contribs=True)[0]  # type: ignore[attr-defined]
        values = np.asarray(raw[:-1], dtype=float)
        base = float(raw[-1])
        method = "TreeSHAP (xgboost)"
    elif kind == "neural":
        values, base = _integrated_gradients(model, x[0], background.mean(axis=0), steps)
        method = f"integrated gradients ({steps} steps)"
    else:
        raise ExplanationError(f"no explanation method for model kind {kind!r}")
    residual = risk - (base + float(values.sum()))
    return Contributions(base, values, risk, method, residual)


def _integrated_gradients(
    model: object, x: np.ndarray, baseline: np.ndarray, steps: int
) -> tuple[np.ndarray, float]:
    import torch

    if steps < 8:
        raise ExplanationError("integrated gradients need at least 8 steps")
    net = model.net_  # type: ignore[attr-defined]
    alphas = (np.arange(steps) + 0.5) / steps
    path = baseline[None, :] + alphas[:, None] * (x - baseline)[None, :]
    inputs = torch.as_tensor(path, dtype=torch.float64).requires_grad_(True)
    net.eval()
    with single_thread():
        out = net(inputs).sum()
        (grad,) = torch.autograd.grad(out, inputs)
        with torch.no_grad():
            base = float(net(torch.as_tensor(baseline[None, :], dtype=torch.float64))[0, 0])
    values = (x - baseline) * grad.numpy().mean(axis=0)
    return np.asarray(values, dtype=float), base


def column_features(encoder: FeatureEncoder) -> list[str]:
    """The declared feature behind each encoded column, in the encoder's column order."""
    names: list[str] = []
    for spec in encoder.specs:
        state = encoder._fitted[spec.name]
        if spec.kind == "categorical":
            names += [spec.name] * (len(state.levels) - 1)
        else:
            names.append(spec.name)
            if spec.missing == "indicator":
                names.append(spec.name)
    if len(names) != len(encoder.columns_):
        raise ExplanationError("the encoder's columns do not match its specifications")
    return names


@dataclass
class Explanation:
    option: str
    base: float
    risk: float
    method: str
    residual: float
    contributions: dict[str, float]  # per declared feature (and OPTION_FEATURE for xgboost)
    drivers: list[str] = field(default_factory=list)  # the top drivers in plain words

    def as_dict(self) -> dict:
        return {
            "option": self.option,
            "base": self.base,
            "risk": self.risk,
            "method": self.method,
            "residual": self.residual,
            "contributions": dict(self.contributions),
            "drivers": list(self.drivers),
        }


@dataclass
class SimilarPatient:
    research_id: str
    distance: float
    time: float
    event: bool
    option: str

    def as_dict(self) -> dict:
        return {
            "research_id": self.research_id,
            "distance": self.distance,
            "time": self.time,
            "event": self.event,
            "option": self.option,
        }


def _describe(feature: str, value: object, mean: float | None, effect: float) -> str:
    verb = "raises" if effect > 0 else "lowers"
    size = f"log hazard {effect:+.2f}"
    if mean is None:  # categorical or binary: name the value
        return f"{feature} = {value} {verb} the predicted risk ({size})"
    direction = "higher" if float(value) >= mean else "lower"  # type: ignore[arg-type]
    shown = f"{float(value):.4g}"  # type: ignore[arg-type]
    return (
        f"{direction} {feature} ({shown}, training average {mean:.4g}) {verb} the predicted "
        f"risk ({size})"
    )


class Explainer:
    """Explanations for a fitted :class:`~oncology.outcomes.compare.TreatmentComparison`."""

    def __init__(self, comparison: object, id_col: str | None = None, steps: int = 128):
        self.comparison = comparison
        frame, self.time_col, self.event_col = comparison._data  # type: ignore[attr-defined]
        self.encoder: FeatureEncoder = comparison.encoder_  # type: ignore[attr-defined]
        self.x_train = self.encoder.transform(frame)
        self.options_train = frame[comparison.treatment].astype(str).to_numpy()  # type: ignore[attr-defined]
        self.time = frame[self.time_col].to_numpy(dtype=float)
        self.event = frame[self.event_col].to_numpy().astype(bool)
        if id_col is not None and id_col not in frame.columns:
            raise ExplanationError(f"column {id_col!r} is not in the training cohort")
        self.ids = (
            frame[id_col].astype(str).to_numpy()
            if id_col is not None
            else np.asarray([str(i) for i in range(len(frame))])
        )
        self.steps = steps
        self.columns = column_features(self.encoder)
        self.means = {
            s.name: float(pd.to_numeric(frame[s.name], errors="coerce").mean())
            for s in self.encoder.specs
            if s.kind == "numeric"
        }

    def _model_and_inputs(
        self, x: np.ndarray, option: str
    ) -> tuple[object, np.ndarray, np.ndarray, list[str]]:
        comp = self.comparison
        if option not in comp.options_:  # type: ignore[attr-defined]
            raise ExplanationError(f"unknown option {option!r}")
        if comp.method == "interaction":  # type: ignore[attr-defined]
            code = comp.options_.index(option)  # type: ignore[attr-defined]
            design = comp._design(x, np.full(len(x), code))  # type: ignore[attr-defined]
            background = comp._design(  # type: ignore[attr-defined]
                self.x_train, np.full(len(self.x_train), code)
            )
            k = len(comp.options_)  # type: ignore[attr-defined]
            names = self.columns + [OPTION_FEATURE] * (k - 1) + self.columns * (k - 1)
            return comp.pooled_, design, background, names  # type: ignore[attr-defined]
        mask = self.options_train == option
        return comp.models_[option], x, self.x_train[mask], list(self.columns)  # type: ignore[attr-defined]

    def explain(self, patient: pd.DataFrame, option: str, top: int = 3) -> Explanation:
        """Per-feature contributions to the log hazard under ``option`` and the top drivers."""
        if len(patient) != 1:
            raise ExplanationError("explain one patient at a time")
        x = self.encoder.transform(patient)
        model, design, background, names = self._model_and_inputs(x, option)
        contrib = contributions(model, design, background, steps=self.steps)
        per_feature: dict[str, float] = {}
        for name, value in zip(names, contrib.values, strict=True):
            per_feature[name] = per_feature.get(name, 0.0) + float(value)
        ranked = sorted(per_feature.items(), key=lambda kv: -abs(kv[1]))
        drivers = []
        for name, effect in ranked[:top]:
            if abs(effect) < 1e-6:
                break
            if name == OPTION_FEATURE:
                drivers.append(
                    f"the option {option} itself {'raises' if effect > 0 else 'lowers'} the "
                    f"predicted risk (log hazard {effect:+.2f})"
                )
                continue
            drivers.append(_describe(name, patient[name].iloc[0], self.means.get(name), effect))
        return Explanation(
            option,
            contrib.base,
            contrib.risk,
            contrib.method,
            contrib.residual,
            per_feature,
            drivers,
        )

    def similar_patients(self, patient: pd.DataFrame, k: int = 5) -> list[SimilarPatient]:
        """The ``k`` training patients nearest in the encoded feature space, nearest first."""
        if len(patient) != 1:
            raise ExplanationError("compare one patient at a time")
        if not 1 <= k <= len(self.x_train):
            raise ExplanationError(f"k must lie between 1 and {len(self.x_train)}")
        x = self.encoder.transform(patient)[0]
        dist = np.sqrt(((self.x_train - x) ** 2).sum(axis=1))
        order = np.lexsort((np.arange(len(dist)), dist))[:k]  # ties: training order
        return [
            SimilarPatient(
                research_id=str(self.ids[i]),
                distance=float(dist[i]),
                time=float(self.time[i]),
                event=bool(self.event[i]),
                option=str(self.options_train[i]),
            )
            for i in order
        ]
