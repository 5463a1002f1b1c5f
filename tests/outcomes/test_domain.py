"""Applicability domain: training rows inside, outliers and unseen categories flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import mahalanobis

from oncology.outcomes import simulate
from oncology.outcomes.domain import ApplicabilityDomain, DomainError
from oncology.outcomes.features import FeatureEncoder


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    return simulate.simulate_cohort(n=2000, seed=0).covariates


@pytest.fixture(scope="module")
def domain(training) -> ApplicabilityDomain:
    return ApplicabilityDomain(simulate.feature_specs()).fit(training)


def test_distance_matches_scipy_mahalanobis(domain, training) -> None:
    x = FeatureEncoder(simulate.feature_specs()).fit_transform(training)
    cov = np.cov(x, rowvar=False) + 1e-3 * np.eye(x.shape[1])
    vi = np.linalg.inv(cov)
    mean = x.mean(axis=0)
    for i in (0, 17, 1999):
        expected = mahalanobis(x[i], mean, vi)
        assert domain.distances(training.iloc[[i]])[0] == pytest.approx(expected, rel=1e-9)


def test_training_rows_are_inside(domain, training) -> None:
    for i in range(0, 2000, 250):
        check = domain.check(training.iloc[[i]])
        assert check.distance is not None
        if check.distance <= check.distance_threshold:
            assert not check.abstain
            assert check.inside
    distances = domain.distances(training)
    # the in-sample share above the held-out threshold is at most about 1%
    assert (distances > domain.threshold_).mean() <= 0.012


def test_about_one_percent_of_new_in_distribution_patients_exceed_the_threshold(domain) -> None:
    new = simulate.simulate_cohort(n=6000, seed=7).covariates
    flagged = (domain.distances(new) > domain.threshold_).mean()
    # binomial sd at p=0.01, n=6000 is 0.0013; allow for the threshold's own estimation error
    assert 0.004 <= flagged <= 0.02
    # the percentile thresholds for single features: 1st-99th, so ~2% per feature are "unusual"
    ages = new["age"].to_numpy()
    lo, q_lo, q_hi, hi = domain.ranges_["age"]
    assert 0.01 <= ((ages < q_lo) | (ages > q_hi)).mean() <= 0.03


def test_synthetic_outlier_is_flagged_and_abstains(domain, training) -> None:
    patient = training.iloc[[0]].copy()
    patient["age"] = 130.0
    patient["tumour_size_mm"] = 900.0
    check = domain.check(patient)
    assert check.abstain
    assert not check.inside
    assert "outside_range" in check.codes
    assert "distance" in check.codes
    age = next(w for w in check.warnings if w.feature == "age")
    assert "above the range of the training patients" in age.message
    assert check.distance_percentile == 1.0


def test_a_combination_outlier_inside_every_range_is_caught_by_the_distance(
    domain, training
) -> None:
    # young, ECOG 3, stage I with a huge tumour: each value occurs, the combination does not
    patient = training.iloc[[0]].copy()
    patient[["age", "ecog", "stage"]] = [32.0, 3, "I"]
    patient["tumour_size_mm"] = domain.ranges_["tumour_size_mm"][3]
    patient["texture_heterogeneity"] = domain.ranges_["texture_heterogeneity"][3]
    check = domain.check(patient)
    assert "outside_range" not in check.codes
    assert "distance" in check.codes
    assert check.abstain


def test_unseen_category_is_flagged(domain, training) -> None:
    patient = training.iloc[[3]].copy()
    patient["stage"] = "V"
    check = domain.check(patient)
    assert check.codes.count("unseen_category") == 1
    assert "known values: I, II, III, IV" in check.warnings[0].message
    assert check.abstain


def test_missing_required_abstains_and_optional_missing_is_a_note(domain, training) -> None:
    patient = training.iloc[[5]].copy()
    patient["age"] = np.nan
    check = domain.check(patient)
    assert check.codes == ["missing_required"]
    assert check.abstain
    assert check.distance is None
    absent = training.iloc[[5]].drop(columns=["stage"])
    assert domain.check(absent).codes == ["missing_required"]
    optional = training.iloc[[5]].copy()
    optional["comorbidity_index"] = np.nan
    note = domain.check(optional)
    assert "imputed" in note.codes
    assert note.distance is not None


def test_policy_decides_what_abstains(training) -> None:
    lenient = ApplicabilityDomain(simulate.feature_specs(), abstain_on=["missing_required"])
    lenient.fit(training)
    patient = training.iloc[[0]].copy()
    patient["age"] = 130.0
    check = lenient.check(patient)
    assert "outside_range" in check.codes
    assert not check.abstain


def test_bad_configuration_and_input_are_rejected(domain, training) -> None:
    with pytest.raises(DomainError):
        ApplicabilityDomain(simulate.feature_specs(), required=["nope"])
    with pytest.raises(DomainError):
        ApplicabilityDomain(simulate.feature_specs(), abstain_on=["whatever"])
    with pytest.raises(DomainError):
        domain.check(training.iloc[:2])
    bad = training.iloc[[0]].copy().astype(object)
    bad["age"] = "old"
    with pytest.raises(DomainError):
        domain.check(bad)
    assert domain.check(training.iloc[0].to_dict()).distance is not None
