"""The common interface of survival models and the Breslow baseline hazard they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

import numpy as np


def check_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    """Case weights (default 1); positive and finite, one per patient."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    if len(w) != n or not np.isfinite(w).all() or (w <= 0).any():
        raise ValueError("weights must be positive numbers, one per patient")
    return w


def check_survival_data(x: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple:
    """Validate and convert (X, time, event); raise ValueError with a clear message."""
    x = np.asarray(x, dtype=float)
    time = np.asarray(time, dtype=float).ravel()
    event = np.asarray(event).ravel()
    if x.ndim != 2:
        raise ValueError("X must be a 2-D matrix (patients x features)")
    if not (len(x) == len(time) == len(event)):
        raise ValueError("X, time and event must have the same number of rows")
    if len(time) < 2:
        raise ValueError("at least two patients are needed")
    if not np.isfinite(x).all():
        raise ValueError("X has missing or infinite values: encode the features first")
    if not np.isfinite(time).all() or (time < 0).any():
        raise ValueError("times must be finite and non-negative")
    if not set(np.unique(event)) <= {0, 1}:
        raise ValueError("event must be 0 (censored) or 1 (event)")
    event = event.astype(bool)
    if not event.any():
        raise ValueError("at least one event is needed to fit a survival model")
    return x, time, event


class BreslowBaseline:
    """Breslow's estimator of the baseline cumulative hazard given fitted log-hazards.

    H0(t) = sum over distinct event times t_k <= t of d_k / sum_{j: t_j >= t_k} w_j exp(lp_j),
    d_k the (weighted) number of events at t_k;
    S(t | x) = exp(-H0(t) exp(lp(x))). Log-hazards are shifted by their training mean for
    numerical range; the shift cancels in S.
    """

    def fit(
        self,
        lp: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Self:
        lp = np.asarray(lp, dtype=float)
        w = check_weights(weights, len(lp))
        self.shift_ = float(lp.mean())
        risk = w * np.exp(lp - self.shift_)
        event = np.asarray(event, dtype=bool)
        times = np.unique(time[event])
        order = np.argsort(time)
        sorted_time = time[order]
        # risk-set sums: sum of exp(lp) over patients with time >= t_k
        tail = np.cumsum(risk[order][::-1])[::-1]
        first = np.searchsorted(sorted_time, times, side="left")
        at_risk = tail[first]
        deaths = np.array([np.sum(w[event & (time == t)]) for t in times], dtype=float)
        self.times_ = times
        self.cumhaz_ = np.cumsum(deaths / at_risk)
        return self

    def _shifted(self, times: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.times_, np.asarray(times, dtype=float), side="right")
        padded = np.concatenate([[0.0], self.cumhaz_])
        return np.asarray(padded[idx])

    def cumulative_hazard(self, times: np.ndarray) -> np.ndarray:
        """H0(t) for a log-hazard of 0 (right-continuous step function)."""
        return self._shifted(times) * np.exp(-self.shift_)

    def survival(self, lp: np.ndarray, times: np.ndarray) -> np.ndarray:
        h0 = self._shifted(times)
        scale = np.exp(np.asarray(lp, dtype=float) - self.shift_)
        return np.asarray(np.exp(-np.outer(scale, h0)))


class SurvivalModel(ABC):
    """fit(X, time, event) / risk(X) / predict_survival(X, times) on encoded matrices."""

    kind: str = ""

    @abstractmethod
    def fit(
        self,
        x: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Self:
        """Fit on encoded features; ``weights`` are optional case weights (e.g. IPTW)."""

    @abstractmethod
    def risk(self, x: np.ndarray) -> np.ndarray:
        """A score that is higher for patients at higher risk (log hazard ratio)."""

    @abstractmethod
    def predict_survival(self, x: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Survival probabilities, shape (patients, times), non-increasing along times."""


class BreslowModel(SurvivalModel):
    """A model whose risk is a log hazard ratio, with a Breslow baseline from training data."""

    baseline_: BreslowBaseline

    def _fit_baseline(
        self, x: np.ndarray, time: np.ndarray, event: np.ndarray, weights: np.ndarray
    ) -> None:
        self.baseline_ = BreslowBaseline().fit(self.risk(x), time, event, weights)

    def predict_survival(self, x: np.ndarray, times: np.ndarray) -> np.ndarray:
        return self.baseline_.survival(self.risk(np.asarray(x, dtype=float)), times)
