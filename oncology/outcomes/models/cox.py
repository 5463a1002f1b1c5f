"""Cox proportional hazards through lifelines, with a small ridge penalty for stability."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from oncology.outcomes.models.base import BreslowModel, check_survival_data, check_weights


class CoxModel(BreslowModel):
    kind = "cox"

    def __init__(self, penalizer: float = 0.01, seed: int = 0):
        self.penalizer = penalizer
        self.seed = seed  # unused: the fit is deterministic

    def fit(
        self,
        x: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Self:
        x, time, event = check_survival_data(x, time, event)
        w = check_weights(weights, len(time))
        cols = [f"x{i}" for i in range(x.shape[1])]
        frame = pd.DataFrame(x, columns=cols)
        frame["T"] = time
        frame["E"] = event.astype(int)
        self.fitter_ = CoxPHFitter(penalizer=self.penalizer)
        if weights is None:
            self.fitter_.fit(frame, duration_col="T", event_col="E")
        else:
            # robust (sandwich) variance: lifelines' advice for non-integer weights
            frame["W"] = w
            self.fitter_.fit(frame, duration_col="T", event_col="E", weights_col="W", robust=True)
        self.coef_ = self.fitter_.params_.to_numpy(dtype=float)
        self._fit_baseline(x, time, event, w)
        return self

    def risk(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(x, dtype=float) @ self.coef_)
