"""The validation protocol: repeated stratified 80/20 splits of one cohort, for one model kind.

For each split the feature encoder and the model are fitted on the 80 % training rows only;
the 20 % test rows give Harrell's C, Uno's C (truncated at the end of the time grid), the
integrated Brier score over the time grid (and, for reference, that of the training rows'
Kaplan–Meier curve, which ignores the covariates), and the Brier score and calibration error at
the horizon. Splits are stratified by event status and treatment so every split keeps the cohort's
mix. The time grid runs over 50 points from the 10th to the 90th percentile of the test rows'
observed times. The horizon defaults to the cohort's median follow-up (reverse Kaplan–Meier).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oncology.outcomes import metrics
from oncology.outcomes.features import FeatureEncoder, FeatureSpec, infer_specs
from oncology.outcomes.models import MODEL_KINDS, make_model

METRIC_NAMES = (
    "harrell_c",
    "uno_c",
    "integrated_brier",
    "brier_at_horizon",
    "calibration_error",
    "calibration_noise",
    "integrated_brier_km",
)


class EvaluationError(ValueError):
    """The cohort or the options cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class SurvivalData:
    time: np.ndarray
    event: np.ndarray
    features: pd.DataFrame
    specs: list[FeatureSpec]
    strata: np.ndarray


def prepare(
    frame: pd.DataFrame,
    time_col: str,
    event_col: str,
    treatment_cols: Sequence[str] = (),
    specs: Sequence[FeatureSpec] | None = None,
) -> SurvivalData:
    """Check the outcome columns and declare every other column a feature (or use ``specs``)."""
    for col in (time_col, event_col, *treatment_cols):
        if col not in frame.columns:
            raise EvaluationError(f"column {col!r} is not in the cohort")
    if len(frame) < 20:
        raise EvaluationError("at least 20 patients are needed")
    time = pd.to_numeric(frame[time_col], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(time).all() or (time < 0).any():
        raise EvaluationError(f"{time_col}: every time must be a non-negative number")
    raw_event = pd.to_numeric(frame[event_col], errors="coerce")
    if raw_event.isna().any() or not set(raw_event.unique()) <= {0, 1}:
        raise EvaluationError(f"{event_col}: every event must be 0 (censored) or 1 (event)")
    event = raw_event.to_numpy(dtype=int)
    if event.sum() < 10:
        raise EvaluationError("at least 10 events are needed")
    features = frame.drop(columns=[time_col, event_col])
    if specs is None:
        inferred = infer_specs(features, exclude=treatment_cols)
        treat_specs = [
            FeatureSpec(col, "clinical", "categorical", "category", "treatment")
            for col in treatment_cols
        ]
        specs = treat_specs + inferred
        features = features.copy()
        for col in treatment_cols:  # a treatment is always categorical, however it is coded
            features[col] = features[col].astype(object).where(features[col].notna(), None)
            features[col] = features[col].map(lambda v: None if v is None else str(v))
    if not specs:
        raise EvaluationError("the cohort has no feature column")
    strata = pd.Series(event.astype(str))
    for col in treatment_cols:
        strata = strata + "|" + frame[col].astype(str).to_numpy()
    return SurvivalData(time, event, features, list(specs), strata.to_numpy())


def stratified_splits(
    strata: np.ndarray, n_splits: int = 5, test_fraction: float = 0.2, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated random splits; each stratum contributes round(fraction * size) test rows."""
    if n_splits < 1:
        raise EvaluationError("splits must be at least 1")
    if not 0 < test_fraction < 1:
        raise EvaluationError("the test fraction must lie between 0 and 1")
    rng = np.random.default_rng(seed)
    labels = np.asarray(strata)
    out = []
    for _ in range(n_splits):
        test = []
        for value in np.unique(labels):
            members = np.flatnonzero(labels == value)
            k = int(round(test_fraction * len(members)))
            test.append(rng.permutation(members)[:k])
        test_idx = np.sort(np.concatenate(test))
        train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
        out.append((train_idx, test_idx))
    return out


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan–Meier method (censoring as the event)."""
    g = metrics.CensoringKM(time, event)
    below = np.flatnonzero(g.survival <= 0.5)
    if below.size:
        return float(g.times[below[0]])
    return float(np.median(time))


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def _km_curve(time: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Kaplan–Meier survival at each of ``at`` (right-continuous)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    times = np.unique(t[e])
    at_risk = len(t) - np.searchsorted(np.sort(t), times, side="left")
    deaths = np.bincount(np.searchsorted(times, t[e]), minlength=len(times))
    surv = np.cumprod(1.0 - deaths / at_risk)
    idx = np.searchsorted(times, np.asarray(at, dtype=float), side="right")
    return np.asarray(np.concatenate([[1.0], surv])[idx])


def evaluate_split(
    data: SurvivalData,
    train: np.ndarray,
    test: np.ndarray,
    model_kind: str,
    horizon: float,
    seed: int,
    censoring_from_test: bool = False,
    model_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit on ``train``, score on ``test``. The censoring distribution for the IPCW metrics is
    estimated on the training rows, or on the test rows for an external cohort whose follow-up
    differs (``censoring_from_test``)."""
    enc = FeatureEncoder(data.specs)
    x_train = enc.fit_transform(data.features.iloc[train])
    x_test = enc.transform(data.features.iloc[test])
    tr_t, tr_e = data.time[train], data.event[train]
    te_t, te_e = data.time[test], data.event[test]
    model = make_model(model_kind, seed=seed, **(model_params or {})).fit(x_train, tr_t, tr_e)
    cens_t, cens_e = (te_t, te_e) if censoring_from_test else (tr_t, tr_e)
    risk = model.risk(x_test)
    upper = min(np.percentile(te_t, 90), np.nextafter(te_t.max(), -np.inf), cens_t.max())
    lower = max(np.percentile(te_t, 10), te_t.min())
    if not lower < upper:
        raise EvaluationError("the test rows' follow-up is too short for a time grid")
    grid = np.linspace(lower, upper, 50)
    surv = model.predict_survival(x_test, grid)
    if not (te_t.min() <= horizon < min(te_t.max(), cens_t.max())):
        raise EvaluationError(f"the horizon {horizon:g} lies outside a split's follow-up")
    at_h = model.predict_survival(x_test, np.array([horizon]))
    # reference without covariates: the training rows' Kaplan–Meier curve for every patient
    km = _km_curve(tr_t, tr_e, grid)
    km_surv = np.tile(km, (len(test), 1))
    return {
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "events_test": int(te_e.sum()),
        "harrell_c": metrics.harrell_c(te_t, te_e, risk),
        "uno_c": metrics.uno_c(cens_t, cens_e, te_t, te_e, risk, tau=float(upper)),
        "integrated_brier": metrics.integrated_brier_score(cens_t, cens_e, te_t, te_e, surv, grid),
        "integrated_brier_km": metrics.integrated_brier_score(
            cens_t, cens_e, te_t, te_e, km_surv, grid
        ),
        "brier_at_horizon": float(
            metrics.brier_scores(cens_t, cens_e, te_t, te_e, at_h, np.array([horizon]))[0]
        ),
        "calibration_error": metrics.calibration_error(te_t, te_e, at_h[:, 0], horizon),
        "calibration_noise": metrics.calibration_noise(te_t, te_e, at_h[:, 0], horizon),
        "mean_predicted_survival_at_horizon": float(at_h.mean()),
        "km_survival_at_horizon": metrics.kaplan_meier(te_t, te_e, horizon),
    }


def evaluate(
    frame: pd.DataFrame,
    time_col: str,
    event_col: str,
    treatment_cols: Sequence[str] = (),
    model_kind: str = "cox",
    n_splits: int = 5,
    seed: int = 0,
    horizon: float | None = None,
    specs: Sequence[FeatureSpec] | None = None,
    model_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the protocol; returns a JSON-ready dict with each split's metrics and their mean.
    ``model_params`` go to the model's constructor (e.g. ``{"splines": 4}`` for Cox)."""
    if model_kind not in MODEL_KINDS:
        raise EvaluationError(f"unknown model {model_kind!r}; choose one of {list(MODEL_KINDS)}")
    data = prepare(frame, time_col, event_col, treatment_cols, specs)
    if horizon is None:
        horizon = median_follow_up(data.time, data.event)
        horizon_source = "median follow-up (reverse Kaplan-Meier)"
    else:
        if not math.isfinite(horizon) or horizon <= 0:
            raise EvaluationError("the horizon must be a positive number")
        horizon_source = "given"
    splits = []
    for i, (train, test) in enumerate(stratified_splits(data.strata, n_splits, 0.2, seed)):
        try:
            result = evaluate_split(
                data, train, test, model_kind, float(horizon), seed + i, model_params=model_params
            )
        except metrics.MetricError as exc:
            raise EvaluationError(f"split {i}: {exc}") from exc
        splits.append({"split": i, **result})
    mean: dict[str, float | None] = {}
    sd: dict[str, float | None] = {}
    for name in METRIC_NAMES:
        mean[name], sd[name] = _mean_sd([s[name] for s in splits])
    return {
        "model": model_kind,
        "model_params": dict(model_params or {}),
        "patients": int(len(data.time)),
        "events": int(data.event.sum()),
        "time_column": time_col,
        "event_column": event_col,
        "treatment_columns": list(treatment_cols),
        "features": [spec.as_dict() for spec in data.specs],
        "horizon": float(horizon),
        "horizon_source": horizon_source,
        "protocol": {"splits": n_splits, "test_fraction": 0.2, "seed": seed},
        "splits": splits,
        "mean": mean,
        "sd": sd,
    }
