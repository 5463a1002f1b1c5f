"""Calibration of past predictions against what happened (the closed loop of the registry).

Each stored prediction gave, for the option the patient then received, a predicted survival at
1, 2 and 5 years. Once outcomes arrive, the patients are sorted by that predicted survival and
cut into quantile groups; in each group the observed survival is the Kaplan–Meier estimate at
the horizon (time from the prediction to death, censored at the last contact), with a 95 %
confidence interval, set against the group's mean predicted survival. A well-calibrated model
has the two close in every group.

Two rules keep the numbers honest and the patients unidentifiable:

- **Minimum group size** (``MIN_GROUP``, 10 patients). Groups are made no smaller: with n
  patients there are at most ``n // MIN_GROUP`` groups (and at most ``groups``). Fewer than
  ``MIN_GROUP`` patients in all: nothing is shown. Ten is the usual small-cell threshold of
  health statistics releases (a count under 10 can point at a person one knows was treated
  here), and below it the Kaplan–Meier standard error at 1 year (about 0.5 / sqrt(n) at 50 %
  survival) exceeds 0.15, too wide to judge calibration by.
- **Enough follow-up.** A group's estimate at a horizon is shown only when at least
  ``MIN_GROUP`` of its patients have a known status there (died before it, or followed up to
  it); otherwise the group is reported as not followed long enough yet. The count of known
  patients is given only as "at least MIN_GROUP" or "fewer than MIN_GROUP".

The confidence interval is Greenwood's variance on the log(-log) scale (Kalbfleisch and
Prentice 1980; the default of lifelines' ``KaplanMeierFitter``), which stays inside [0, 1].
Pure: numpy only, no Django.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_GROUP = 10
HORIZONS_YEARS: tuple[float, ...] = (1.0, 2.0, 5.0)
DEFAULT_GROUPS = 5
Z_95 = 1.959963984540054  # standard normal 97.5 % quantile


@dataclass(frozen=True)
class PastPrediction:
    """One patient's past prediction and what happened after it.

    ``predicted``: horizon in years -> predicted survival for the option the patient received;
    ``time``: years from the prediction to death (``event``) or to the last contact.
    """

    predicted: dict[float, float]
    time: float
    event: bool


@dataclass(frozen=True)
class KaplanMeierAt:
    survival: float
    lower: float
    upper: float


@dataclass(frozen=True)
class CalibrationGroup:
    index: int  # 1 = lowest predicted survival
    patients: int
    mean_predicted: float
    predicted_low: float  # the range of predicted survival the group spans
    predicted_high: float
    # None when fewer than MIN_GROUP patients have a known status at the horizon
    observed: KaplanMeierAt | None
    deaths_by_horizon: int | None  # shown with the estimate only

    @property
    def enough_follow_up(self) -> bool:
        return self.observed is not None


@dataclass(frozen=True)
class HorizonCalibration:
    years: float
    patients: int  # predictions with a value at this horizon
    groups: list[CalibrationGroup] = field(default_factory=list)
    # "ok": every group has an estimate; "partial": some; "follow_up": none has enough
    # follow-up yet; "too_few": fewer than MIN_GROUP patients, nothing shown
    status: str = "ok"

    @property
    def mean_absolute_error(self) -> float | None:
        """Group-size weighted mean |predicted - observed| over the groups with an estimate."""
        shown = [g for g in self.groups if g.observed is not None]
        if not shown:
            return None
        total = sum(g.patients for g in shown)
        return (
            sum(g.patients * abs(g.mean_predicted - g.observed.survival) for g in shown)  # type: ignore[union-attr]
            / total
        )


def kaplan_meier_at(
    time: Sequence[float] | np.ndarray,
    event: Sequence[bool] | np.ndarray,
    at: float,
    z: float = Z_95,
) -> KaplanMeierAt:
    """Kaplan–Meier S(at) (right-continuous) with Greenwood's log(-log) confidence interval.

    Var(log(-log S)) = sum d / (n (n - d)) / (log S)^2 over event times <= at; the interval is
    S ** exp(+- z * sd). When S is 1 (no death yet) the upper bound is 1 and the lower bound is
    taken as 1 as well (the log(-log) interval is undefined there); when S is 0 both are 0.
    """
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event, dtype=bool).ravel()
    if len(t) != len(e) or len(t) == 0:
        raise ValueError("time and event must be non-empty and of the same length")
    surv = 1.0
    greenwood = 0.0
    for u in np.unique(t[e]):
        if u > at:
            break
        at_risk = int(np.sum(t >= u))
        deaths = int(np.sum(e & (t == u)))
        surv *= 1.0 - deaths / at_risk
        if at_risk > deaths:
            greenwood += deaths / (at_risk * (at_risk - deaths))
    if surv <= 0.0:
        return KaplanMeierAt(0.0, 0.0, 0.0)
    if surv >= 1.0:
        return KaplanMeierAt(1.0, 1.0, 1.0)
    sd = math.sqrt(greenwood) / abs(math.log(surv))
    lower = surv ** math.exp(z * sd)
    upper = surv ** math.exp(-z * sd)
    return KaplanMeierAt(surv, lower, upper)


def _known_at(time: np.ndarray, event: np.ndarray, at: float) -> int:
    """Patients whose status at ``at`` is known: died by then, or followed up to it."""
    return int(np.sum((event & (time <= at)) | (time >= at)))


def calibrate_horizon(
    rows: Sequence[PastPrediction],
    years: float,
    *,
    groups: int = DEFAULT_GROUPS,
    min_group: int = MIN_GROUP,
) -> HorizonCalibration:
    """Quantile groups of predicted survival at ``years`` against Kaplan–Meier survival there."""
    usable = [r for r in rows if r.predicted.get(years) is not None]
    n = len(usable)
    if n < min_group:
        return HorizonCalibration(years=years, patients=n, status="too_few")
    pred = np.array([r.predicted[years] for r in usable], dtype=float)
    time = np.array([r.time for r in usable], dtype=float)
    event = np.array([r.event for r in usable], dtype=bool)
    k = max(1, min(groups, n // min_group))
    order = np.argsort(pred, kind="stable")
    out: list[CalibrationGroup] = []
    for i, part in enumerate(np.array_split(order, k), start=1):
        enough = len(part) >= min_group and _known_at(time[part], event[part], years) >= min_group
        observed = kaplan_meier_at(time[part], event[part], years) if enough else None
        deaths = int(np.sum(event[part] & (time[part] <= years))) if enough else None
        out.append(
            CalibrationGroup(
                index=i,
                patients=len(part),
                mean_predicted=float(pred[part].mean()),
                predicted_low=float(pred[part].min()),
                predicted_high=float(pred[part].max()),
                observed=observed,
                deaths_by_horizon=deaths,
            )
        )
    shown = sum(g.observed is not None for g in out)
    status = "ok" if shown == len(out) else "partial" if shown else "follow_up"
    return HorizonCalibration(years=years, patients=n, groups=out, status=status)


def calibrate_past_predictions(
    rows: Sequence[PastPrediction],
    *,
    horizons: Sequence[float] = HORIZONS_YEARS,
    groups: int = DEFAULT_GROUPS,
    min_group: int = MIN_GROUP,
) -> list[HorizonCalibration]:
    """One calibration per horizon (1, 2 and 5 years by default)."""
    if min_group < 1 or groups < 1:
        raise ValueError("groups and min_group must be positive")
    return [calibrate_horizon(rows, h, groups=groups, min_group=min_group) for h in horizons]


def received_option(modalities: set[str], options: Sequence[str]) -> str | None:
    """The model's option that names exactly the modalities a patient received, or None.

    Options combine modalities with "+" ("surgery+chemotherapy"); the order does not matter.
    A patient who received no treatment, or a combination the model does not compare, has no
    option (and is left out of the closed loop)."""
    if not modalities:
        return None
    for option in options:
        if set(option.split("+")) == modalities:
            return option
    return None
