"""The simulated response outcome, the per-option response model against its known truth, the
per-option support check and the summary of bootstrap draws (pure library, no Django)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncology.outcomes import simulate
from oncology.outcomes.classifiers import OptionResponseModel
from oncology.outcomes.domain import OptionSupport
from oncology.outcomes.ensemble import ResponseEnsemble, summarise_draws


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate.simulate_cohort(4000, seed=0, response=True).frame


def test_asking_for_the_response_leaves_every_survival_draw_bit_identical() -> None:
    plain = simulate.simulate_cohort(500, seed=5).frame
    with_response = simulate.simulate_cohort(500, seed=5, response=True).frame
    pd.testing.assert_frame_equal(plain, with_response.drop(columns="response"))
    assert set(with_response["response"]) == {0, 1}
    again = simulate.simulate_cohort(500, seed=5, response=True).frame
    assert with_response["response"].equals(again["response"])


def test_the_drawn_responses_follow_the_true_probability(cohort: pd.DataFrame) -> None:
    cov = cohort.drop(columns=["time", "event", "treatment", "response"])
    for option in ("surgery", "radiotherapy+chemotherapy"):
        arm = cohort["treatment"] == option
        truth = simulate.true_response_probability(cov[arm], option)
        observed = cohort.loc[arm, "response"].mean()
        # binomial standard error of an arm of ~500-700 patients is about 0.02
        assert abs(observed - truth.mean()) < 0.06


def test_chemotherapy_responds_better_in_marker_positive_tumours() -> None:
    cov = simulate.simulate_cohort(10, seed=1).covariates
    pos, neg = cov.assign(marker_positive=1), cov.assign(marker_positive=0)
    gain = simulate.response_log_odds(pos, "chemotherapy") - simulate.response_log_odds(
        neg, "chemotherapy"
    )
    np.testing.assert_allclose(gain, 1.0)  # the documented +1.0 on the log-odds scale


def test_the_response_model_recovers_the_known_per_option_probability(
    cohort: pd.DataFrame,
) -> None:
    """Tolerance (docs/outcomes-simulation.md): trained on 4,000 simulated patients (seed 0),
    on 1,000 fresh patients the mean absolute error of the per-patient probability is below
    0.07 for every option and 0.05 averaged over the options, and the per-option average
    probability is within 0.05 of the truth; a naive
    per-arm response rate (confounded) misses the average of at least one option by more."""
    model = OptionResponseModel(simulate.feature_specs(), "treatment", params={"l2": 1.0}).fit(
        cohort, "response"
    )
    fresh = simulate.simulate_cohort(1000, seed=99).covariates
    naive_worst = 0.0
    errors = []
    for option in simulate.OPTIONS:
        truth = simulate.true_response_probability(fresh, option)
        estimate = model.probability_matrix(fresh, option)
        errors.append(np.mean(np.abs(estimate - truth)))
        assert errors[-1] < 0.07, option
        assert abs(estimate.mean() - truth.mean()) < 0.05, option
        naive = cohort.loc[cohort["treatment"] == option, "response"].mean()
        naive_worst = max(naive_worst, abs(naive - truth.mean()))
    assert np.mean(errors) < 0.05
    assert naive_worst > 0.05


def test_response_refits_give_an_interval_around_the_estimate(cohort: pd.DataFrame) -> None:
    frame = cohort.iloc[:2000]
    model = OptionResponseModel(simulate.feature_specs(), "treatment", params={"l2": 1.0})
    model.fit(frame, "response")
    refits = ResponseEnsemble(model, replicates=20, seed=0).fit(
        frame, "response", list(model.options_)
    )
    patient = frame.iloc[[0]].assign(tumour_size_mm=np.nan)  # one value imputed
    points = model.predict(patient)
    # the fast path (values parsed once, each refit's encoder state applied) gives exactly
    # what each refit's own predict gives
    fast = refits.draws(patient)
    for option in model.options_:
        slow = [member.predict(patient)[option] for member in refits.members_]
        np.testing.assert_allclose(fast[option], slow, rtol=0, atol=1e-12)
    for option, (lo, hi) in refits.interval(patient).items():
        assert 0 <= lo < hi <= 1
        assert lo - 0.05 <= points[option] <= hi + 0.05


def test_an_option_without_comparable_treated_patients_is_marked(cohort: pd.DataFrame) -> None:
    support = OptionSupport(simulate.feature_specs(), "treatment").fit(cohort)
    # thresholds are the 1st percentile of each option's own propensity among its patients
    p = support.propensities(cohort)
    treated = cohort["treatment"] == "surgery"
    assert support.thresholds_["surgery"] == pytest.approx(
        np.quantile(p.loc[treated.to_numpy(), "surgery"], 0.01)
    )
    typical = cohort.iloc[[int(np.argmax(p["surgery"].to_numpy()))]]
    assert {a.option: a.applicable for a in support.check(typical)}["surgery"]
    # old, frail, stage IV, comorbid: surgery is (almost) never chosen for such a patient
    frail = typical.assign(stage="IV", ecog=3, age=88.0, comorbidity_index=6)
    verdict = {a.option: a for a in support.check(frail)}
    assert not verdict["surgery"].applicable
    assert "No comparable treated patients" in verdict["surgery"].reason
    assert verdict["surgery"].propensity < support.thresholds_["surgery"]


def test_an_option_with_too_few_patients_is_marked(cohort: pd.DataFrame) -> None:
    support = OptionSupport(simulate.feature_specs(), "treatment", min_patients=300).fit(cohort)
    small = [o for o, n in support.counts_.items() if n < 300]
    assert small  # chemotherapy alone is the rarest option
    verdict = {a.option: a for a in support.check(cohort.iloc[[0]])}
    for option in small:
        assert not verdict[option].applicable
        assert "too few" in verdict[option].reason


def test_summarised_draws_are_percentiles_of_every_ordered_difference() -> None:
    rng = np.random.default_rng(0)
    grid = np.linspace(0.0, 60.0, 7)
    at = {"1y": 12.0, "5y": 60.0}
    draws = rng.uniform(0.2, 0.9, size=(200, 3, len(grid) + 2))
    options = ["a", "b", "c"]
    point = {o: {"1y": 0.8 - 0.1 * i, "5y": 0.5 - 0.1 * i} for i, o in enumerate(options)}
    summary = summarise_draws(draws, grid, options, at, point)
    rows = summary["survival_difference"]
    assert [(r["option"], r["versus"]) for r in rows] == [
        ("a", "b"),
        ("a", "c"),
        ("b", "a"),
        ("b", "c"),
        ("c", "a"),
        ("c", "b"),
    ]
    row = rows[3]  # b versus c
    expected = np.quantile(draws[:, 1, 7] - draws[:, 2, 7], [0.025, 0.975])
    np.testing.assert_allclose(row["1y"], expected)
    assert row["estimate"] == pytest.approx({"1y": 0.1, "5y": 0.1})
    np.testing.assert_allclose(
        summary["survival_at"]["c"]["5y"], np.quantile(draws[:, 2, 8], [0.025, 0.975])
    )
    bands = summary["bands"]
    np.testing.assert_allclose(bands.lower["a"], np.quantile(draws[:, 0, :7], 0.025, axis=0))
    assert list(bands.rmst_difference) == [("a", "b"), ("a", "c"), ("b", "c")]
