"""Survival metrics: Harrell's and Uno's concordance, (integrated) Brier score, calibration.

Own implementations (scikit-survival is GPL-3 and only a test dependency); the tests check them
against hand-computed cases and against scikit-survival and lifelines. Conventions follow
scikit-survival's:

- a pair (i, j) is comparable when i had the event and t_i < t_j, or t_i == t_j and j was
  censored; it is concordant when risk_i > risk_j; equal risks (within ``tied_tol``) count 1/2;
- Uno's C weights each comparable pair by 1 / G(t_i)^2, with G the Kaplan–Meier estimate of the
  censoring distribution on the TRAINING rows, and counts only pairs with t_i < tau;
- the Brier score at t is Graf's inverse-probability-of-censoring weighted score; the integrated
  score is the trapezoidal integral over the time grid divided by its length;
- the calibration error at a horizon h groups patients by predicted S(h) into quantile groups
  and averages |mean predicted S(h) - Kaplan–Meier S(h)| over groups, weighted by group size.
"""

from __future__ import annotations

import numpy as np


class MetricError(ValueError):
    """Metric undefined for the data (no comparable pair, time outside follow-up, ...)."""


def _arrays(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event).ravel().astype(bool)
    if len(t) != len(e):
        raise MetricError("time and event must have the same length")
    return t, e


def _weighted_concordance(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    weights: np.ndarray,
    tied_tol: float,
    chunk: int = 512,
) -> float:
    risk = np.asarray(risk, dtype=float).ravel()
    if len(risk) != len(time):
        raise MetricError("risk must have one value per patient")
    if not np.isfinite(risk).all():
        raise MetricError("risk has missing or infinite values")
    numerator = 0.0
    denominator = 0.0
    rows = np.flatnonzero(event & (weights > 0))
    for start in range(0, len(rows), chunk):
        i = rows[start : start + chunk]
        ti, ri, wi = time[i][:, None], risk[i][:, None], weights[i][:, None]
        comparable = (ti < time[None, :]) | ((ti == time[None, :]) & ~event[None, :])
        diff = ri - risk[None, :]
        tied = np.abs(diff) <= tied_tol
        score = np.where(tied, 0.5, (diff > 0).astype(float))
        numerator += float((wi * score * comparable).sum())
        denominator += float((wi * comparable).sum())
    if denominator == 0:
        raise MetricError("no comparable pairs: the concordance index is undefined")
    return numerator / denominator


def harrell_c(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, tied_tol: float = 1e-8
) -> float:
    """Harrell's concordance index of a risk score (higher = earlier event expected)."""
    t, e = _arrays(time, event)
    return _weighted_concordance(t, e, risk, np.ones(len(t)), tied_tol)


class CensoringKM:
    """Kaplan–Meier estimate G(t) = P(C > t) of the censoring distribution (right-continuous).

    At each distinct time the censored patients are the "events" and the patients who had the
    event there leave the risk set first (ties: events before censoring), as in scikit-survival.
    """

    def __init__(self, time: np.ndarray, event: np.ndarray):
        t, e = _arrays(time, event)
        self.times = np.unique(t)
        at_risk = len(t) - np.searchsorted(np.sort(t), self.times, side="left")
        events = np.array([np.sum(e & (t == u)) for u in self.times], dtype=float)
        censored = np.array([np.sum(~e & (t == u)) for u in self.times], dtype=float)
        denom = at_risk - events
        ratio = np.divide(censored, denom, out=np.zeros_like(censored), where=censored > 0)
        self.survival = np.cumprod(1.0 - ratio)

    def __call__(self, time: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.times, np.asarray(time, dtype=float), side="right")
        return np.asarray(np.concatenate([[1.0], self.survival])[idx])


def uno_c(
    train_time: np.ndarray,
    train_event: np.ndarray,
    test_time: np.ndarray,
    test_event: np.ndarray,
    risk: np.ndarray,
    tau: float | None = None,
    tied_tol: float = 1e-8,
) -> float:
    """Uno's inverse-probability-of-censoring weighted concordance, truncated at ``tau``."""
    tr_t, tr_e = _arrays(train_time, train_event)
    t, e = _arrays(test_time, test_event)
    g = CensoringKM(tr_t, tr_e)(t)
    if (g[e] <= 0).any():
        raise MetricError("the censoring survival function is zero at an event time")
    weights = np.zeros(len(t))
    weights[e] = 1.0 / np.square(g[e])
    if tau is not None:
        weights[t >= tau] = 0.0
    return _weighted_concordance(t, e, risk, weights, tied_tol)


def brier_scores(
    train_time: np.ndarray,
    train_event: np.ndarray,
    test_time: np.ndarray,
    test_event: np.ndarray,
    survival: np.ndarray,
    times: np.ndarray,
) -> np.ndarray:
    """IPCW Brier score at each of ``times``; ``survival`` has shape (patients, times)."""
    tr_t, tr_e = _arrays(train_time, train_event)
    t, e = _arrays(test_time, test_event)
    grid = np.asarray(times, dtype=float).ravel()
    surv = np.asarray(survival, dtype=float)
    if surv.shape != (len(t), len(grid)):
        raise MetricError("survival must have shape (patients, times)")
    if grid.min() < t.min() or grid.max() >= t.max():
        raise MetricError(f"times must lie within the test follow-up [{t.min()}, {t.max()})")
    g = CensoringKM(tr_t, tr_e)
    g_obs = g(t)
    g_obs = np.where(g_obs > 0, g_obs, np.inf)
    g_grid = g(grid)
    g_grid = np.where(g_grid > 0, g_grid, np.inf)
    cases = (t[:, None] <= grid[None, :]) & e[:, None]
    controls = t[:, None] > grid[None, :]
    terms = np.square(surv) * cases / g_obs[:, None] + np.square(1.0 - surv) * controls / g_grid
    return np.asarray(terms.mean(axis=0))


def integrated_brier_score(
    train_time: np.ndarray,
    train_event: np.ndarray,
    test_time: np.ndarray,
    test_event: np.ndarray,
    survival: np.ndarray,
    times: np.ndarray,
) -> float:
    grid = np.asarray(times, dtype=float).ravel()
    if len(grid) < 2 or (np.diff(grid) <= 0).any():
        raise MetricError("the time grid needs at least two increasing times")
    scores = brier_scores(train_time, train_event, test_time, test_event, survival, grid)
    return float(np.trapezoid(scores, grid) / (grid[-1] - grid[0]))


def kaplan_meier(time: np.ndarray, event: np.ndarray, at: float) -> float:
    """Kaplan–Meier survival probability at ``at`` (right-continuous)."""
    t, e = _arrays(time, event)
    surv = 1.0
    for u in np.unique(t[e]):
        if u > at:
            break
        at_risk = np.sum(t >= u)
        surv *= 1.0 - np.sum(e & (t == u)) / at_risk
    return float(surv)


def calibration_error(
    time: np.ndarray,
    event: np.ndarray,
    predicted: np.ndarray,
    horizon: float,
    groups: int = 10,
    min_group: int = 50,
) -> float:
    """Group-size weighted mean |mean predicted S(h) - Kaplan–Meier S(h)| over quantile groups.

    Patients are sorted by predicted S(h) and cut into ``groups`` groups of (nearly) equal size,
    fewer when that would leave fewer than ``min_group`` patients a group (the Kaplan–Meier
    estimate of a group of n has a standard error near 0.5 / sqrt(n), a floor on this error).
    """
    t, e = _arrays(time, event)
    pred = np.asarray(predicted, dtype=float).ravel()
    if len(pred) != len(t):
        raise MetricError("predicted must have one value per patient")
    if horizon >= t.max():
        raise MetricError("the horizon must lie within the follow-up")
    k = max(1, min(groups, len(t) // max(1, min_group)))
    order = np.argsort(pred, kind="stable")
    total = 0.0
    for part in np.array_split(order, k):
        observed = kaplan_meier(t[part], e[part], horizon)
        total += len(part) * abs(float(pred[part].mean()) - observed)
    return total / len(t)


def _km_with_variance(time: np.ndarray, event: np.ndarray, at: float) -> tuple[float, float]:
    """Kaplan–Meier S(at) and its Greenwood variance."""
    surv, total = 1.0, 0.0
    for u in np.unique(time[event]):
        if u > at:
            break
        at_risk = float(np.sum(time >= u))
        deaths = float(np.sum(event & (time == u)))
        surv *= 1.0 - deaths / at_risk
        if at_risk > deaths:
            total += deaths / (at_risk * (at_risk - deaths))
    return surv, surv * surv * total


def calibration_noise(
    time: np.ndarray,
    event: np.ndarray,
    predicted: np.ndarray,
    horizon: float,
    groups: int = 10,
    min_group: int = 50,
) -> float:
    """What :func:`calibration_error` would be on average for a PERFECTLY calibrated model with
    the same groups: the group-size weighted mean of E|N(0, se)| = se x sqrt(2 / pi), se the
    Greenwood standard error of each group's Kaplan–Meier S(h). A calibration error near this
    is Kaplan–Meier noise, not miscalibration."""
    t, e = _arrays(time, event)
    pred = np.asarray(predicted, dtype=float).ravel()
    if len(pred) != len(t):
        raise MetricError("predicted must have one value per patient")
    if horizon >= t.max():
        raise MetricError("the horizon must lie within the follow-up")
    k = max(1, min(groups, len(t) // max(1, min_group)))
    order = np.argsort(pred, kind="stable")
    total = 0.0
    for part in np.array_split(order, k):
        _, variance = _km_with_variance(t[part], e[part], horizon)
        total += len(part) * float(np.sqrt(variance * 2.0 / np.pi))
    return total / len(t)
