"""The benign/malignant classifier over a lesion feature table (:mod:`imaging.lesions.table`).

Two algorithms:

- ``logistic``: features standardised on the training rows, L2-penalised logistic regression
  (scikit-learn, ``C`` = 1.0, lbfgs). Per-feature contribution to one prediction: coefficient x
  standardised value, on the log-odds scale (they sum, with the intercept, to the logit).
- ``xgboost``: gradient-boosted trees (``binary:logistic``, 200 trees of depth 3, learning rate
  0.05, one thread, seeded). Per-feature contribution: xgboost's exact tree SHAP values on the
  log-odds scale (``pred_contribs``; they sum, with the bias, to the logit).

Validation (:func:`validate`): ``splits`` repeated stratified 80/20 splits (seeded), fitted on
each 80 % and measured on its 20 %: ROC AUC, Brier score, expected calibration error (10 equal-
width bins), sensitivity and specificity at a stated threshold; their mean and SD, and 95 %
bootstrap intervals of each mean (each split's test rows resampled, the metric averaged over
splits, 2.5th and 97.5th percentiles). Calibration: observed malignant fraction against mean
predicted probability per bin, pooled over the splits' test rows.

A fitted :class:`MalignancyModel` also keeps ``replicates`` refits on bootstrap resamples of
the training rows, from which one prediction gets a 95 % interval, and the training range of
each feature, outside which a prediction is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from imaging.lesions.table import LesionTable

ALGORITHMS = ("logistic", "xgboost")
DEFAULT_THRESHOLD = 0.5
CALIBRATION_BINS = 10
METRICS = ("auc", "brier", "calibration_error", "sensitivity", "specificity")


class MalignancyError(ValueError):
    """The classifier cannot be trained or used on this input; the message says why."""


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Sum over equal-width probability bins of (bin share) x |observed rate - mean predicted|."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            total += inside.mean() * abs(y[inside].mean() - p[inside].mean())
    return float(total)


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = index == b
        if inside.any():
            rows.append(
                {
                    "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                    "n": int(inside.sum()),
                    "mean_predicted": round(float(p[inside].mean()), 4),
                    "observed": round(float(y[inside].mean()), 4),
                }
            )
    return rows


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    called = p >= threshold
    return {
        "auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "calibration_error": expected_calibration_error(y, p),
        "sensitivity": float((called & (y == 1)).sum() / max(1, (y == 1).sum())),
        "specificity": float((~called & (y == 0)).sum() / max(1, (y == 0).sum())),
    }


class _Fitted:
    """One fitted classifier (no bootstrap refits)."""

    def __init__(self, algorithm: str, seed: int, c: float) -> None:
        self.algorithm = algorithm
        self.seed = seed
        self.c = c
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.model_: Any = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Fitted:
        if self.algorithm == "logistic":
            self.mean_ = x.mean(axis=0)
            scale = x.std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
            self.model_ = LogisticRegression(C=self.c, max_iter=5000).fit(self._z(x), y)
        else:
            import xgboost as xgb

            self.model_ = xgb.XGBClassifier(
                n_estimators=200,
                max_depth=3,
                learning_rate=0.05,
                subsample=1.0,
                n_jobs=1,
                random_state=self.seed,
                eval_metric="logloss",
            ).fit(x, y)
        return self

    def _z(self, x: np.ndarray) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise MalignancyError("the model is not fitted")
        return (x - self.mean_) / self.scale_

    def proba(self, x: np.ndarray) -> np.ndarray:
        if self.algorithm == "logistic":
            return np.asarray(self.model_.predict_proba(self._z(x))[:, 1], dtype=float)
        return np.asarray(self.model_.predict_proba(x)[:, 1], dtype=float)

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Per-feature log-odds contributions (n, features) and the intercept/bias."""
        if self.algorithm == "logistic":
            coef = self.model_.coef_[0]
            return self._z(x) * coef, float(self.model_.intercept_[0])
        import xgboost as xgb

        contrib = self.model_.get_booster().predict(xgb.DMatrix(x), pred_contribs=True)
        return np.asarray(contrib[:, :-1], dtype=float), float(contrib[0, -1])


@dataclass
class MalignancyModel:
    algorithm: str
    feature_names: list[str]
    threshold: float = DEFAULT_THRESHOLD
    seed: int = 0
    c: float = 1.0
    replicates: int = 0
    ranges: dict[str, list[float]] = field(default_factory=dict)
    main_: _Fitted | None = None
    refits_: list[_Fitted] = field(default_factory=list)

    def fit(self, table: LesionTable) -> MalignancyModel:
        x, y = _xy(table, self.feature_names)
        self.main_ = _Fitted(self.algorithm, self.seed, self.c).fit(x, y)
        rng = np.random.default_rng(self.seed)
        self.refits_ = []
        for _ in range(self.replicates):
            idx = np.concatenate(
                [rng.choice(np.flatnonzero(y == k), (y == k).sum()) for k in (0, 1)]
            )
            self.refits_.append(_Fitted(self.algorithm, self.seed, self.c).fit(x[idx], y[idx]))
        self.ranges = {
            n: [float(x[:, i].min()), float(x[:, i].max())]
            for i, n in enumerate(self.feature_names)
        }
        return self

    def _matrix(self, rows: pd.DataFrame | dict[str, Any]) -> np.ndarray:
        frame = pd.DataFrame([rows]) if isinstance(rows, dict) else rows
        missing = [n for n in self.feature_names if n not in frame.columns]
        if missing:
            raise MalignancyError(
                f"{len(missing)} input(s) the model needs are missing: {', '.join(missing[:5])}"
            )
        values = frame[self.feature_names].apply(pd.to_numeric, errors="coerce")
        bad = [n for n in self.feature_names if not np.isfinite(values[n].to_numpy(float)).all()]
        if bad:
            raise MalignancyError(f"inputs that are not finite numbers: {', '.join(bad[:5])}")
        return values.to_numpy(dtype=float)

    def predict_proba(self, rows: pd.DataFrame | dict[str, Any]) -> np.ndarray:
        if self.main_ is None:
            raise MalignancyError("the model is not fitted")
        return self.main_.proba(self._matrix(rows))

    def explain(self, features: dict[str, Any], top: int = 5) -> dict[str, Any]:
        """One lesion: probability, 95 % interval from the bootstrap refits (if any), the
        strongest per-feature contributions, and inputs outside the training range."""
        if self.main_ is None:
            raise MalignancyError("the model is not fitted")
        x = self._matrix(features)
        p = float(self.main_.proba(x)[0])
        contrib, base = self.main_.contributions(x)
        order = np.argsort(-np.abs(contrib[0]))[:top]
        drivers = [
            {
                "feature": self.feature_names[i],
                "value": float(x[0, i]),
                "log_odds": round(float(contrib[0, i]), 4),
                "direction": "towards malignant" if contrib[0, i] > 0 else "towards benign",
            }
            for i in order
        ]
        interval = None
        if self.refits_:
            draws = np.array([r.proba(x)[0] for r in self.refits_])
            interval = [
                round(float(np.quantile(draws, 0.025)), 4),
                round(float(np.quantile(draws, 0.975)), 4),
            ]
        outside = [
            n
            for i, n in enumerate(self.feature_names)
            if not self.ranges[n][0] <= x[0, i] <= self.ranges[n][1]
        ]
        warnings = (
            [f"{len(outside)} input(s) outside the training range: {', '.join(outside[:5])}"]
            if outside
            else []
        )
        return {
            "probability": round(p, 4),
            "interval": interval,
            "threshold": self.threshold,
            "call": "malignant" if p >= self.threshold else "benign",
            "drivers": drivers,
            "base_log_odds": round(base, 4),
            "warnings": warnings,
        }


def _xy(table: LesionTable, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return table.features[names].to_numpy(dtype=float), np.asarray(table.labels, dtype=int)


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise MalignancyError(f"unknown algorithm {algorithm!r}; choose one of {ALGORITHMS}")


def train(
    table: LesionTable,
    algorithm: str = "logistic",
    *,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    replicates: int = 50,
) -> MalignancyModel:
    _check_algorithm(algorithm)
    if not 0.0 < threshold < 1.0:
        raise MalignancyError("the threshold is a probability between 0 and 1 (exclusive)")
    return MalignancyModel(
        algorithm, table.feature_names, threshold, seed, replicates=replicates
    ).fit(table)


def stratified_splits(
    y: np.ndarray, splits: int, seed: int, test_fraction: float = 0.2
) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(splits):
        test = np.zeros(len(y), dtype=bool)
        for k in (0, 1):
            idx = np.flatnonzero(y == k)
            test[rng.permutation(idx)[: round(len(idx) * test_fraction)]] = True
        out.append((np.flatnonzero(~test), np.flatnonzero(test)))
    return out


def validate(
    table: LesionTable,
    algorithm: str = "logistic",
    *,
    splits: int = 5,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    bootstrap: int = 200,
) -> dict[str, Any]:
    """The validation report described in the module docstring."""
    _check_algorithm(algorithm)
    if splits < 1:
        raise MalignancyError("at least one split")
    x, y = _xy(table, table.feature_names)
    per_split, tests = [], []
    for i, (train_idx, test_idx) in enumerate(stratified_splits(y, splits, seed)):
        fitted = _Fitted(algorithm, seed + i, 1.0).fit(x[train_idx], y[train_idx])
        p = fitted.proba(x[test_idx])
        per_split.append(
            {
                "split": i + 1,
                **{k: round(v, 4) for k, v in binary_metrics(y[test_idx], p, threshold).items()},
            }
        )
        tests.append((y[test_idx], p))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(bootstrap):
        values: dict[str, list[float]] = {m: [] for m in METRICS}
        for yt, pt in tests:
            idx = rng.integers(0, len(yt), len(yt))
            if yt[idx].min() == yt[idx].max():
                continue
            for m, v in binary_metrics(yt[idx], pt[idx], threshold).items():
                values[m].append(v)
        for m in METRICS:
            if values[m]:
                draws[m].append(float(np.mean(values[m])))
    y_all = np.concatenate([t[0] for t in tests])
    p_all = np.concatenate([t[1] for t in tests])
    return {
        "protocol": f"{splits} repeated stratified 80/20 splits (seed {seed}); 95% intervals "
        f"from {bootstrap} bootstrap resamples of each split's test rows",
        "algorithm": algorithm,
        "threshold": threshold,
        "lesions": int(len(y)),
        "malignant": int(y.sum()),
        "mean": {m: round(float(np.mean([s[m] for s in per_split])), 4) for m in METRICS},
        "sd": {m: round(float(np.std([s[m] for s in per_split], ddof=0)), 4) for m in METRICS},
        "interval": {
            m: [
                round(float(np.quantile(draws[m], 0.025)), 4),
                round(float(np.quantile(draws[m], 0.975)), 4),
            ]
            if draws[m]
            else None
            for m in METRICS
        },
        "splits": per_split,
        "calibration": calibration_table(y_all, p_all),
    }
