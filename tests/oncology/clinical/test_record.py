"""The record entry points: validate_section, validate_record_dates, validate_patient_record,
charlson_for_patient. Values are synthetic."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from oncology.clinical.issues import Issue
from oncology.clinical.record import (
    SECTION_DATE_FIELDS,
    age_on,
    charlson_for_patient,
    validate_patient_record,
    validate_record_dates,
    validate_section,
)
from oncology.models import RECORD_SECTIONS, Patient

D = dt.date
TODAY = D(2024, 6, 1)


def fields(issues: list[Issue]) -> list[str]:
    return [i.field for i in issues]


# --- catalogue of sections ------------------------------------------------------------------


def test_every_model_section_has_its_date_fields_named() -> None:
    assert set(SECTION_DATE_FIELDS) == {"patient", *RECORD_SECTIONS}
    for section, names in SECTION_DATE_FIELDS.items():
        model = Patient if section == "patient" else RECORD_SECTIONS[section]
        model_dates = {
            f.name for f in model._meta.concrete_fields if f.get_internal_type() == "DateField"
        }
        assert set(names) == model_dates, section


def test_unknown_section_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown record section"):
        validate_section("scans", {})


@pytest.mark.parametrize("section", sorted(SECTION_DATE_FIELDS))
def test_empty_values_are_never_errors_except_an_empty_measurement(section: str) -> None:
    expected = ["weight_kg"] if section == "measurements" else []
    assert fields(validate_section(section, {})) == expected


@pytest.mark.parametrize(("section", "names"), sorted(SECTION_DATE_FIELDS.items()))
def test_a_date_field_holding_something_else_is_an_error(
    section: str, names: tuple[str, ...]
) -> None:
    values = dict.fromkeys(names, "2020-01-01")
    values |= {"weight_kg": 70}
    issues = validate_section(section, values)
    assert set(names) <= set(fields(issues))
    assert all("must be a date" in i.message for i in issues if i.field in names)


def test_datetimes_are_accepted_as_dates() -> None:
    values = {"start_date": dt.datetime(2020, 1, 5), "end_date": D(2020, 1, 1)}
    assert fields(validate_section("systemic_therapies", values)) == ["end_date"]


# --- patient ---------------------------------------------------------------------------------


def test_a_consistent_patient_has_no_issue() -> None:
    values = {
        "sex": "female",
        "birth_date": D(1950, 3, 1),
        "smoking_status": "former",
        "smoking_pack_years": 30.5,
        "vital_status": "dead",
        "death_date": D(2023, 1, 1),
        "last_contact_date": D(2023, 1, 1),
    }
    assert validate_section("patient", values) == []


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"smoking_pack_years": -1}, "smoking_pack_years"),
        ({"smoking_pack_years": 301}, "smoking_pack_years"),
        ({"smoking_pack_years": "many"}, "smoking_pack_years"),
        ({"smoking_status": "never", "smoking_pack_years": 5}, "smoking_pack_years"),
        ({"vital_status": "alive", "death_date": D(2020, 1, 1)}, "death_date"),
        ({"vital_status": "unknown", "death_date": D(2020, 1, 1)}, "death_date"),
        (
            {"vital_status": "dead", "birth_date": D(1960, 1, 1), "death_date": D(1959, 1, 1)},
            "death_date",
        ),
        ({"birth_date": D(1960, 1, 1), "last_contact_date": D(1950, 1, 1)}, "last_contact_date"),
        (
            {
                "vital_status": "dead",
                "death_date": D(2020, 1, 1),
                "last_contact_date": D(2021, 1, 1),
            },
            "last_contact_date",
        ),
    ],
)
def test_patient_contradictions_name_the_field(values: dict[str, Any], field: str) -> None:
    assert fields(validate_section("patient", values)) == [field]


def test_a_never_smoker_may_record_zero_pack_years() -> None:
    assert validate_section("patient", {"smoking_status": "never", "smoking_pack_years": 0}) == []


def test_a_dead_patient_may_have_an_unknown_date_of_death() -> None:
    assert validate_section("patient", {"vital_status": "dead", "death_date": None}) == []


def test_patient_messages_do_not_repeat_dates() -> None:
    values = {"vital_status": "dead", "birth_date": D(1960, 7, 4), "death_date": D(1959, 2, 3)}
    for issue in validate_section("patient", values):
        assert "1959" not in issue.message
        assert "1960" not in issue.message


# --- diagnoses -------------------------------------------------------------------------------

LUNG_DX = {
    "primary_site": "C34.1",
    "morphology": "8140/3",
    "laterality": "right",
    "diagnosis_date": D(2021, 3, 2),
    "grade": "",
    "clinical_t": "T2a",
    "clinical_n": "N0",
    "clinical_m": "M0",
    "clinical_stage": "IB",
    "pathological_t": "",
    "pathological_n": "",
    "pathological_m": "",
    "pathological_stage": "",
}


def test_a_consistent_diagnosis_has_no_issue() -> None:
    assert validate_section("diagnoses", LUNG_DX) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"primary_site": "C99.9"}, "primary_site"),
        ({"morphology": "8140"}, "morphology"),
        ({"morphology": "8170/3"}, "morphology"),  # HCC in lung
        ({"clinical_t": "T4a"}, "clinical_t"),
        ({"clinical_stage": "IIA"}, "clinical_stage"),
        (
            {"pathological_t": "T2b", "pathological_n": "N0", "pathological_stage": "IB"},
            "pathological_stage",
        ),
    ],
)
def test_diagnosis_problems_name_the_field(change: dict[str, str], field: str) -> None:
    assert fields(validate_section("diagnoses", LUNG_DX | change)) == [field]


def test_tnm_is_checked_against_the_diagnosis_site() -> None:
    breast = LUNG_DX | {"primary_site": "C50.4", "morphology": "8500/3"}
    breast |= {"clinical_t": "T2a", "clinical_m": "M1c", "clinical_stage": ""}
    issues = validate_section("diagnoses", breast)
    # T2a is a lung category only; breast has no M1 subdivisions
    assert fields(issues) == ["clinical_t", "clinical_m"]
    assert "breast" in issues[0].message


def test_pathological_stage_uses_clinical_m_when_no_pm_is_recorded() -> None:
    dx = LUNG_DX | {"clinical_m": "M1c", "clinical_stage": "IVB"}
    dx |= {"pathological_t": "T2a", "pathological_n": "N0", "pathological_stage": "IB"}
    (issue,) = validate_section("diagnoses", dx)
    assert issue.field == "pathological_stage"
    assert "expected IVB" in issue.message


def test_sites_without_a_table_get_generic_tnm_checks() -> None:
    stomach = LUNG_DX | {"primary_site": "C16.9", "clinical_t": "T4a", "clinical_stage": "IIIB"}
    assert validate_section("diagnoses", stomach) == []
    assert fields(validate_section("diagnoses", stomach | {"clinical_t": "T9"})) == ["clinical_t"]


def test_rare_histology_is_a_warning_only_on_request() -> None:
    dx = LUNG_DX | {"primary_site": "C50.4", "morphology": "8041/3", "clinical_stage": ""}
    dx |= {"clinical_t": "T2", "clinical_n": "N0"}
    assert validate_section("diagnoses", dx) == []
    (warning,) = validate_section("diagnoses", dx, include_warnings=True)
    assert warning.severity == "warning"
    assert warning.field == "morphology"


# --- other sections ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "values", "field"),
    [
        ("biomarkers", {"name": "ER", "result": "positive", "value": 120}, "value"),
        ("biomarkers", {"name": "ERX", "result": "positive"}, "name"),
        ("performance_statuses", {"ecog": 6}, "ecog"),
        ("performance_statuses", {"ecog": 1.5}, "ecog"),
        ("comorbidities", {"condition": "copd"}, "condition"),
        ("labs", {"code": "718-7", "value": 250, "unit": "g/dL"}, "value"),
        ("labs", {"code": "718-7", "value": 13, "unit": "mg/dL"}, "unit"),
        ("labs", {"code": "99999-9", "value": 13, "unit": "g/dL"}, "code"),
        ("measurements", {"weight_kg": 0.1}, "weight_kg"),
        ("measurements", {"weight_kg": 401}, "weight_kg"),
        ("measurements", {"height_cm": 251}, "height_cm"),
        ("measurements", {"height_cm": 20, "weight_kg": 70}, "height_cm"),
        (
            "radiotherapies",
            {"total_dose_gy": 100, "fractions": 50, "technique": "IMRT"},
            "total_dose_gy",
        ),
        ("radiotherapies", {"start_date": D(2020, 2, 1), "end_date": D(2020, 1, 1)}, "end_date"),
        (
            "systemic_therapies",
            {
                "drugs": [
                    {"name": "a", "dose": 1, "unit": "mg"},
                    {"name": "b", "dose": 50, "unit": "AUC"},
                ]
            },
            "drugs[1].dose",
        ),
        ("systemic_therapies", {"cycles": 0}, "cycles"),
        (
            "systemic_therapies",
            {"start_date": D(2020, 2, 1), "end_date": D(2020, 1, 1)},
            "end_date",
        ),
        ("follow_ups", {"ecog": -1}, "ecog"),
        ("toxicities", {"term": "alopecia", "grade": 3}, "grade"),
        ("toxicities", {"term": "baldness", "grade": 1}, "term"),
    ],
)
def test_bad_values_name_the_field(section: str, values: dict[str, Any], field: str) -> None:
    assert fields(validate_section(section, values)) == [field]


@pytest.mark.parametrize(
    ("section", "values"),
    [
        (
            "biomarkers",
            {
                "name": "HER2",
                "result": "equivocal",
                "value": 2,
                "test_date": D(2020, 1, 1),
                "diagnosis": "dx-1",
            },
        ),
        ("performance_statuses", {"ecog": 0, "assessed_on": D(2020, 1, 1)}),
        ("comorbidities", {"condition": "chronic_pulmonary_disease", "diagnosed_on": None}),
        ("labs", {"code": "2160-0", "value": 95, "unit": "umol/L", "collected_on": D(2020, 1, 1)}),
        ("measurements", {"weight_kg": 72.5, "height_cm": 168, "measured_on": D(2020, 1, 1)}),
        ("measurements", {"weight_kg": 3.2, "height_cm": None}),
        (
            "surgeries",
            {
                "procedure": "lobectomy",
                "performed_on": D(2020, 1, 1),
                "margin_status": "R0",
                "intent": "curative",
            },
        ),
        (
            "radiotherapies",
            {
                "total_dose_gy": 60,
                "fractions": 30,
                "technique": "VMAT",
                "start_date": D(2020, 1, 1),
                "end_date": D(2020, 2, 11),
            },
        ),
        (
            "systemic_therapies",
            {
                "regimen": "FOLFOX",
                "category": "chemotherapy",
                "cycles": 12,
                "drugs": [{"name": "oxaliplatin", "dose": 85, "unit": "mg/m2"}],
                "start_date": D(2020, 1, 1),
                "end_date": D(2020, 6, 1),
            },
        ),
        ("follow_ups", {"visit_date": D(2020, 1, 1), "disease_status": "ned", "ecog": None}),
        ("disease_events", {"event_type": "progression", "event_date": D(2020, 1, 1)}),
        ("toxicities", {"term": "neutropenia", "grade": 4, "onset_date": D(2020, 1, 1)}),
    ],
)
def test_good_records_have_no_issue(section: str, values: dict[str, Any]) -> None:
    assert validate_section(section, values) == []


# --- across records ----------------------------------------------------------------------------

PATIENT = {"birth_date": D(1950, 1, 1), "vital_status": "alive", "death_date": None}


def test_a_consistent_record_has_no_date_issue() -> None:
    sections = {
        "diagnoses": [{"diagnosis_date": D(2020, 1, 1)}],
        "systemic_therapies": [{"start_date": D(2019, 12, 1), "end_date": D(2020, 5, 1)}],
        "surgeries": [{"performed_on": D(2020, 6, 1)}],
        "disease_events": [{"event_date": D(2021, 1, 1)}],
        "toxicities": [{"onset_date": D(2020, 1, 10), "grade": 3}],
    }
    assert validate_record_dates(PATIENT, sections, TODAY) == []


def test_neoadjuvant_treatment_before_the_diagnosis_date_is_allowed() -> None:
    sections = {
        "diagnoses": [{"diagnosis_date": D(2020, 6, 1)}],
        "systemic_therapies": [{"start_date": D(2019, 9, 1)}],
        "radiotherapies": [{"start_date": D(2019, 10, 1)}],
    }
    assert validate_record_dates(PATIENT, sections, TODAY) == []


def test_events_before_birth_are_errors_with_paths() -> None:
    sections = {
        "surgeries": [{"performed_on": D(2000, 1, 1)}, {"performed_on": D(1949, 1, 1)}],
        "labs": [{"collected_on": D(1940, 1, 1)}],
    }
    assert validate_record_dates(PATIENT, sections, TODAY) == [
        Issue("labs[0].collected_on", "lab collection date is before the date of birth"),
        Issue("surgeries[1].performed_on", "surgery date is before the date of birth"),
    ]


def test_events_after_death_are_errors_but_the_day_of_death_is_allowed() -> None:
    dead = PATIENT | {"vital_status": "dead", "death_date": D(2022, 1, 1)}
    sections = {
        "follow_ups": [{"visit_date": D(2022, 1, 1)}, {"visit_date": D(2022, 1, 2)}],
        "radiotherapies": [{"start_date": D(2021, 12, 1), "end_date": D(2022, 2, 1)}],
    }
    assert fields(validate_record_dates(dead, sections, TODAY)) == [
        "radiotherapies[0].end_date",
        "follow_ups[1].visit_date",
    ]


def test_a_diagnosis_after_death_is_reported_on_the_diagnosis() -> None:
    dead = PATIENT | {"vital_status": "dead", "death_date": D(2022, 1, 1)}
    sections = {"diagnoses": [{"diagnosis_date": D(2022, 3, 1)}]}
    assert validate_record_dates(dead, sections, TODAY) == [
        Issue("diagnoses[0].diagnosis_date", "diagnosis date is after the date of death")
    ]


def test_future_dates_are_errors() -> None:
    patient = PATIENT | {"last_contact_date": D(2024, 6, 2)}
    sections = {"labs": [{"collected_on": D(2024, 6, 1)}, {"collected_on": D(2025, 1, 1)}]}
    assert fields(validate_record_dates(patient, sections, TODAY)) == [
        "last_contact_date",
        "labs[1].collected_on",
    ]
    assert fields(validate_record_dates({"birth_date": D(2030, 1, 1)}, {}, TODAY)) == ["birth_date"]


def test_progression_before_the_first_diagnosis_is_an_error() -> None:
    sections = {
        "diagnoses": [{"diagnosis_date": D(2020, 1, 1)}, {"diagnosis_date": D(2018, 1, 1)}],
        "disease_events": [{"event_date": D(2019, 1, 1)}, {"event_date": D(2017, 6, 1)}],
    }
    assert fields(validate_record_dates(PATIENT, sections, TODAY)) == [
        "disease_events[1].event_date"
    ]


def test_grade_5_toxicity_requires_a_dead_patient() -> None:
    sections = {"toxicities": [{"grade": 3}, {"grade": 5, "onset_date": D(2021, 1, 1)}]}
    assert validate_record_dates(PATIENT, sections, TODAY) == [
        Issue(
            "toxicities[1].grade",
            "a grade 5 (fatal) toxicity requires the patient's vital status to be dead",
        )
    ]
    dead = PATIENT | {"vital_status": "dead", "death_date": D(2021, 1, 5)}
    assert validate_record_dates(dead, sections, TODAY) == []


def test_missing_and_malformed_dates_are_skipped_across_records() -> None:
    sections = {"surgeries": [{"performed_on": None}, {"performed_on": "2020-01-01"}, {}]}
    assert validate_record_dates({}, sections, TODAY) == []


def test_whole_record_validation_prefixes_section_issues() -> None:
    sections = {
        "diagnoses": [LUNG_DX],
        "toxicities": [{"term": "alopecia", "grade": 4, "onset_date": D(2021, 5, 1)}],
        "surgeries": [{"performed_on": D(1940, 1, 1)}],
    }
    assert fields(validate_patient_record(PATIENT, sections, TODAY)) == [
        "toxicities[0].grade",
        "surgeries[0].performed_on",
    ]


# --- Charlson convenience ------------------------------------------------------------------------


def test_age_on_counts_completed_years() -> None:
    assert age_on(D(1950, 6, 15), D(2020, 6, 14)) == 69
    assert age_on(D(1950, 6, 15), D(2020, 6, 15)) == 70


def test_charlson_for_patient_counts_conditions_known_on_the_date() -> None:
    comorbidities = [
        {"condition": "chf", "diagnosed_on": D(2010, 1, 1)},
        {"condition": "diabetes_end_organ", "diagnosed_on": None},
        {"condition": "aids", "diagnosed_on": D(2023, 1, 1)},  # after the date: not counted
    ]
    # 72 years old: CHF 1 + diabetes end-organ 2 + age 3 = 6
    assert charlson_for_patient({"birth_date": D(1948, 1, 1)}, comorbidities, D(2020, 6, 1)) == 6
    assert charlson_for_patient({}, comorbidities, D(2020, 6, 1)) == 3
