"""Calibration of past predictions (oncology/outcomes/closed_loop.py) against hand-computed
Kaplan–Meier estimates, Greenwood log(-log) intervals (checked against lifelines), the
minimum group size and the follow-up rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from oncology.outcomes.closed_loop import (
    MIN_GROUP,
    KaplanMeierAt,
    PastPrediction,
    calibrate_horizon,
    calibrate_past_predictions,
    kaplan_meier_at,
    received_option,
)

# Low group (predicted 1-year survival 50-59 %): deaths at 0.5, 0.8 and 1.5 years, one
# censored at 1.2, six followed to 3 years. High group (90-99 %): one death at 0.3, nine
# followed to 2.5 years.
LOW = [(0.5, True), (0.8, True), (1.2, False), (1.5, True)] + [(3.0, False)] * 6
HIGH = [(0.3, True)] + [(2.5, False)] * 9


def _rows() -> list[PastPrediction]:
    rows = []
    for i, (time, event) in enumerate(LOW):
        p = 0.50 + i / 100
        rows.append(PastPrediction({1.0: p, 2.0: p - 0.1, 5.0: p - 0.3}, time, event))
    for i, (time, event) in enumerate(HIGH):
        p = 0.90 + i / 100
        rows.append(PastPrediction({1.0: p, 2.0: p - 0.05, 5.0: p - 0.2}, time, event))
    return rows


def _loglog(surv: float, greenwood: float) -> tuple[float, float]:
    sd = math.sqrt(greenwood) / abs(math.log(surv))
    return surv ** math.exp(1.959963984540054 * sd), surv ** math.exp(-1.959963984540054 * sd)


def test_kaplan_meier_at_one_year_matches_the_hand_computation() -> None:
    time, event = zip(*LOW, strict=True)
    km = kaplan_meier_at(time, event, 1.0)
    # 10 at risk, 1 death at 0.5 -> 9/10; 9 at risk, 1 death at 0.8 -> 8/9: S(1) = 0.8
    assert km.survival == pytest.approx(0.8)
    # Greenwood: 1/(10*9) + 1/(9*8) = 0.025
    lower, upper = _loglog(0.8, 1 / 90 + 1 / 72)
    assert (km.lower, km.upper) == pytest.approx((lower, upper))
    assert (round(km.lower, 4), round(km.upper, 4)) == (0.4087, 0.9459)


def test_kaplan_meier_interval_matches_lifelines() -> None:
    rng = np.random.default_rng(3)
    time = rng.exponential(2.0, 60)
    event = rng.random(60) < 0.7
    fitter = KaplanMeierFitter(alpha=0.05).fit(time, event)
    ours = kaplan_meier_at(time, event, 1.5)
    theirs = fitter.survival_function_at_times(1.5).iloc[0]
    ci = fitter.confidence_interval_survival_function_
    row = ci[ci.index <= 1.5].iloc[-1]
    assert ours.survival == pytest.approx(theirs)
    assert (ours.lower, ours.upper) == pytest.approx((row.iloc[0], row.iloc[1]), abs=1e-9)


def test_no_death_yet_and_everyone_dead_are_the_interval_edges() -> None:
    assert kaplan_meier_at([2.0, 3.0], [False, True], 1.0) == KaplanMeierAt(1.0, 1.0, 1.0)
    km = kaplan_meier_at([0.2, 0.4], [True, True], 1.0)
    assert (km.survival, km.lower, km.upper) == (0.0, 0.0, 0.0)


def test_two_groups_of_ten_at_one_year() -> None:
    horizon = calibrate_horizon(_rows(), 1.0)
    assert (horizon.status, horizon.patients, len(horizon.groups)) == ("ok", 20, 2)
    low, high = horizon.groups
    assert (low.patients, high.patients) == (10, 10)
    assert low.mean_predicted == pytest.approx(0.545)  # mean of 0.50 .. 0.59
    assert (low.predicted_low, low.predicted_high) == pytest.approx((0.50, 0.59))
    assert low.observed is not None
    assert low.observed.survival == pytest.approx(0.8)
    assert low.deaths_by_horizon == 2
    assert high.mean_predicted == pytest.approx(0.945)
    # one death among 10 at 0.3 years: S(1) = 0.9, Greenwood 1/(10*9)
    assert high.observed is not None
    assert high.observed.survival == pytest.approx(0.9)
    assert (high.observed.lower, high.observed.upper) == pytest.approx(_loglog(0.9, 1 / 90))
    # group-size weighted |predicted - observed|: (10*0.255 + 10*0.045) / 20
    assert horizon.mean_absolute_error == pytest.approx(0.15)


def test_a_group_without_enough_follow_up_shows_no_estimate() -> None:
    # At 2 years the low group knows 9 patients (3 deaths, 6 followed to 3 years; the one
    # censored at 1.2 is unknown): below the minimum of 10, so no estimate. The high group
    # knows all 10 (1 death, 9 followed to 2.5 years).
    horizon = calibrate_horizon(_rows(), 2.0)
    assert horizon.status == "partial"
    low, high = horizon.groups
    assert low.observed is None
    assert low.deaths_by_horizon is None
    assert high.observed is not None
    assert high.observed.survival == pytest.approx(0.9)
    assert horizon.mean_absolute_error == pytest.approx(
        abs(np.mean([0.85 + i / 100 for i in range(10)]) - 0.9)
    )


def test_five_years_is_not_followed_long_enough_yet() -> None:
    five = calibrate_past_predictions(_rows())[2]
    assert five.years == 5.0
    assert five.status == "follow_up"
    assert all(g.observed is None for g in five.groups)
    assert five.mean_absolute_error is None


def test_fewer_than_the_minimum_shows_nothing() -> None:
    rows = _rows()[: MIN_GROUP - 1]
    horizon = calibrate_horizon(rows, 1.0)
    assert (horizon.status, horizon.patients, horizon.groups) == ("too_few", MIN_GROUP - 1, [])


def test_groups_are_never_smaller_than_the_minimum() -> None:
    rows = _rows() + _rows()[:9]  # 29 patients: two groups (15 and 14), not three
    horizon = calibrate_horizon(rows, 1.0, groups=5)
    assert [g.patients for g in horizon.groups] == [15, 14]
    many = _rows() * 5  # 100 patients: at most 5 groups of 20
    assert [g.patients for g in calibrate_horizon(many, 1.0).groups] == [20] * 5


def test_a_prediction_without_a_value_at_the_horizon_is_left_out() -> None:
    rows = _rows() + [PastPrediction({1.0: 0.7}, 4.0, False)]
    assert calibrate_horizon(rows, 1.0).patients == 21
    assert calibrate_horizon(rows, 2.0).patients == 20


def test_received_option_matches_the_modalities_in_any_order() -> None:
    options = ["surgery", "radiotherapy+chemotherapy", "surgery+chemotherapy"]
    assert received_option({"chemotherapy", "surgery"}, options) == "surgery+chemotherapy"
    assert received_option({"surgery"}, options) == "surgery"
    assert received_option({"surgery", "hormonal"}, options) is None
    assert received_option(set(), options) is None
