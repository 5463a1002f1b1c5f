"""Public cohorts: sizes and event counts match the published data sets, one tidy frame each."""

from __future__ import annotations

import numpy as np
import pytest

from oncology.outcomes import cohorts

# (patients, events) as documented by the original packages (R survival, TH.data, DeepSurv).
KNOWN = {
    "gbsg2": (686, 299),
    "rotterdam": (2982, 1272),
    "colon": (929, 452),
    "metabric": (1904, 1103),
    "follicular": (541, 348),  # 272 relapses + 76 deaths without relapse
    "veterans": (137, 128),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_cohort_is_tidy_and_matches_published_size(name: str) -> None:
    cohort = cohorts.load(name)
    frame = cohort.frame
    assert (cohort.n, cohort.events) == KNOWN[name]
    assert list(frame.columns[:2]) == ["time", "event"]
    assert list(frame.columns) == ["time", "event", *cohort.treatments, *cohort.features]
    assert set(frame["event"].unique()) <= {0, 1}
    assert np.isfinite(frame["time"]).all()
    assert (frame["time"] >= 0).all()
    assert cohort.time_unit in {"days", "months", "years"}
    assert cohort.citation
    assert cohort.source
    for col in cohort.treatments:
        if col != "arm":
            assert set(frame[col].unique()) == {0, 1}, col


def test_colon_has_the_three_trial_arms_and_its_missing_values() -> None:
    frame = cohorts.load("colon").frame
    assert frame["arm"].value_counts().to_dict() == {"Obs": 315, "Lev": 310, "Lev+5FU": 304}
    assert frame["positive_nodes"].isna().sum() == 18
    assert frame["differentiation"].isna().sum() == 23


def test_gbsg2_treatment_and_units() -> None:
    cohort = cohorts.load("gbsg2")
    assert cohort.frame["hormone_therapy"].sum() == 246  # TH.data::GBSG2 horTh == "yes"
    assert cohort.frame["time"].max() == 2659  # days


def test_unknown_cohort_and_missing_package_are_clear_errors() -> None:
    with pytest.raises(KeyError, match="unknown cohort 'nope'"):
        cohorts.load("nope")
    with pytest.raises(cohorts.CohortUnavailable, match="not installed"):
        cohorts._package_file("no_such_package_xyz", "data.csv")
    with pytest.raises(cohorts.CohortUnavailable, match="no data file"):
        cohorts._package_file("SurvSet", "resources", "pickles", "missing.pickle")
