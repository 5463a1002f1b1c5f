"""Gradient-boosted Cox model (xgboost ``survival:cox``) with a Breslow baseline hazard."""

from __future__ import annotations

from typing import Self

import numpy as np
import xgboost as xgb

from oncology.outcomes.models.base import BreslowModel, check_survival_data, check_weights


class XGBCoxModel(BreslowModel):
    kind = "xgb"

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        max_depth: int = 2,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        reg_lambda: float = 1.0,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.params = {
            "objective": "survival:cox",
            "eta": learning_rate,
            "max_depth": max_depth,
            "min_child_weight": min_child_weight,
            "subsample": subsample,
            "lambda": reg_lambda,
            "tree_method": "hist",
            "nthread": 1,  # deterministic and polite on a shared machine
            "seed": seed,
        }

    def fit(
        self,
        x: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Self:
        x, time, event = check_survival_data(x, time, event)
        w = check_weights(weights, len(time))
        # xgboost's Cox label: time for events, -time for censored; zero would be ambiguous.
        floor = max(float(time[time > 0].min(initial=1.0)) * 1e-3, 1e-9)
        label = np.where(event, 1.0, -1.0) * np.maximum(time, floor)
        self.booster_ = xgb.train(
            self.params, xgb.DMatrix(x, label=label, weight=w), num_boost_round=self.n_estimators
        )
        self._fit_baseline(x, time, event, w)
        return self

    def risk(self, x: np.ndarray) -> np.ndarray:
        dm = xgb.DMatrix(np.asarray(x, dtype=float))
        return np.asarray(self.booster_.predict(dm, output_margin=True), dtype=float)
