"""The precomputed bootstrap ensemble gives the bands that compare.bootstrap_bands computes."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from oncology.outcomes import simulate
from oncology.outcomes.compare import ComparisonError, TreatmentComparison, bootstrap_bands
from oncology.outcomes.ensemble import BootstrapEnsemble, encode_row, parse_row
from oncology.outcomes.features import FeatureEncoder, FeatureSpec


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate.simulate_cohort(n=600, seed=5).frame


@pytest.fixture(scope="module")
def patient() -> pd.DataFrame:
    return simulate.simulate_cohort(n=3, seed=12).covariates.iloc[[1]]


@pytest.mark.parametrize("method", ["interaction", "per_option"])
def test_ensemble_bands_equal_refitting_bands(cohort, patient, method) -> None:
    comp = TreatmentComparison(
        simulate.feature_specs(), "treatment", min_patients=20, method=method
    ).fit(cohort)
    reference = bootstrap_bands(comp, patient, horizon=60.0, replicates=10, steps=30, seed=4)
    ensemble = BootstrapEnsemble(comp, replicates=10, seed=4).fit()
    bands = ensemble.bands(patient, horizon=60.0, steps=30)
    np.testing.assert_allclose(bands.times, reference.times)
    assert bands.replicates == reference.replicates == 10
    for option in comp.options_:
        np.testing.assert_allclose(bands.lower[option], reference.lower[option], atol=1e-12)
        np.testing.assert_allclose(bands.upper[option], reference.upper[option], atol=1e-12)
        np.testing.assert_allclose(bands.rmst[option], reference.rmst[option], atol=1e-10)
    for pair, interval in reference.rmst_difference.items():
        np.testing.assert_allclose(bands.rmst_difference[pair], interval, atol=1e-10)
    # stored replicates survive a pickle round trip without their training frames
    restored = pickle.loads(pickle.dumps(ensemble))  # noqa: S301 (our own object)
    again = restored.bands(patient, horizon=60.0, steps=30)
    np.testing.assert_allclose(again.lower[comp.options_[0]], bands.lower[comp.options_[0]])
    assert not hasattr(restored.members_[0], "_data")


def test_encode_row_matches_the_encoder_with_missing_values_and_log1p() -> None:
    specs = [
        FeatureSpec("a", kind="numeric", missing="indicator", transform="log1p"),
        FeatureSpec("b", kind="categorical", missing="category"),
        FeatureSpec("c", kind="categorical", missing="mode"),
        FeatureSpec("d", kind="binary", missing="mode"),
    ]
    train = pd.DataFrame(
        {
            "a": [1.0, 4.0, np.nan, 10.0, 2.0],
            "b": ["x", "y", None, "x", "y"],
            "c": ["p", "q", "p", None, "p"],
            "d": [0, 1, 1, np.nan, 1],
        }
    )
    enc = FeatureEncoder(specs).fit(train)
    rows = pd.DataFrame(
        {
            "a": [np.nan, 3.0, 0.0],
            "b": [None, "z", "y"],
            "c": [None, "q", "unseen"],
            "d": [np.nan, 0, 1],
        }
    )
    for i in range(len(rows)):
        row = rows.iloc[[i]]
        np.testing.assert_array_equal(encode_row(enc, parse_row(enc, row)), enc.transform(row)[0])


def test_bad_use_is_rejected(cohort, patient) -> None:
    comp = TreatmentComparison(simulate.feature_specs(), "treatment", min_patients=20)
    with pytest.raises(ComparisonError):
        BootstrapEnsemble(comp)  # not fitted
    comp.fit(cohort)
    with pytest.raises(ComparisonError):
        BootstrapEnsemble(comp, replicates=5)
    with pytest.raises(ComparisonError):
        BootstrapEnsemble(comp, replicates=10).bands(patient, 60.0)  # not fitted
