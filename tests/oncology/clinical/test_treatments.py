"""Drug dose and radiotherapy plausibility limits (sources in oncology/clinical/treatments.py:
high-dose methotrexate 12 g/m2, carboplatin AUC <= 7, RTOG 0915 34 Gy x 1, RTOG 90-03 68
fractions, I-125 prostate implant 145 Gy)."""

from __future__ import annotations

import pytest

from oncology.clinical.issues import Issue
from oncology.clinical.treatments import (
    COMMON_REGIMENS,
    DOSE_UNITS,
    validate_cycles,
    validate_drugs,
    validate_radiotherapy,
)


def test_units_are_the_documented_set() -> None:
    assert set(DOSE_UNITS) == {"mg", "mg/m2", "mg/kg", "AUC", "g", "g/m2", "IU"}


def test_common_regimens_carry_their_drugs() -> None:
    assert COMMON_REGIMENS["FOLFOX"] == ("oxaliplatin", "folinic acid", "fluorouracil")
    assert COMMON_REGIMENS["CAPOX"] == ("capecitabine", "oxaliplatin")
    assert "AC-T" in COMMON_REGIMENS
    assert all(len(name) <= 100 for name in COMMON_REGIMENS)


def test_usual_regimen_doses_have_no_issue() -> None:
    folfox = [
        {"name": "oxaliplatin", "dose": 85, "unit": "mg/m2"},
        {"name": "folinic acid", "dose": 400, "unit": "mg/m2"},
        {"name": "fluorouracil", "dose": 2400, "unit": "mg/m2"},
    ]
    assert validate_drugs(folfox) == []
    assert validate_drugs([{"name": "carboplatin", "dose": 5, "unit": "AUC"}]) == []
    assert validate_drugs([{"name": "pembrolizumab", "dose": 200, "unit": "mg"}]) == []
    assert validate_drugs([{"name": "methotrexate", "dose": 12, "unit": "g/m2"}]) == []
    assert validate_drugs([]) == []
    assert validate_drugs(None) == []


def test_out_of_range_dose_names_the_drug_and_index() -> None:
    drugs = [
        {"name": "oxaliplatin", "dose": 85, "unit": "mg/m2"},
        {"name": "fluorouracil", "dose": 2400, "unit": "g/m2"},
    ]
    assert validate_drugs(drugs) == [
        Issue(
            "drugs[1].dose",
            "dose of fluorouracil exceeds the plausible maximum of 15 g/m2 per administration",
        )
    ]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"name": "carboplatin", "dose": 15, "unit": "AUC"}, "drugs[0].dose"),
        ({"name": "x", "dose": 0, "unit": "mg"}, "drugs[0].dose"),
        ({"name": "x", "dose": -5, "unit": "mg"}, "drugs[0].dose"),
        ({"name": "x", "dose": "85", "unit": "mg"}, "drugs[0].dose"),
        ({"name": "x", "dose": float("nan"), "unit": "mg"}, "drugs[0].dose"),
        ({"name": "x", "unit": "mg"}, "drugs[0].dose"),
        ({"name": "x", "dose": 10, "unit": "mL"}, "drugs[0].unit"),
        ({"name": "", "dose": 10, "unit": "mg"}, "drugs[0].name"),
        ({"name": "x", "dose": 10, "unit": "mg", "route": "iv"}, "drugs[0]"),
        ("cisplatin 75 mg/m2", "drugs[0]"),
    ],
)
def test_malformed_drug_entries_name_the_field(entry: object, field: str) -> None:
    issues = validate_drugs([entry])
    assert [i.field for i in issues] == [field]


def test_drugs_must_be_a_list() -> None:
    assert validate_drugs({"name": "x"}) == [
        Issue("drugs", "drugs must be a list of {name, dose, unit} entries")
    ]


@pytest.mark.parametrize("cycles", [1, 6, 100, None])
def test_cycles_from_1_to_100_are_valid(cycles: int | None) -> None:
    assert validate_cycles(cycles) == []


@pytest.mark.parametrize("cycles", [0, 101, -1, 2.5, "6", True])
def test_cycles_outside_1_to_100_are_errors(cycles: object) -> None:
    (issue,) = validate_cycles(cycles)
    assert issue.field == "cycles"


@pytest.mark.parametrize(
    ("total", "fractions", "technique"),
    [
        (60, 30, "IMRT"),  # conventional 2 Gy
        (78, 39, "VMAT"),  # prostate
        (8, 1, "3DCRT"),  # single-fraction bone palliation
        (54, 3, "SBRT"),  # RTOG 0236
        (34, 1, "SBRT"),  # RTOG 0915
        (24, 1, "SRS"),  # RTOG 90-05
        (145, 1, "BRACHY"),  # I-125 permanent implant
        (7, 4, "BRACHY"),  # cervix HDR is 7 Gy x 4: total counted per course
        (81.6, 68, "3DCRT"),  # RTOG 90-03 hyperfractionation
        (3, 6, "3DCRT"),  # 0.5 Gy fractions
        (120, 1, "OTHER"),  # Y-90 radioembolisation
    ],
)
def test_documented_schedules_are_plausible(total: float, fractions: int, technique: str) -> None:
    assert validate_radiotherapy(total, fractions, technique) == []


@pytest.mark.parametrize(
    ("total", "fractions", "technique", "field"),
    [
        (0, 5, "IMRT", "total_dose_gy"),
        (-2, 5, "IMRT", "total_dose_gy"),
        (95, 50, "IMRT", "total_dose_gy"),  # > 90 Gy external beam
        (160, 1, "BRACHY", "total_dose_gy"),  # > 150 Gy
        ("60", 30, "IMRT", "total_dose_gy"),
        (60, 0, "IMRT", "fractions"),
        (60, 71, "IMRT", "fractions"),
        (60, 2.0, "IMRT", "fractions"),
        (20, 1, "3DCRT", "fractions"),  # 20 Gy per fraction is not conventional
        (40, 1, "SBRT", "fractions"),  # > 34 Gy per fraction
        (2, 5, "IMRT", "fractions"),  # 0.4 Gy per fraction
    ],
)
def test_implausible_courses_name_the_field(
    total: object, fractions: object, technique: str, field: str
) -> None:
    issues = validate_radiotherapy(total, fractions, technique)
    assert [i.field for i in issues] == [field]


def test_missing_values_are_left_to_required_field_checks() -> None:
    assert validate_radiotherapy(None, None, None) == []
    assert validate_radiotherapy(60, None, "IMRT") == []
