"""Lab catalogue: LOINC codes, unit conversions, possible and reference ranges.

LOINC codes checked against the LOINC long common names (loinc.org); conversion factors from
the molar masses (creatinine 113.12 g/mol: 1 mg/dL = 88.4 umol/L; bilirubin 584.66 g/mol:
1 mg/dL = 17.1 umol/L; calcium 40.08 g/mol: 1 mmol/L = 4.008 mg/dL; glucose 180.16 g/mol:
1 mmol/L = 18.016 mg/dL) and SI unit tables (haemoglobin 1 g/dL = 10 g/L)."""

from __future__ import annotations

import math

import pytest

from oncology.clinical.issues import Issue
from oncology.clinical.labs import LABS, accepted_units, flag, to_canonical, validate_lab

EXPECTED_CODES = {
    "718-7": ("haemoglobin", "g/dL"),
    "6690-2": ("white cell count", "10^9/L"),
    "751-8": ("neutrophil count", "10^9/L"),
    "777-3": ("platelet count", "10^9/L"),
    "2160-0": ("creatinine", "mg/dL"),
    "1975-2": ("total bilirubin", "mg/dL"),
    "1742-6": ("ALT", "U/L"),
    "1920-8": ("AST", "U/L"),
    "1751-7": ("albumin", "g/dL"),
    "2039-6": ("CEA", "ng/mL"),
    "1834-1": ("AFP", "ng/mL"),
    "24108-3": ("CA 19-9", "U/mL"),
    "10334-1": ("CA-125", "U/mL"),
    "6875-9": ("CA 15-3", "U/mL"),
    "2857-1": ("PSA", "ng/mL"),
}


def test_catalogue_holds_the_expected_loinc_codes() -> None:
    for code, (name, unit) in EXPECTED_CODES.items():
        assert LABS[code].name == name
        assert LABS[code].unit == unit
    assert len(LABS) >= 25


def test_every_lab_is_internally_consistent() -> None:
    for code, lab in LABS.items():
        assert lab.units[lab.unit] == 1.0, code
        low, high = lab.possible
        assert low < high, code
        ref_low, ref_high = lab.reference
        assert ref_low is None or low <= ref_low, code
        assert ref_high is None or ref_high <= high, code
        assert len(code) <= 20, code


@pytest.mark.parametrize(
    ("code", "value", "unit", "canonical"),
    [
        ("2160-0", 88.4, "umol/L", 1.0),
        ("2160-0", 88.4, "µmol/L", 1.0),  # micro sign
        ("2160-0", 1.0, "mg/dl", 1.0),  # case-insensitive unit
        ("718-7", 135, "g/L", 13.5),
        ("718-7", 8.0, "mmol/L", 12.888),
        ("1975-2", 17.1, "umol/L", 1.0),
        ("17861-6", 2.5, "mmol/L", 10.02),
        ("2345-7", 5.5, "mmol/L", 99.088),
        ("1751-7", 40, "g/L", 4.0),
        ("1742-6", 1, "ukat/L", 60),
        ("1834-1", 10, "IU/mL", 12.1),
        ("6690-2", 7.2, "10*3/uL", 7.2),
        ("1988-5", 1.2, "mg/dL", 12),
    ],
)
def test_units_convert_to_the_canonical_unit(
    code: str, value: float, unit: str, canonical: float
) -> None:
    assert math.isclose(to_canonical(code, value, unit), canonical, rel_tol=1e-3)


def test_unknown_code_or_unit_cannot_be_converted() -> None:
    with pytest.raises(ValueError, match="unknown LOINC"):
        to_canonical("0000-0", 1, "g/dL")
    with pytest.raises(ValueError, match="not accepted"):
        to_canonical("718-7", 1, "mg/dL")


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected"),
    [
        ("718-7", 9.1, "g/dL", "low"),
        ("718-7", 140, "g/L", "normal"),
        ("718-7", 19, "g/dL", "high"),
        ("751-8", 0.8, "10^9/L", "low"),
        ("2160-0", 150, "umol/L", "high"),
        ("2160-0", 80, "umol/L", "normal"),
        ("2039-6", 12, "ng/mL", "high"),
        ("2039-6", 0.5, "ng/mL", "normal"),  # no lower bound for tumour markers
        ("62238-1", 45, "mL/min/1.73m2", "low"),
        ("62238-1", 130, "mL/min/1.73m2", "normal"),  # no upper bound for eGFR
        ("2823-3", 5.9, "mEq/L", "high"),
    ],
)
def test_flag_against_the_adult_reference_range(
    code: str, value: float, unit: str, expected: str
) -> None:
    assert flag(code, value, unit) == expected


def test_plausible_values_have_no_issue() -> None:
    assert validate_lab("718-7", 13.2, "g/dL") == []
    assert validate_lab("2160-0", 95, "umol/L") == []
    assert validate_lab("777-3", 0, "10^9/L") == []


def test_impossible_value_is_an_error_in_the_entered_unit() -> None:
    assert validate_lab("718-7", 250, "g/dL") == [
        Issue("value", "haemoglobin is outside the possible range 1-25 g/dL")
    ]
    (issue,) = validate_lab("718-7", 2.0, "g/L")
    assert issue.message == "haemoglobin is outside the possible range 10-250 g/L"


def test_range_message_does_not_repeat_the_value() -> None:
    (issue,) = validate_lab("2823-3", 47.3, "mmol/L")
    assert "47.3" not in issue.message


def test_negative_and_non_finite_values_are_errors() -> None:
    assert validate_lab("2039-6", -1, "ng/mL")[0].field == "value"
    assert validate_lab("2039-6", float("nan"), "ng/mL")[0].field == "value"
    assert validate_lab("2039-6", float("inf"), "ng/mL")[0].field == "value"


def test_unknown_code_is_an_error_on_code() -> None:
    assert validate_lab("1234-5", 1, "g/dL") == [Issue("code", "unknown LOINC code '1234-5'")]


def test_wrong_unit_is_an_error_listing_accepted_units() -> None:
    (issue,) = validate_lab("718-7", 13, "mg/dL")
    assert issue.field == "unit"
    assert "g/dL, g/L, mmol/L" in issue.message
    assert accepted_units("718-7") == ("g/dL", "g/L", "mmol/L")


def test_non_numeric_value_is_an_error() -> None:
    (issue,) = validate_lab("718-7", "13", "g/dL")
    assert issue == Issue("value", "haemoglobin must be a number")
    assert validate_lab("718-7", True, "g/dL")[0].field == "value"


def test_missing_values_are_left_to_required_field_checks() -> None:
    assert validate_lab(None, 1, "g/dL") == []
    assert validate_lab("718-7", None, "g/dL") == []
    assert validate_lab("718-7", 13, "") == []
