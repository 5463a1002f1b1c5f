"""Cox proportional hazards through lifelines, with a small ridge penalty for stability."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from oncology.outcomes.models.base import BreslowModel, check_survival_data


class CoxModel(BreslowModel):
    kind = "cox"

    def __init__(self, penalizer: float = 0.01, seed: int = 0):
        self.penalizer = penalizer
        self.seed = seed  # unused: the fit is deterministic

    def fit(self, x: np.ndarray, time: np.ndarray, event: np.ndarray) -> Self:
        x, time, event = check_survival_data(x, time, event)
        cols = [f"x{i}" for i in range(x.shape[1])]
        frame = pd.DataFrame(x, columns=cols)
        frame["T"] = time
        frame["E"] = event.astype(int)
        self.fitter_ = CoxPHFitter(penalizer=self.penalizer)
        self.fitter_.fit(frame, duration_col="T", event_col="E")
        self.coef_ = self.fitter_.params_.to_numpy(dtype=float)
        self._fit_baseline(x, time, event)
        return self

    def risk(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(x, dtype=float) @ self.coef_)
