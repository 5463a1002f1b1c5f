"""A survival model tuned by cross-validation on its own training rows (``cox_tuned``), nested
inside any outer validation split: the outer test rows are never seen.

``fit`` cuts the training rows into ``folds`` folds (stratified by event status, seeded). In
each, every Cox candidate of ``grid`` (penalizer, l1_ratio, restricted-cubic-spline knots; 0
knots is linear) and one gradient-boosted Cox model (``xgb`` with its defaults) are fitted on
the other folds and score the held-out fold. A candidate's risk score is a Cox candidate's
standardised log-hazard, or with ``xgb_weights`` w > 0 the blend (1 - w) x Cox + w x xgb of the
two standardised scores (each standardised by its training rows' mean and SD). The candidate
with the best mean held-out Harrell C (the validation protocol's first goal) wins, ties to the
first in the grid, and is refitted on all the training rows.

With ``recalibrate`` the winner's out-of-fold score also gives a calibration slope (a
one-covariate Cox fit of the held-out outcomes on it; van Houwelingen's heuristic shrinkage):
the final log-hazard is slope x score, with the Breslow baseline refitted on it. A slope below
1 shrinks over-confident predictions toward the average; the ranking, and so the concordance,
does not change.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from oncology.outcomes import metrics
from oncology.outcomes.models.base import BreslowModel, check_survival_data, check_weights
from oncology.outcomes.models.cox import CoxModel
from oncology.outcomes.models.xgb import XGBCoxModel

# Cox candidates (penalizer, l1_ratio, spline knots)
DEFAULT_GRID: tuple[tuple[float, float, int], ...] = (
    (0.01, 0.0, 0),
    (0.01, 0.0, 4),
    (0.05, 0.0, 4),
    (0.001, 0.0, 5),
)
DEFAULT_XGB_WEIGHTS: tuple[float, ...] = (0.0, 0.5)


def cv_folds(event: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Held-out index sets of ``folds`` folds, stratified by event status."""
    rng = np.random.default_rng(seed)
    out: list[list[np.ndarray]] = [[] for _ in range(folds)]
    for value in (False, True):
        members = rng.permutation(np.flatnonzero(np.asarray(event) == value))
        for k, part in enumerate(np.array_split(members, folds)):
            out[k].append(part)
    return [np.sort(np.concatenate(parts)) for parts in out]


class _Scaled:
    """A fitted model's risk standardised by its training rows' mean and SD."""

    def __init__(self, model: BreslowModel, x_train: np.ndarray):
        self.model = model
        train = model.risk(x_train)
        self.mean = float(train.mean())
        self.sd = float(train.std()) or 1.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (self.model.risk(x) - self.mean) / self.sd


class TunedCoxModel(BreslowModel):
    kind = "cox_tuned"

    def __init__(
        self,
        grid: tuple[tuple[float, float, int], ...] = DEFAULT_GRID,
        xgb_weights: tuple[float, ...] = DEFAULT_XGB_WEIGHTS,
        folds: int = 3,
        recalibrate: bool = True,
        seed: int = 0,
    ):
        if folds < 2:
            raise ValueError("at least 2 folds are needed")
        if not grid or not xgb_weights:
            raise ValueError("the grid needs at least one candidate")
        if any(not 0.0 <= w <= 1.0 for w in xgb_weights):
            raise ValueError("xgb weights must lie between 0 and 1")
        self.grid = tuple(grid)
        self.xgb_weights = tuple(xgb_weights)
        self.folds = folds
        self.recalibrate = recalibrate
        self.seed = seed

    def _fit_members(
        self, x: np.ndarray, time: np.ndarray, event: np.ndarray, w: np.ndarray, with_xgb: bool
    ) -> tuple[list[_Scaled], _Scaled | None]:
        cox = [
            _Scaled(CoxModel(penalizer=p, l1_ratio=l1, splines=s).fit(x, time, event, w), x)
            for p, l1, s in self.grid
        ]
        boost = None
        if with_xgb:
            boost = _Scaled(XGBCoxModel(seed=self.seed).fit(x, time, event, w), x)
        return cox, boost

    def fit(
        self,
        x: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Self:
        x, time, event = check_survival_data(x, time, event)
        w = check_weights(weights, len(time))
        with_xgb = any(v > 0 for v in self.xgb_weights)
        candidates = [(c, v) for c in range(len(self.grid)) for v in self.xgb_weights]
        oof = np.zeros((len(candidates), len(time)))
        fold_c: list[list[float]] = [[] for _ in candidates]
        for test in cv_folds(event, self.folds, self.seed):
            train = np.setdiff1d(np.arange(len(time)), test)
            cox, boost = self._fit_members(x[train], time[train], event[train], w[train], with_xgb)
            boost_score = boost(x[test]) if boost is not None else 0.0
            for k, (c, v) in enumerate(candidates):
                oof[k, test] = (1.0 - v) * cox[c](x[test]) + v * boost_score
                try:
                    fold_c[k].append(metrics.harrell_c(time[test], event[test], oof[k, test]))
                except metrics.MetricError:  # a fold without a comparable pair
                    continue
        scores = [float(np.mean(s)) if s else -np.inf for s in fold_c]
        best = int(np.argmax(scores))
        c_best, v_best = candidates[best]
        self.cv_scores_: list[dict[str, Any]] = [
            {
                "penalizer": self.grid[c][0],
                "l1_ratio": self.grid[c][1],
                "splines": self.grid[c][2],
                "xgb_weight": v,
                "harrell_c": s,
            }
            for (c, v), s in zip(candidates, scores, strict=True)
        ]
        self.chosen_ = dict(self.cv_scores_[best])
        p, l1, s = self.grid[c_best]
        self.cox_ = _Scaled(CoxModel(penalizer=p, l1_ratio=l1, splines=s).fit(x, time, event, w), x)
        self.xgb_ = None
        if v_best > 0:
            self.xgb_ = _Scaled(XGBCoxModel(seed=self.seed).fit(x, time, event, w), x)
        self.xgb_weight_ = v_best
        self.slope_ = 1.0
        if self.recalibrate:
            slope = CoxModel(penalizer=0.0).fit(oof[best][:, None], time, event, w).coef_[0]
            self.slope_ = float(np.clip(slope, 0.1, 2.0))
        self._fit_baseline(x, time, event, w)
        return self

    def risk(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        score = self.cox_(x)
        if self.xgb_ is not None:
            score = (1.0 - self.xgb_weight_) * score + self.xgb_weight_ * self.xgb_(x)
        return np.asarray(self.slope_ * score)
