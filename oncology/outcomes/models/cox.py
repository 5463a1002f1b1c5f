"""Cox proportional hazards through lifelines, with a small ridge penalty for stability.

``l1_ratio`` (lifelines' elastic net: 0 ridge, the default; 1 lasso) mixes the penalty.

``penalizer`` is one ridge weight, or one per column of the fitted matrix. With ``basis`` (a
matrix B, inputs x columns) the model is fitted on x @ B with the penalty on those
coefficients gamma, and stores coef_ = B @ gamma, so the fitted model is still linear in the
original inputs (risk, explanations and stored artifacts see the same coefficients): a way to
shrink structured combinations of coefficients (compare.py's treatment components).

With ``splines`` (3, 4 or 5 knots; 0, the default, is linear) every input column with more than
10 distinct training values is expanded into Harrell's restricted cubic spline basis (linear
beyond the outer knots; knots at his default quantiles of the training values), so a
continuous marker can act non-linearly (age on overall survival is U-shaped). The risk is then
no longer linear in the inputs: ``coef_`` belongs to the expanded columns.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from oncology.outcomes.models.base import BreslowModel, check_survival_data, check_weights

# Harrell (Regression Modeling Strategies, 2015, table 2.3): knot quantiles by number of knots.
KNOT_QUANTILES = {
    3: (10.0, 50.0, 90.0),
    4: (5.0, 35.0, 65.0, 95.0),
    5: (5.0, 27.5, 50.0, 72.5, 95.0),
}


def rcs_basis(values: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted cubic spline basis of one column: the column itself and K - 2 non-linear
    terms (Harrell's parametrisation, divided by (t_K - t_1)^2 for scale); linear beyond the
    outer knots."""
    v = np.asarray(values, dtype=float)
    t = np.asarray(knots, dtype=float)
    last, before = t[-1], t[-2]
    cols = [v]
    for tj in t[:-2]:
        term = (
            np.clip(v - tj, 0.0, None) ** 3
            - np.clip(v - before, 0.0, None) ** 3 * (last - tj) / (last - before)
            + np.clip(v - last, 0.0, None) ** 3 * (before - tj) / (last - before)
        )
        cols.append(term / (last - t[0]) ** 2)
    return np.column_stack(cols)


class CoxModel(BreslowModel):
    kind = "cox"

    # class defaults: artifacts pickled before these existed
    basis: np.ndarray | None = None
    splines: int = 0
    l1_ratio: float = 0.0
    knots_: dict[int, np.ndarray] = {}  # noqa: RUF012 (read-only default)

    def __init__(
        self,
        penalizer: float | np.ndarray = 0.01,
        seed: int = 0,
        basis: np.ndarray | None = None,
        splines: int = 0,
        l1_ratio: float = 0.0,
    ):
        if not 0.0 <= l1_ratio <= 1.0:
            raise ValueError("l1_ratio must lie between 0 (ridge) and 1 (lasso)")
        if splines and splines not in KNOT_QUANTILES:
            raise ValueError("splines must be 0 (linear) or 3, 4 or 5 knots")
        if splines and basis is not None:
            raise ValueError("splines and a basis cannot be combined")
        self.penalizer = penalizer
        self.seed = seed  # unused: the fit is deterministic
        self.basis = None if basis is None else np.asarray(basis, dtype=float)
        self.splines = splines
        self.l1_ratio = l1_ratio

    def _expand(self, x: np.ndarray) -> np.ndarray:
        if not self.knots_:
            return x
        cols = [
            rcs_basis(x[:, j], self.knots_[j]) if j in self.knots_ else x[:, j : j + 1]
            for j in range(x.shape[1])
        ]
        return np.hstack(cols)

    def _fit_knots(self, x: np.ndarray) -> None:
        self.knots_ = {}
        if not self.splines:
            return
        for j in range(x.shape[1]):
            if len(np.unique(x[:, j])) > 10:
                knots = np.unique(np.percentile(x[:, j], KNOT_QUANTILES[self.splines]))
                if len(knots) >= 3:
                    self.knots_[j] = knots

    def fit(
        self,
        x: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Self:
        x, time, event = check_survival_data(x, time, event)
        w = check_weights(weights, len(time))
        self._fit_knots(x)
        z = self._expand(x)
        if self.basis is not None:
            if self.basis.ndim != 2 or self.basis.shape[0] != x.shape[1]:
                raise ValueError("basis must have one row per input column")
            z = x @ self.basis
        penalizer = self.penalizer
        if not np.isscalar(penalizer):
            penalizer = np.asarray(penalizer, dtype=float)
            if penalizer.shape != (z.shape[1],):
                raise ValueError("penalizer must be one number or one per fitted column")
        cols = [f"x{i}" for i in range(z.shape[1])]
        frame = pd.DataFrame(z, columns=cols)
        frame["T"] = time
        frame["E"] = event.astype(int)
        self.fitter_ = CoxPHFitter(penalizer=penalizer, l1_ratio=self.l1_ratio)
        if weights is None:
            self.fitter_.fit(frame, duration_col="T", event_col="E")
        else:
            # robust (sandwich) variance: lifelines' advice for non-integer weights
            frame["W"] = w
            self.fitter_.fit(frame, duration_col="T", event_col="E", weights_col="W", robust=True)
        gamma = self.fitter_.params_.to_numpy(dtype=float)
        self.coef_ = gamma if self.basis is None else self.basis @ gamma
        self._fit_baseline(x, time, event, w)
        return self

    def risk(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._expand(np.asarray(x, dtype=float)) @ self.coef_)
