"""Training on the site's own records (``--source site``; docs/outcomes-registry.md).

One row per patient of the database with a primary diagnosis, a first-line treatment and
follow-up:

- time origin: the primary (earliest) diagnosis date; end: the death date for a patient
  recorded dead (event = death), otherwise the later of the last-contact date and the latest
  follow-up visit (censored); in days;
- option: the treatments STARTED within ``FIRST_LINE_DAYS`` (180) days of the diagnosis,
  named with the simulated cohort's keys joined by "+" in this order: ``surgery`` (a recorded
  surgery), ``radiotherapy`` (a radiotherapy course), ``chemotherapy`` (systemic therapy of
  category chemotherapy or chemo-immunotherapy) and ``systemic`` (targeted, immune or endocrine
  therapy, which the simulated cohort does not have);
- response: 1 when a radiotherapy course or systemic therapy of that window has RECIST best
  response CR or PR, 0 when the best responses recorded are SD or PD only, unknown otherwise;
- features: ``SITE_FEATURES``, each filled by the same extractor a prediction uses
  (``outcome_features.EXTRACTORS``), so training and prediction read the record the same way.

Excluded, and counted in the model card: no diagnosis, no treatment in the window, no end of
follow-up (or not after the diagnosis), a ``reject`` feature missing. Options with fewer than
``MIN_OPTION_PATIENTS`` patients are dropped (named and counted), and so is a feature that has
the same value for every eligible patient (it cannot be learned). The training snapshot holds
research ids, never MRNs or names.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pandas as pd

from oncology.models import Patient, SystemicCategory, VitalStatus
from oncology.outcomes.features import FeatureSpec
from oncology.services.outcome_features import EXTRACTORS
from oncology.services.outcome_models import OutcomeModelError, TrainingCohort

FIRST_LINE_DAYS = 180
MIN_OPTION_PATIENTS = 30  # the comparison's own minimum per option
MIN_PATIENTS = 60
MIN_EVENTS = 20
CHEMOTHERAPY = {SystemicCategory.CHEMOTHERAPY, SystemicCategory.CHEMOIMMUNOTHERAPY}
PARTS = ("surgery", "radiotherapy", "chemotherapy", "systemic")
RESPONSE_DEFINITION = (
    "objective response: RECIST best response CR or PR recorded for a radiotherapy course or "
    "systemic therapy started within 180 days of the diagnosis (SD or PD only: no response)"
)
SITE_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("age", "clinical", "numeric", "reject", "years at the primary diagnosis"),
    FeatureSpec("sex", "clinical", "categorical", "reject"),
    FeatureSpec("ecog", "clinical", "numeric", "median", "latest ECOG performance status"),
    FeatureSpec("stage", "clinical", "categorical", "category", "stage group I-IV"),
    FeatureSpec("comorbidity_index", "clinical", "numeric", "median", "Charlson index"),
)


def _row(patient: Patient) -> tuple[dict[str, Any] | None, str]:
    """The patient's training row, or None and why it is excluded."""
    diagnoses = sorted(patient.diagnoses.all(), key=lambda d: (d.diagnosis_date, d.pk))
    if not diagnoses:
        return None, "no diagnosis"
    start = diagnoses[0].diagnosis_date
    until = start + dt.timedelta(days=FIRST_LINE_DAYS)

    def window(day: dt.date) -> bool:
        return start <= day <= until

    parts = set()
    responses = []
    if any(window(s.performed_on) for s in patient.surgeries.all()):
        parts.add("surgery")
    for course in patient.radiotherapies.all():
        if window(course.start_date):
            parts.add("radiotherapy")
            responses.append(course.best_response)
    for therapy in patient.systemic_therapies.all():
        if window(therapy.start_date):
            parts.add("chemotherapy" if therapy.category in CHEMOTHERAPY else "systemic")
            responses.append(therapy.best_response)
    if not parts:
        return None, f"no treatment within {FIRST_LINE_DAYS} days of the diagnosis"
    if patient.vital_status == VitalStatus.DEAD and patient.death_date:
        end, event = patient.death_date, 1
    else:
        visits = [f.visit_date for f in patient.follow_ups.all()]
        dates = [d for d in [patient.last_contact_date, *visits] if d]
        if not dates:
            return None, "no follow-up"
        end, event = max(dates), 0
    days = (end - start).days
    if days <= 0:
        return None, "no follow-up after the diagnosis"
    if any(r in ("CR", "PR") for r in responses):
        response: int | None = 1
    elif any(r in ("SD", "PD") for r in responses):
        response = 0
    else:
        response = None
    row: dict[str, Any] = {
        "research_id": patient.research_id,
        "time": float(days),
        "event": event,
        "treatment": "+".join(p for p in PARTS if p in parts),
        "response": response,
    }
    for spec in SITE_FEATURES:
        value = EXTRACTORS[spec.name](patient)
        if value is None and spec.missing == "reject":
            return None, f"{spec.name} missing"
        row[spec.name] = value
    return row, ""


def site_training_cohort() -> TrainingCohort:
    """The site's training frame (see the module docstring); OutcomeModelError when the
    records hold too few patients or events to train on."""
    patients = Patient.objects.prefetch_related(
        "diagnoses",
        "surgeries",
        "radiotherapies",
        "systemic_therapies",
        "follow_ups",
        "performance_statuses",
        "comorbidities",
    ).order_by("pk")
    rows, excluded = [], Counter[str]()
    for patient in patients.iterator(chunk_size=500):
        row, why = _row(patient)
        if row is None:
            excluded[why] += 1
        else:
            rows.append(row)
    columns = ["research_id", "time", "event", "treatment", "response"]
    frame = pd.DataFrame(rows, columns=columns + [s.name for s in SITE_FEATURES])
    counts = frame["treatment"].value_counts()
    small = {str(o): int(n) for o, n in counts.items() if n < MIN_OPTION_PATIENTS}
    frame = frame[~frame["treatment"].isin(small)].reset_index(drop=True)
    events = int(frame["event"].sum())
    options = frame["treatment"].nunique()
    if len(frame) < MIN_PATIENTS or events < MIN_EVENTS or options < 2:
        raise OutcomeModelError(
            f"The site's records hold too few patients to train on: {len(frame)} eligible "
            f"patients with {events} deaths in {options} treatment options of at least "
            f"{MIN_OPTION_PATIENTS} patients; at least {MIN_PATIENTS} patients, {MIN_EVENTS} "
            "deaths and 2 options are needed (a patient needs a diagnosis, a treatment started "
            f"within {FIRST_LINE_DAYS} days of it and follow-up; docs/outcomes-registry.md)."
        )
    frame["event"] = frame["event"].astype(int)
    frame["response"] = pd.to_numeric(frame["response"], errors="coerce")
    notes = []
    if excluded:
        notes.append(
            "Excluded from the site's records: "
            + "; ".join(f"{n} patients ({why})" for why, n in sorted(excluded.items()))
            + "."
        )
    if small:
        notes.append(
            f"Options with fewer than {MIN_OPTION_PATIENTS} patients left out: "
            + ", ".join(f"{o} ({n})" for o, n in sorted(small.items()))
            + "."
        )
    specs = []
    for spec in SITE_FEATURES:  # a feature without variation here cannot be learned
        if frame[spec.name].dropna().astype(str).drop_duplicates().size > 1:
            specs.append(spec)
        else:
            frame = frame.drop(columns=[spec.name])
            notes.append(f"{spec.name} left out: the same value for every eligible patient.")
    has_response = frame["response"].notna().any()
    return TrainingCohort(
        frame=frame if has_response else frame.drop(columns=["response"]),
        specs=specs,
        treatment="treatment",
        time_unit="days",
        endpoint="overall survival",
        description=(
            f"the site's own records ({len(frame)} patients, overall survival from the primary "
            "diagnosis; first-line options within 180 days)"
        ),
        citation="",
        response="response" if has_response else None,
        response_definition=RESPONSE_DEFINITION if has_response else "",
        notes=tuple(notes),
    )
