"""CTCAE v5.0 grade ranges, checked against the published term tables (NCI CTCAE v5.0,
27 Nov 2017): a "-" in a grade column means the grade is not defined for the term."""

from __future__ import annotations

import pytest

from oncology.clinical.issues import Issue
from oncology.clinical.toxicity import CTCAE_TERMS, validate_toxicity

PUBLISHED_RANGES = {
    "anaemia": (1, 5),
    "neutropenia": (1, 4),  # Investigations: no grade 5
    "thrombocytopenia": (1, 4),
    "febrile_neutropenia": (3, 5),
    "nausea": (1, 3),
    "vomiting": (1, 5),
    "diarrhoea": (1, 5),
    "fatigue": (1, 3),
    "alopecia": (1, 2),
    "dysgeusia": (1, 2),
    "rash_maculopapular": (1, 3),
    "hand_foot_syndrome": (1, 3),
    "pneumonitis": (1, 5),
    "radiation_dermatitis": (1, 5),
    "anaphylaxis": (3, 5),
    "sepsis": (4, 5),
    "lung_infection": (2, 5),
}


def test_published_grade_ranges() -> None:
    for key, (low, high) in PUBLISHED_RANGES.items():
        term = CTCAE_TERMS[key]
        assert (term.min_grade, term.max_grade) == (low, high), key


def test_catalogue_keys_are_stable_snake_case_and_fit_the_model_field() -> None:
    assert len(CTCAE_TERMS) >= 40
    for key, term in CTCAE_TERMS.items():
        assert key == key.lower()
        assert " " not in key
        assert "-" not in key
        assert len(key) <= 60
        assert 1 <= term.min_grade <= term.max_grade <= 5


def test_neutropenia_is_the_ctcae_neutrophil_count_term() -> None:
    assert CTCAE_TERMS["neutropenia"].label == "Neutrophil count decreased"


@pytest.mark.parametrize(
    ("term", "grade"), [("neutropenia", 4), ("fatigue", 3), ("alopecia", 1), ("sepsis", 5)]
)
def test_defined_grades_have_no_issue(term: str, grade: int) -> None:
    assert validate_toxicity(term, grade) == []


@pytest.mark.parametrize(
    ("term", "grade"),
    [
        ("alopecia", 3),
        ("fatigue", 4),
        ("neutropenia", 5),
        ("febrile_neutropenia", 2),
        ("nausea", 0),
        ("diarrhoea", 6),
        ("diarrhoea", 2.5),
        ("diarrhoea", "3"),
    ],
)
def test_undefined_grades_are_errors(term: str, grade: object) -> None:
    (issue,) = validate_toxicity(term, grade)
    assert issue.field == "grade"
    assert "CTCAE v5.0" in issue.message


def test_grade_message_names_the_range() -> None:
    assert validate_toxicity("alopecia", 3) == [
        Issue("grade", "Alopecia is graded 1-2 in CTCAE v5.0")
    ]


def test_unknown_term_is_an_error_on_term() -> None:
    assert validate_toxicity("hair_loss", 1) == [Issue("term", "unknown CTCAE term 'hair_loss'")]


def test_missing_values_are_not_errors() -> None:
    assert validate_toxicity(None, None) == []
    assert validate_toxicity("nausea", None) == []


def test_peripheral_sensory_neuropathy_has_no_grade_4_in_ctcae_v5() -> None:
    # CTCAE v5.0 (2017): grades 1-3 are defined, 4 and 5 are not (they were in v4.03).
    assert validate_toxicity("peripheral_sensory_neuropathy", 3) == []
    issues = validate_toxicity("peripheral_sensory_neuropathy", 4)
    assert [i.field for i in issues] == ["grade"]
