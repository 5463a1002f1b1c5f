"""Charlson index: weights from Charlson et al. 1987 (J Chronic Dis 40:373, weighted index
table), age points from Charlson et al. 1994 (J Clin Epidemiol 47:1245). Expected totals are
added up by hand."""

from __future__ import annotations

import pytest

from oncology.clinical.charlson import CONDITIONS, age_points, charlson_index

PUBLISHED_WEIGHTS = {
    "myocardial_infarction": 1,
    "chf": 1,
    "peripheral_vascular_disease": 1,
    "cerebrovascular_disease": 1,
    "dementia": 1,
    "chronic_pulmonary_disease": 1,
    "connective_tissue_disease": 1,
    "peptic_ulcer_disease": 1,
    "mild_liver": 1,
    "diabetes_uncomplicated": 1,
    "hemiplegia": 2,
    "moderate_severe_renal": 2,
    "diabetes_end_organ": 2,
    "any_tumour": 2,
    "leukaemia": 2,
    "lymphoma": 2,
    "moderate_severe_liver": 3,
    "metastatic_solid_tumour": 6,
    "aids": 6,
}


def test_the_19_conditions_carry_the_1987_weights() -> None:
    assert {k: w for k, (_, w) in CONDITIONS.items()} == PUBLISHED_WEIGHTS


def test_keys_are_snake_case_and_fit_the_model_field() -> None:
    for key in CONDITIONS:
        assert key == key.lower()
        assert " " not in key
        assert len(key) <= 40


def test_no_conditions_score_zero() -> None:
    assert charlson_index([]) == 0


def test_weights_add_up() -> None:
    # MI 1 + COPD 1 + renal 2 + AIDS 6 = 10
    assert (
        charlson_index(
            ["myocardial_infarction", "chronic_pulmonary_disease", "moderate_severe_renal", "aids"]
        )
        == 10
    )


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["mild_liver", "moderate_severe_liver"], 3),
        (["diabetes_uncomplicated", "diabetes_end_organ"], 2),
        (["any_tumour", "metastatic_solid_tumour"], 6),
        (["mild_liver", "diabetes_uncomplicated", "any_tumour"], 1 + 1 + 2),
    ],
)
def test_milder_and_severe_forms_of_one_disease_count_once(
    conditions: list[str], expected: int
) -> None:
    assert charlson_index(conditions) == expected


def test_repeated_keys_count_once() -> None:
    assert charlson_index(["chf", "chf"]) == 1


@pytest.mark.parametrize(
    ("age", "points"),
    [
        (0, 0),
        (40, 0),
        (49, 0),
        (50, 1),
        (59, 1),
        (60, 2),
        (69, 2),
        (70, 3),
        (79, 3),
        (80, 4),
        (95, 4),
    ],
)
def test_age_adds_one_point_per_decade_from_50_up_to_4(age: int, points: int) -> None:
    assert age_points(age) == points


def test_age_adjusted_index() -> None:
    # 72-year-old with CHF (1) and diabetes with end-organ damage (2): 3 + 3 age points = 6
    assert charlson_index(["chf", "diabetes_end_organ"], age_years=72) == 6
    # 55-year-old with no comorbidity: age only
    assert charlson_index([], age_years=55) == 1


def test_unknown_condition_is_rejected() -> None:
    with pytest.raises(ValueError, match="copd"):
        charlson_index(["copd"])


def test_negative_age_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        charlson_index([], age_years=-1)
