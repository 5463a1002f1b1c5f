"""Entry points: validate one section of a patient's record, and the dates across a record.

Values are the model's field names mapped to Python values (datetime.date, int/float, str; ""
or None for empty). Missing keys and empty values are never errors here: required fields are
the caller's (form/serializer) business, and so is choice membership. What is checked:
- `validate_section`: codes exist (ICD-O-3, LOINC, CTCAE, Charlson, biomarkers), TNM against the
  diagnosis' site, numeric ranges, and dates within one record (end after start, death after
  birth).
- `validate_record_dates`: dates across records: nothing before birth, after death or in the
  future; no progression before the first diagnosis; a fatal toxicity only for a dead patient.
  Treatment before diagnosis is allowed (neoadjuvant therapy, diagnosis dated by pathology).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from oncology.clinical import biomarkers, charlson, icdo3, labs, tnm, toxicity, treatments
from oncology.clinical.issues import Issue

SECTION_DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "patient": ("birth_date", "death_date", "last_contact_date"),
    "diagnoses": ("diagnosis_date",),
    "biomarkers": ("test_date",),
    "performance_statuses": ("assessed_on",),
    "comorbidities": ("diagnosed_on",),
    "labs": ("collected_on",),
    "measurements": ("measured_on",),
    "surgeries": ("performed_on",),
    "radiotherapies": ("start_date", "end_date"),
    "systemic_therapies": ("start_date", "end_date"),
    "follow_ups": ("visit_date",),
    "disease_events": ("event_date",),
    "toxicities": ("onset_date",),
}
RECORD_SECTION_NAMES: tuple[str, ...] = tuple(s for s in SECTION_DATE_FIELDS if s != "patient")

# How a date is named in a message ("the surgery date is after the date of death").
_DATE_LABELS: dict[tuple[str, str], str] = {
    ("patient", "birth_date"): "date of birth",
    ("patient", "death_date"): "date of death",
    ("patient", "last_contact_date"): "last contact date",
    ("diagnoses", "diagnosis_date"): "diagnosis date",
    ("biomarkers", "test_date"): "biomarker test date",
    ("performance_statuses", "assessed_on"): "performance status date",
    ("comorbidities", "diagnosed_on"): "comorbidity diagnosis date",
    ("labs", "collected_on"): "lab collection date",
    ("measurements", "measured_on"): "measurement date",
    ("surgeries", "performed_on"): "surgery date",
    ("radiotherapies", "start_date"): "radiotherapy start date",
    ("radiotherapies", "end_date"): "radiotherapy end date",
    ("systemic_therapies", "start_date"): "systemic therapy start date",
    ("systemic_therapies", "end_date"): "systemic therapy end date",
    ("follow_ups", "visit_date"): "follow-up visit date",
    ("disease_events", "event_date"): "progression/recurrence date",
    ("toxicities", "onset_date"): "toxicity onset date",
}

MAX_PACK_YEARS = 300
WEIGHT_KG = (0.3, 400.0)  # extremely preterm newborn to the heaviest recorded adults
HEIGHT_CM = (30.0, 250.0)
ECOG = (0, 5)


def _empty(value: object) -> bool:
    return value is None or value == ""


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def _number(
    values: Mapping[str, Any],
    field: str,
    label: str,
    bounds: tuple[float, float],
    unit: str = "",
    integer: bool = False,
) -> list[Issue]:
    raw = values.get(field)
    if _empty(raw):
        return []
    low, high = bounds
    suffix = f" {unit}" if unit else ""
    if (
        not isinstance(raw, int | float)
        or isinstance(raw, bool)
        or not math.isfinite(raw)
        or (integer and not isinstance(raw, int))
    ):
        kind = "a whole number" if integer else "a number"
        return [Issue(field, f"{label} must be {kind}")]
    value: float = raw
    if not low <= value <= high:
        return [Issue(field, f"{label} must be between {low:g} and {high:g}{suffix}")]
    return []


def _date_types(section: str, values: Mapping[str, Any]) -> list[Issue]:
    return [
        Issue(field, f"{_DATE_LABELS[(section, field)]} must be a date")
        for field in SECTION_DATE_FIELDS[section]
        if not _empty(values.get(field)) and _date(values.get(field)) is None
    ]


def _end_after_start(values: Mapping[str, Any]) -> list[Issue]:
    start, end = _date(values.get("start_date")), _date(values.get("end_date"))
    if start and end and end < start:
        return [Issue("end_date", "end date is before the start date")]
    return []


# --- sections ---------------------------------------------------------------------------------


def _patient(values: Mapping[str, Any]) -> list[Issue]:
    issues = _number(values, "smoking_pack_years", "pack-years", (0, MAX_PACK_YEARS))
    pack_years = values.get("smoking_pack_years")
    if values.get("smoking_status") == "never" and not issues and pack_years:
        issues.append(Issue("smoking_pack_years", "a never-smoker cannot have pack-years"))
    birth, death = _date(values.get("birth_date")), _date(values.get("death_date"))
    last_contact = _date(values.get("last_contact_date"))
    vital = values.get("vital_status")
    # A dead patient's date of death may be unknown; a date of death on a living patient is not.
    if death and vital and vital != "dead":
        issues.append(Issue("death_date", "a date of death requires vital status 'dead'"))
    if birth and death and death < birth:
        issues.append(Issue("death_date", "date of death is before the date of birth"))
    if birth and last_contact and last_contact < birth:
        issues.append(Issue("last_contact_date", "last contact date is before the date of birth"))
    if death and last_contact and last_contact > death:
        issues.append(Issue("last_contact_date", "last contact date is after the date of death"))
    return issues


def _diagnosis(values: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    site = values.get("primary_site") or ""
    morphology = values.get("morphology") or ""
    if site:
        issues += icdo3.validate_topography(site)
    if morphology:
        issues += icdo3.validate_morphology(morphology)
    if site and morphology:
        issues += icdo3.validate_morphology_for_site(site, morphology)
    group = tnm.staging_group(site, morphology) if icdo3.is_valid_topography(site) else None
    clinical = tnm.validate_tnm(
        group,
        values.get("clinical_t"),
        values.get("clinical_n"),
        values.get("clinical_m"),
        values.get("clinical_stage"),
        "clinical",
    )
    issues += clinical
    # Pathological stage groups use cM when no pM is recorded (UICC: pM0 does not exist).
    path_m = values.get("pathological_m") or ""
    if not path_m and not any(i.field == "clinical_m" for i in clinical):
        path_m = values.get("clinical_m") or ""
    issues += tnm.validate_tnm(
        group,
        values.get("pathological_t"),
        values.get("pathological_n"),
        path_m,
        values.get("pathological_stage"),
        "pathological",
    )
    return issues


def _biomarker(values: Mapping[str, Any]) -> list[Issue]:
    return biomarkers.validate_biomarker(
        values.get("name"), values.get("result"), values.get("value")
    )


def _performance(values: Mapping[str, Any]) -> list[Issue]:
    return _number(values, "ecog", "ECOG performance status", ECOG, integer=True)


def _comorbidity(values: Mapping[str, Any]) -> list[Issue]:
    condition = values.get("condition")
    if condition and condition not in charlson.CONDITIONS:
        return [Issue("condition", f"unknown Charlson condition '{condition}'")]
    return []


def _lab(values: Mapping[str, Any]) -> list[Issue]:
    return labs.validate_lab(values.get("code"), values.get("value"), values.get("unit"))


def _measurement(values: Mapping[str, Any]) -> list[Issue]:
    issues = _number(values, "weight_kg", "weight", WEIGHT_KG, "kg")
    issues += _number(values, "height_cm", "height", HEIGHT_CM, "cm")
    if _empty(values.get("weight_kg")) and _empty(values.get("height_cm")):
        issues.append(Issue("weight_kg", "record a weight, a height or both"))
    return issues


def _surgery(values: Mapping[str, Any]) -> list[Issue]:
    return []


def _radiotherapy(values: Mapping[str, Any]) -> list[Issue]:
    issues = treatments.validate_radiotherapy(
        values.get("total_dose_gy"), values.get("fractions"), values.get("technique")
    )
    return issues + _end_after_start(values)


def _systemic(values: Mapping[str, Any]) -> list[Issue]:
    issues = treatments.validate_drugs(values.get("drugs"))
    issues += treatments.validate_cycles(values.get("cycles"))
    return issues + _end_after_start(values)


def _follow_up(values: Mapping[str, Any]) -> list[Issue]:
    return _number(values, "ecog", "ECOG performance status", ECOG, integer=True)


def _disease_event(values: Mapping[str, Any]) -> list[Issue]:
    return []


def _toxicity(values: Mapping[str, Any]) -> list[Issue]:
    return toxicity.validate_toxicity(values.get("term"), values.get("grade"))


_SECTION_CHECKS: dict[str, Callable[[Mapping[str, Any]], list[Issue]]] = {
    "patient": _patient,
    "diagnoses": _diagnosis,
    "biomarkers": _biomarker,
    "performance_statuses": _performance,
    "comorbidities": _comorbidity,
    "labs": _lab,
    "measurements": _measurement,
    "surgeries": _surgery,
    "radiotherapies": _radiotherapy,
    "systemic_therapies": _systemic,
    "follow_ups": _follow_up,
    "disease_events": _disease_event,
    "toxicities": _toxicity,
}


def validate_section(
    section: str, values: Mapping[str, Any], *, include_warnings: bool = False
) -> list[Issue]:
    """Field-level and within-record issues of one record of `section` ("patient" or a key of
    RECORD_SECTIONS). Issue fields are the model's field names (or "drugs[1].dose").

    Only errors by default, so that a caller may block on any issue; with
    `include_warnings=True` unusual-but-possible values (rare histology for the site) come too.
    Raises ValueError for an unknown section.
    """
    check = _SECTION_CHECKS.get(section)
    if check is None:
        raise ValueError(f"unknown record section '{section}'")
    issues = _date_types(section, values) + check(values)
    if not include_warnings:
        issues = [i for i in issues if i.severity == "error"]
    return issues


# --- across records ---------------------------------------------------------------------------


def validate_record_dates(
    patient: Mapping[str, Any],
    sections: Mapping[str, Sequence[Mapping[str, Any]]],
    today: dt.date,
) -> list[Issue]:
    """Date consistency across a patient's whole record.

    Issue fields are "birth_date", "death_date", "last_contact_date" or paths such as
    "surgeries[2].performed_on" (the index into the sequence given). An event on the day of death
    is allowed. A date of death before a diagnosis is reported on that diagnosis ("diagnosis
    date is after the date of death"). Dates inside the patient record alone (death before
    birth) are validate_section("patient")'s, not repeated here.
    """
    issues: list[Issue] = []
    birth = _date(patient.get("birth_date"))
    death = _date(patient.get("death_date"))
    for field in SECTION_DATE_FIELDS["patient"]:
        value = _date(patient.get(field))
        if value and value > today:
            issues.append(Issue(field, f"{_DATE_LABELS[('patient', field)]} is in the future"))

    for section in RECORD_SECTION_NAMES:
        for i, record in enumerate(sections.get(section, ())):
            for field in SECTION_DATE_FIELDS[section]:
                value = _date(record.get(field))
                if value is None:
                    continue
                label = _DATE_LABELS[(section, field)]
                path = f"{section}[{i}].{field}"
                if birth and value < birth:
                    issues.append(Issue(path, f"{label} is before the date of birth"))
                elif value > today:
                    issues.append(Issue(path, f"{label} is in the future"))
                elif death and value > death:
                    issues.append(Issue(path, f"{label} is after the date of death"))

    diagnosis_dates = [
        d
        for d in (_date(r.get("diagnosis_date")) for r in sections.get("diagnoses", ()))
        if d is not None
    ]
    if diagnosis_dates:
        first = min(diagnosis_dates)
        for i, event in enumerate(sections.get("disease_events", ())):
            value = _date(event.get("event_date"))
            if value and value < first:
                issues.append(
                    Issue(
                        f"disease_events[{i}].event_date",
                        "progression/recurrence is dated before the first diagnosis",
                    )
                )

    for i, tox in enumerate(sections.get("toxicities", ())):
        if tox.get("grade") == 5 and patient.get("vital_status") != "dead":
            issues.append(
                Issue(
                    f"toxicities[{i}].grade",
                    "a grade 5 (fatal) toxicity requires the patient's vital status to be dead",
                )
            )
    return issues


def validate_patient_record(
    patient: Mapping[str, Any],
    sections: Mapping[str, Sequence[Mapping[str, Any]]],
    today: dt.date,
    *,
    include_warnings: bool = False,
) -> list[Issue]:
    """Everything at once (for importers and generated data): the patient section, every record
    of every section (fields prefixed "section[i].") and the cross-record dates."""
    issues = validate_section("patient", patient, include_warnings=include_warnings)
    for section in RECORD_SECTION_NAMES:
        for i, record in enumerate(sections.get(section, ())):
            for issue in validate_section(section, record, include_warnings=include_warnings):
                issues.append(Issue(f"{section}[{i}].{issue.field}", issue.message, issue.severity))
    return issues + validate_record_dates(patient, sections, today)


def age_on(birth_date: dt.date, on: dt.date) -> int:
    """Completed years of age on a date."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def charlson_for_patient(
    patient: Mapping[str, Any], comorbidities: Iterable[Mapping[str, Any]], on: dt.date
) -> int:
    """Age-adjusted Charlson index on a date, from the patient's comorbidity records (those
    diagnosed after `on` are not counted). Without a birth date the index is not age-adjusted."""
    birth = _date(patient.get("birth_date"))
    conditions = []
    for record in comorbidities:
        diagnosed = _date(record.get("diagnosed_on"))
        if diagnosed is None or diagnosed <= on:
            conditions.append(str(record.get("condition")))
    age = age_on(birth, on) if birth else None
    return charlson.charlson_index(conditions, age_years=age)
