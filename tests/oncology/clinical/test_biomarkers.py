"""Biomarker catalogue and result/value rules (ASCO/CAP 2020 ER/PR: positive at >= 1 %;
ASCO/CAP 2018 HER2: IHC 0/1+ negative, 2+ equivocal, 3+ positive)."""

from __future__ import annotations

import pytest

from oncology.clinical.biomarkers import ALL_RESULTS, BIOMARKERS, validate_biomarker
from oncology.clinical.issues import Issue


def test_catalogue_names_fit_the_model_field_and_results_are_model_choices() -> None:
    for name, spec in BIOMARKERS.items():
        assert len(name) <= 30
        assert set(spec.results) <= set(ALL_RESULTS)
        assert "not_done" in spec.results
        assert (spec.unit is None) == (spec.value_range is None)


def test_core_names_are_present() -> None:
    for name in (
        "ER",
        "PR",
        "HER2",
        "PD-L1 TPS",
        "PD-L1 CPS",
        "Ki-67",
        "EGFR",
        "ALK",
        "ROS1",
        "KRAS",
        "BRAF",
        "MSI",
        "MMR",
    ):
        assert name in BIOMARKERS


@pytest.mark.parametrize(
    ("name", "result", "value"),
    [
        ("ER", "positive", 90),
        ("ER", "positive", 1),
        ("ER", "negative", 0),
        ("ER", "positive", None),
        ("PR", "negative", 0.5),
        ("HER2", "positive", 3),
        ("HER2", "negative", 1),
        ("HER2", "equivocal", 2),
        ("HER2", "positive", 2),  # 2+ with ISH amplification
        ("HER2", "not_done", None),
        ("Ki-67", "positive", 30),
        ("PD-L1 TPS", "positive", 50),
        ("PD-L1 CPS", "negative", 0),
        ("PD-L1 CPS", "positive", 100),
        ("EGFR", "positive", None),
        ("MSI", "negative", None),
        ("TMB", "positive", 14.2),
    ],
)
def test_valid_results_have_no_issue(name: str, result: str, value: float | None) -> None:
    assert validate_biomarker(name, result, value) == []


def test_unknown_biomarker_is_an_error_on_name() -> None:
    assert validate_biomarker("ER-beta", "positive", None) == [
        Issue("name", "unknown biomarker 'ER-beta'")
    ]


@pytest.mark.parametrize(("name", "result"), [("ER", "equivocal"), ("EGFR", "equivocal")])
def test_a_result_the_test_does_not_define_is_an_error(name: str, result: str) -> None:
    (issue,) = validate_biomarker(name, result, None)
    assert issue.field == "result"


@pytest.mark.parametrize(
    ("name", "value"),
    [("ER", 101), ("ER", -1), ("PD-L1 TPS", 150), ("PD-L1 CPS", 101), ("HER2", 4), ("Ki-67", 120)],
)
def test_values_outside_the_scale_are_errors(name: str, value: float) -> None:
    (issue,) = validate_biomarker(name, "positive", value)
    assert issue.field == "value"
    assert "between" in issue.message


def test_her2_score_is_a_whole_number() -> None:
    (issue,) = validate_biomarker("HER2", "equivocal", 2.5)
    assert issue.field == "value"


def test_a_gene_alteration_takes_no_value() -> None:
    (issue,) = validate_biomarker("KRAS", "positive", 12)
    assert issue == Issue("value", "KRAS is recorded without a value")


def test_not_done_cannot_carry_a_value() -> None:
    (issue,) = validate_biomarker("ER", "not_done", 40)
    assert issue.field == "value"


def test_ki67_needs_a_value_unless_not_done() -> None:
    (issue,) = validate_biomarker("Ki-67", "positive", None)
    assert issue.field == "value"
    assert validate_biomarker("Ki-67", "not_done", None) == []


@pytest.mark.parametrize(("result", "value"), [("negative", 5), ("positive", 0)])
def test_er_result_must_follow_the_1_percent_threshold(result: str, value: float) -> None:
    (issue,) = validate_biomarker("ER", result, value)
    assert issue.field == "result"
    assert "ASCO/CAP 2020" in issue.message


@pytest.mark.parametrize(
    ("result", "value"), [("negative", 3), ("equivocal", 3), ("positive", 1), ("positive", 0)]
)
def test_her2_result_must_follow_the_ihc_score(result: str, value: float) -> None:
    (issue,) = validate_biomarker("HER2", result, value)
    assert issue.field == "result"


def test_non_numeric_value_is_an_error() -> None:
    (issue,) = validate_biomarker("ER", "positive", "90%")
    assert issue.field == "value"


def test_missing_values_are_not_errors() -> None:
    assert validate_biomarker(None, None, None) == []
    assert validate_biomarker("ER", None, None) == []
