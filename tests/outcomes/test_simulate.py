"""The simulated cohort: reproducible, confounded, and its true curves match its own draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from oncology.outcomes import simulate


@pytest.fixture(scope="module")
def cohort() -> simulate.SimulatedCohort:
    return simulate.simulate_cohort(n=4000, seed=3)


def test_same_seed_same_cohort_other_seed_other_cohort() -> None:
    a = simulate.simulate_cohort(n=200, seed=7).frame
    b = simulate.simulate_cohort(n=200, seed=7).frame
    c = simulate.simulate_cohort(n=200, seed=8).frame
    pd.testing.assert_frame_equal(a, b)
    assert not a["time"].equals(c["time"])


def test_every_option_is_given_and_propensities_are_proper(cohort) -> None:
    assert set(cohort.frame["treatment"]) == set(simulate.OPTIONS)
    probs = simulate.assignment_probabilities(cohort.covariates)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs.to_numpy() > 0.001).all()  # positivity: every option possible for everyone


@pytest.mark.parametrize("option", ["surgery", "radiotherapy+chemotherapy"])
def test_kaplan_meier_of_an_arm_matches_the_true_curve_of_its_patients(cohort, option) -> None:
    # Censoring is independent of the event time, so the arm's KM estimates the average true
    # survival of the patients in that arm under the option they received.
    arm = cohort.frame[cohort.frame["treatment"] == option]
    km = KaplanMeierFitter().fit(arm["time"], arm["event"])
    times = np.array([12.0, 36.0, 60.0])
    truth = simulate.true_survival(arm.drop(columns=["time", "event", "treatment"]), option, times)
    np.testing.assert_allclose(km.predict(times).to_numpy(), truth.mean(axis=0), atol=0.04)


def test_naive_comparison_is_confounded(cohort) -> None:
    # Surgery goes to early-stage, fit patients: its naive KM is far above what surgery would
    # give the whole cohort, which is what a comparison must correct for.
    frame = cohort.frame
    arm = frame[frame["treatment"] == "surgery"]
    naive = float(KaplanMeierFitter().fit(arm["time"], arm["event"]).predict(36.0))
    marginal = simulate.true_survival(cohort.covariates, "surgery", np.array([36.0])).mean()
    assert naive - marginal > 0.1


def test_true_survival_closed_form_and_rmst() -> None:
    cov = simulate.simulate_cohort(n=5, seed=1).covariates
    lp = simulate.prognostic_log_hazard(cov) + simulate.treatment_log_hazard(cov, "surgery")
    expected = np.exp(-simulate.SCALE * 24.0**simulate.SHAPE * np.exp(lp))
    got = simulate.true_survival(cov, "surgery", np.array([0.0, 24.0]))
    np.testing.assert_allclose(got[:, 0], 1.0)
    np.testing.assert_allclose(got[:, 1], expected)
    rmst = simulate.true_rmst(cov, "surgery", 60.0)
    assert ((rmst > 0) & (rmst < 60.0)).all()


def test_bad_option_and_stage_are_refused() -> None:
    cov = simulate.simulate_cohort(n=3, seed=1).covariates
    with pytest.raises(ValueError, match="unknown option"):
        simulate.true_survival(cov, "immunotherapy", np.array([1.0]))
    cov.loc[0, "stage"] = "V"
    with pytest.raises(ValueError, match="stage must be one of"):
        simulate.prognostic_log_hazard(cov)
