"""Binary response and toxicity classifiers behind one interface, with calibration and metrics.

Every classifier takes an encoded matrix (see :mod:`oncology.outcomes.features`) and a 0/1
outcome: ``fit(X, y, weights=None)`` and ``predict_proba(X)``, which returns P(y = 1) as a 1-D
array (one probability per patient; not scikit-learn's two columns).

- :class:`LogisticClassifier` (``logistic``): logistic regression by iteratively reweighted least
  squares (Newton's method) in numpy, with an optional ridge penalty ``l2`` on the slopes (never
  the intercept). Without a penalty it is the maximum-likelihood fit that statistics packages
  give.
- :class:`XGBClassifier` (``xgb``): gradient-boosted trees, xgboost ``binary:logistic``, one
  thread, seeded.
- :class:`CalibratedClassifier`: Platt scaling fitted on cross-fitted (out-of-fold) predictions
  of any of the above, so the calibration map never sees the predictions of a model trained on
  the same rows; the final base model is refitted on all rows.

Metrics: :func:`brier_score`, :func:`roc_auc` (Mann-Whitney, ties counted half) and
:func:`calibration_slope_intercept` (logistic recalibration of the outcome on the predicted
log-odds: slope 1 and intercept 0 are perfect calibration).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Self

import numpy as np
from scipy.special import expit, logit
from scipy.stats import rankdata


class ClassifierError(ValueError):
    """Bad input for a classifier (wrong shapes, a single class, missing values, ...)."""


def check_binary_data(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if x.ndim != 2:
        raise ClassifierError("X must be a 2-D matrix (patients x features)")
    if len(x) != len(y):
        raise ClassifierError("X and y must have the same number of rows")
    if not np.isfinite(x).all():
        raise ClassifierError("X has missing or infinite values: encode the features first")
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise ClassifierError("the outcome must be 0 or 1")
    if len(np.unique(y)) < 2:
        raise ClassifierError("both outcomes (0 and 1) must occur in the training rows")
    if weights is None:
        w = np.ones(len(y))
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if len(w) != len(y) or not np.isfinite(w).all() or (w <= 0).any():
            raise ClassifierError("weights must be positive numbers, one per patient")
    return x, y, w


class BinaryClassifier(ABC):
    kind: str = ""

    @abstractmethod
    def fit(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Self:
        """Fit on encoded features and a 0/1 outcome."""

    @abstractmethod
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(y = 1) for each row, shape (patients,)."""


class LogisticClassifier(BinaryClassifier):
    kind = "logistic"

    def __init__(self, l2: float = 0.0, max_iter: int = 100, tol: float = 1e-10, seed: int = 0):
        if l2 < 0:
            raise ClassifierError("the penalty l2 must be >= 0")
        self.l2 = l2
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed  # unused: the fit is deterministic

    def fit(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Self:
        x, y, w = check_binary_data(x, y, weights)
        n, d = x.shape
        design = np.hstack([np.ones((n, 1)), x])
        penalty = np.full(d + 1, float(self.l2))
        penalty[0] = 0.0
        # start from the intercept of the weighted base rate
        beta = np.zeros(d + 1)
        rate = float(np.clip(np.average(y, weights=w), 1e-6, 1 - 1e-6))
        beta[0] = float(logit(rate))
        self.converged_ = False
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            self.n_iter_ += 1
            p = expit(design @ beta)
            grad = design.T @ (w * (y - p)) - penalty * beta
            hess = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty)
            # tiny ridge guards against separation making the Hessian singular
            step = np.linalg.solve(hess + 1e-10 * np.eye(d + 1), grad)
            beta = beta + step
            if np.max(np.abs(step)) < self.tol:
                self.converged_ = True
                break
        self.intercept_ = float(beta[0])
        self.coef_ = beta[1:].copy()
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(x, dtype=float) @ self.coef_ + self.intercept_)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(expit(self.decision_function(x)))


class XGBClassifier(BinaryClassifier):
    kind = "xgb"

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 2,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        reg_lambda: float = 1.0,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.params = {
            "objective": "binary:logistic",
            "eta": learning_rate,
            "max_depth": max_depth,
            "min_child_weight": min_child_weight,
            "subsample": subsample,
            "lambda": reg_lambda,
            "tree_method": "hist",
            "nthread": 1,
            "seed": seed,
        }

    def fit(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Self:
        import xgboost as xgb

        x, y, w = check_binary_data(x, y, weights)
        self.booster_ = xgb.train(
            self.params, xgb.DMatrix(x, label=y, weight=w), num_boost_round=self.n_estimators
        )
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        dm = xgb.DMatrix(np.asarray(x, dtype=float))
        return np.asarray(self.booster_.predict(dm), dtype=float)


CLASSIFIER_KINDS: dict[str, type[BinaryClassifier]] = {
    "logistic": LogisticClassifier,
    "xgb": XGBClassifier,
}


def make_classifier(kind: str, seed: int = 0, **params: Any) -> BinaryClassifier:
    try:
        cls = CLASSIFIER_KINDS[kind]
    except KeyError:
        known = ", ".join(CLASSIFIER_KINDS)
        raise ClassifierError(f"unknown classifier {kind!r}; choose one of {known}") from None
    return cls(seed=seed, **params)  # type: ignore[call-arg]


def _log_odds(p: np.ndarray) -> np.ndarray:
    return np.asarray(logit(np.clip(p, 1e-6, 1 - 1e-6)))


class CalibratedClassifier(BinaryClassifier):
    """Platt scaling of a base classifier on cross-fitted predictions."""

    def __init__(self, base: Callable[[], BinaryClassifier] | str, folds: int = 5, seed: int = 0):
        if folds < 2:
            raise ClassifierError("calibration needs at least 2 folds")
        self.factory: Callable[[], BinaryClassifier] = (
            (lambda: make_classifier(base, seed=seed)) if isinstance(base, str) else base
        )
        self.folds = folds
        self.seed = seed
        self.kind = f"calibrated {self.factory().kind}"

    def fit(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Self:
        x, y, w = check_binary_data(x, y, weights)
        rng = np.random.default_rng(self.seed)
        fold = np.empty(len(y), dtype=int)
        for label in (0.0, 1.0):  # stratified folds
            idx = np.flatnonzero(y == label)
            fold[idx] = rng.permutation(len(idx)) % self.folds
        oof = np.empty(len(y))
        for k in range(self.folds):
            train = fold != k
            model = self.factory().fit(x[train], y[train], w[train])
            oof[~train] = model.predict_proba(x[~train])
        self.calibrator_ = LogisticClassifier().fit(_log_odds(oof)[:, None], y, w)
        self.base_ = self.factory().fit(x, y, w)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raw = self.base_.predict_proba(x)
        return self.calibrator_.predict_proba(_log_odds(raw)[:, None])


# -- metrics ------------------------------------------------------------------------------------
def _metric_arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if len(y) != len(p) or len(y) == 0:
        raise ClassifierError("outcomes and probabilities must have the same, non-zero length")
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise ClassifierError("the outcome must be 0 or 1")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ClassifierError("probabilities must lie in [0, 1]")
    return y, p


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between the predicted probability and the 0/1 outcome."""
    y, p = _metric_arrays(y, p)
    return float(np.mean((p - y) ** 2))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties half."""
    y, p = _metric_arrays(y, p)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ClassifierError("the AUC needs both outcomes")
    ranks = rankdata(p)  # average ranks for ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the logistic regression of y on logit(p) (ideal: 1 and 0)."""
    y, p = _metric_arrays(y, p)
    fit = LogisticClassifier().fit(_log_odds(p)[:, None], y)
    return float(fit.coef_[0]), float(fit.intercept_)


class OptionResponseModel:
    """Per-option response (or toxicity) probability for one patient: a classifier on the
    covariates, the option indicators and every option x covariate product (the design of
    ``TreatmentComparison(method="interaction")``), so each option gets its own covariate
    effects; the patient's probability under option a is the prediction with the option set to
    a. Associational, like the survival comparison (no unmeasured confounding assumed)."""

    def __init__(
        self,
        specs: Any,
        treatment: str,
        kind: str = "logistic",
        calibrate: bool = False,
        min_patients: int = 30,
        seed: int = 0,
        params: dict[str, Any] | None = None,
    ):
        self.specs = list(specs)
        self.treatment = treatment
        self.kind = kind
        self.calibrate = calibrate
        self.min_patients = min_patients
        self.seed = seed
        self.params = dict(params or {})
        make_classifier(kind, seed=seed, **self.params)  # fail early on a bad kind

    def _factory(self) -> BinaryClassifier:
        return make_classifier(self.kind, seed=self.seed, **self.params)

    def fit(self, frame: Any, outcome_col: str) -> Self:
        from oncology.outcomes.features import FeatureEncoder

        for col in (self.treatment, outcome_col):
            if col not in frame.columns:
                raise ClassifierError(f"column {col!r} is not in the cohort")
        labels = frame[self.treatment].astype(str)
        counts = labels.value_counts()
        small = sorted(counts[counts < self.min_patients].index)
        if small:
            raise ClassifierError(
                f"options with fewer than {self.min_patients} patients: {', '.join(small)}"
            )
        self.options_ = sorted(counts.index)
        self.counts_ = {o: int(counts[o]) for o in self.options_}
        self.encoder_ = FeatureEncoder(self.specs).fit(frame)
        x = self.encoder_.transform(frame)
        codes = labels.map({o: i for i, o in enumerate(self.options_)}).to_numpy()
        y = frame[outcome_col].to_numpy(dtype=float)
        model: BinaryClassifier = (
            CalibratedClassifier(self._factory, seed=self.seed)
            if self.calibrate
            else self._factory()
        )
        self.model_ = model.fit(self._design(x, codes), y)
        return self

    def _design(self, x: np.ndarray, codes: np.ndarray) -> np.ndarray:
        k = len(self.options_)
        dummies = np.eye(k)[codes][:, 1:]
        products = [dummies[:, j : j + 1] * x for j in range(k - 1)]
        return np.hstack([x, dummies, *products])

    def probability_matrix(self, frame: Any, option: str) -> np.ndarray:
        """P(outcome) under ``option`` for every row of ``frame``."""
        if option not in self.options_:
            raise ClassifierError(f"unknown option {option!r}")
        x = self.encoder_.transform(frame)
        codes = np.full(len(x), self.options_.index(option))
        return self.model_.predict_proba(self._design(x, codes))

    def predict(self, patient: Any) -> dict[str, float]:
        """P(outcome) under every option for one patient."""
        if len(patient) != 1:
            raise ClassifierError("predict one patient at a time")
        x = self.encoder_.transform(patient)
        k = len(self.options_)
        p = self.model_.predict_proba(self._design(np.repeat(x, k, axis=0), np.arange(k)))
        return {o: float(v) for o, v in zip(self.options_, p, strict=True)}
