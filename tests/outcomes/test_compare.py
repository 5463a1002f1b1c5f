"""Treatment comparison recovers the simulated cohort's known per-option survival."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from oncology.outcomes import simulate
from oncology.outcomes.compare import ComparisonError, TreatmentComparison, fit_propensity
from oncology.outcomes.features import FeatureEncoder

T36 = np.array([36.0])


@pytest.fixture(scope="module")
def fitted() -> TreatmentComparison:
    cohort = simulate.simulate_cohort(n=3000, seed=0)
    return TreatmentComparison(simulate.feature_specs(), "treatment").fit(cohort.frame)


@pytest.fixture(scope="module")
def new_patients():
    return simulate.simulate_cohort(n=300, seed=99).covariates


def test_per_option_3_year_survival_is_close_to_the_truth(fitted, new_patients) -> None:
    errors = []
    for option in simulate.OPTIONS:
        est = fitted.survival_matrix(new_patients, option, T36)[:, 0]
        truth = simulate.true_survival(new_patients, option, T36)[:, 0]
        errors.append(np.abs(est - truth).mean())
        # the cohort-average 3-year survival under each option
        assert abs(est.mean() - truth.mean()) < 0.045, option
    assert np.mean(errors) < 0.04


def test_adjustment_removes_most_of_the_confounding(fitted, new_patients) -> None:
    frame = simulate.simulate_cohort(n=3000, seed=0).frame
    arm = frame[frame["treatment"] == "surgery"]
    naive = float(KaplanMeierFitter().fit(arm["time"], arm["event"]).predict(36.0))
    truth = simulate.true_survival(new_patients, "surgery", T36).mean()
    adjusted = fitted.survival_matrix(new_patients, "surgery", T36).mean()
    assert abs(naive - truth) > 0.1
    assert abs(adjusted - truth) < abs(naive - truth) / 3


def test_compare_one_patient_gives_curves_rmst_and_fixed_times(fitted, new_patients) -> None:
    patient = new_patients.iloc[[0]]
    arms = simulate.simulate_cohort(n=3000, seed=0).frame["treatment"].value_counts()
    result = fitted.compare(patient, horizon=60.0, at=[12.0, 24.0, 60.0])
    assert [r.option for r in result] == sorted(simulate.OPTIONS)
    for r in result:
        assert r.survival[0] == pytest.approx(1.0)
        assert (np.diff(r.survival) <= 1e-12).all()
        assert r.rmst == pytest.approx(np.trapezoid(r.survival, r.times))
        true_rmst = simulate.true_rmst(patient, r.option, 60.0)[0]
        assert abs(r.rmst - true_rmst) < 6.0  # months, out of 60
        assert r.survival_at[60.0] < r.survival_at[12.0]
        assert r.patients == arms[r.option]


def test_propensity_model_recovers_assignment_probabilities() -> None:
    cohort = simulate.simulate_cohort(n=3000, seed=5)
    enc = FeatureEncoder(simulate.feature_specs())
    x = enc.fit_transform(cohort.frame)
    codes = cohort.frame["treatment"].map({o: i for i, o in enumerate(simulate.OPTIONS)})
    predict = fit_propensity(x, codes.to_numpy(), len(simulate.OPTIONS))
    truth = simulate.assignment_probabilities(cohort.covariates).to_numpy()
    assert np.abs(predict(x) - truth).mean() < 0.04


def test_weighted_per_option_variant_runs_and_refuses_small_arms() -> None:
    frame = simulate.simulate_cohort(n=800, seed=2).frame
    tc = TreatmentComparison(
        simulate.feature_specs(), "treatment", method="per_option", weighting=True
    ).fit(frame)
    assert tc.weights_.min() > 0
    assert len(tc.compare(frame.iloc[[0]], horizon=24.0)) == len(simulate.OPTIONS)
    with pytest.raises(ComparisonError, match="fewer than 500 patients"):
        TreatmentComparison(simulate.feature_specs(), "treatment", min_patients=500).fit(frame)
    with pytest.raises(ComparisonError, match="compare one patient"):
        tc.compare(frame.iloc[:2], horizon=24.0)


def test_colon_trial_arms_keep_the_trial_ordering() -> None:
    # Randomised (Moertel 1990): levamisole + fluorouracil lowered mortality, levamisole alone
    # did not. The covariate-standardised 5-year RMST ranks Lev+5FU first by a clear margin,
    # and each arm's standardised 5-year survival agrees with its Kaplan-Meier (randomisation).
    from oncology.outcomes import cohorts
    from oncology.outcomes.features import infer_specs
    from oncology.outcomes.metrics import kaplan_meier

    frame = cohorts.load("colon").frame
    specs = infer_specs(frame, exclude=["time", "event", "arm"])
    tc = TreatmentComparison(specs, "arm").fit(frame)
    horizon = 5 * 365.25
    grid = np.linspace(0.0, horizon, 201)
    rmst = {}
    for arm in ("Obs", "Lev", "Lev+5FU"):
        curve = tc.survival_matrix(frame, arm, grid).mean(axis=0)
        rmst[arm] = np.trapezoid(curve, grid)
        rows = frame[frame["arm"] == arm]
        assert abs(curve[-1] - kaplan_meier(rows["time"], rows["event"], horizon)) < 0.03, arm
    assert rmst["Lev+5FU"] - max(rmst["Obs"], rmst["Lev"]) > 90.0  # days


def test_bootstrap_bands_bracket_the_estimate_and_are_reproducible() -> None:
    from oncology.outcomes.compare import bootstrap_bands

    frame = simulate.simulate_cohort(n=700, seed=8).frame
    tc = TreatmentComparison(simulate.feature_specs(), "treatment").fit(frame)
    patient = frame.iloc[[3]]
    bands = bootstrap_bands(tc, patient, horizon=36.0, replicates=10, steps=12, seed=1)
    point = {r.option: r for r in tc.compare(patient, horizon=36.0, steps=12)}
    for option in simulate.OPTIONS:
        assert (bands.lower[option] <= bands.upper[option]).all()
        inside = (bands.lower[option] - 0.02 <= point[option].survival) & (
            point[option].survival <= bands.upper[option] + 0.02
        )
        assert inside.mean() > 0.9, option
        lo, hi = bands.rmst[option]
        assert lo <= hi
    a, b = "surgery", "radiotherapy"
    lo, hi = (
        bands.rmst_difference[(a, b)]
        if (a, b) in bands.rmst_difference
        else (-bands.rmst_difference[(b, a)][1], -bands.rmst_difference[(b, a)][0])
    )
    assert lo <= point[a].rmst - point[b].rmst + 1.0
    assert point[a].rmst - point[b].rmst - 1.0 <= hi
    again = bootstrap_bands(tc, patient, horizon=36.0, replicates=10, steps=12, seed=1)
    np.testing.assert_array_equal(again.lower["surgery"], bands.lower["surgery"])
    with pytest.raises(ComparisonError, match="at least 10"):
        bootstrap_bands(tc, patient, horizon=36.0, replicates=3)


def test_weighted_km_rmst_matches_lifelines_with_unit_weights() -> None:
    from lifelines.utils import restricted_mean_survival_time

    from oncology.outcomes.compare import weighted_km_rmst

    frame = simulate.simulate_cohort(n=300, seed=4).frame
    km = KaplanMeierFitter().fit(frame["time"], frame["event"])
    got = weighted_km_rmst(frame["time"], frame["event"], np.ones(len(frame)), 48.0)
    assert got == pytest.approx(restricted_mean_survival_time(km, t=48.0))
    # doubling every weight changes nothing; a weight of 2 equals a duplicated patient
    assert weighted_km_rmst(
        frame["time"], frame["event"], np.full(len(frame), 2.0), 48.0
    ) == pytest.approx(got)
    dup = np.r_[np.arange(len(frame)), 0]
    w = np.ones(len(frame))
    w[0] = 2.0
    km_dup = KaplanMeierFitter().fit(frame["time"].iloc[dup], frame["event"].iloc[dup])
    assert weighted_km_rmst(frame["time"], frame["event"], w, 48.0) == pytest.approx(
        restricted_mean_survival_time(km_dup, t=48.0)
    )


def test_gbsg2_hormone_benefit_lies_in_the_propensity_weighted_interval() -> None:
    from oncology.outcomes import cohorts
    from oncology.outcomes.compare import iptw_rmst_difference
    from oncology.outcomes.features import infer_specs

    frame = cohorts.load("gbsg2").frame
    specs = infer_specs(frame, exclude=["time", "event", "hormone_therapy"])
    horizon = 5 * 365.25
    _, lo, hi = iptw_rmst_difference(
        frame, specs, "hormone_therapy", "1", "0", horizon, replicates=60, seed=0
    )
    tc = TreatmentComparison(specs, "hormone_therapy").fit(frame)
    grid = np.linspace(0.0, horizon, 201)
    rmst = {o: np.trapezoid(tc.survival_matrix(frame, o, grid).mean(axis=0), grid) for o in "01"}
    benefit = rmst["1"] - rmst["0"]
    assert lo < benefit < hi
    assert benefit > 0  # tamoxifen lengthened recurrence-free survival (Schumacher 1994)
