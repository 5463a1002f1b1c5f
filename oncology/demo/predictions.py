"""Synthetic past predictions for the demo cohort, so that a model's page shows the closed loop
(calibration of past predictions against what happened, oncology/outcomes/closed_loop.py) with
real numbers.

For each synthetic patient of the demo institution, the given model predicts as of the
patient's primary diagnosis: the features are the record's (``outcome_features_assemble``) with
the performance status taken at diagnosis rather than the latest one (a later ECOG would let
the prediction see the future), and the stored prediction is dated to the diagnosis day. Each
one says what it is: ``output.synthetic`` carries the notice and the as-of date, its first
warning says it was backdated for the demo, and ``created_by`` is the demo's system actor.
Only synthetic patients are touched (``Patient.is_synthetic``); a real patient is refused.

Per-option numbers come from the model's hash-checked artifact exactly as a live prediction's
do (the applicability check, abstention outside the domain, 61-point curves, 1-, 2- and 5-year
survival); the drivers and similar patients of a live prediction are left out. Running it again
adds nothing for patients who already have a demo prediction from the model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record_many
from core.models import AuditAction, User
from oncology.models import Institution, Patient
from oncology.models_outcomes import OutcomeModel, Prediction
from oncology.services.outcome_features import MissingRequiredInputs, outcome_features_assemble
from oncology.services.outcome_models import UNIT_PER_YEAR, outcome_artifact_load
from oncology.services.outcome_predictions import (
    CURVE_STEPS,
    inputs_sha256,
    prediction_frame,
    rounded_list,
)

SYNTHETIC_NOTICE = "SYNTHETIC DEMO DATA - not real patients"
BACKDATED_WARNING = (
    "Synthetic demo prediction, backdated to the patient's diagnosis to show how past "
    "predictions compare with what happened; no clinician made it."
)
ECOG_AT_DIAGNOSIS_DAYS = 30  # a performance status this close after diagnosis is baseline


@dataclass(frozen=True)
class DemoPredictionSummary:
    created: int  # predictions stored
    abstained: int  # of them, outside the model's applicability domain
    refused: int  # patients missing a required input (nothing stored)
    existing: int  # patients that already had one (nothing stored)


def _ecog_at_diagnosis(patient: Patient, diagnosed: dt.date) -> float | None:
    limit = diagnosed + dt.timedelta(days=ECOG_AT_DIAGNOSIS_DAYS)
    first = (
        patient.performance_statuses.filter(assessed_on__lte=limit)
        .order_by("assessed_on", "pk")
        .first()
    )
    return float(first.ecog) if first else None


def demo_past_predictions_create(
    *, model: OutcomeModel, institution: Institution, actor: User | None = None
) -> DemoPredictionSummary:
    """Store one backdated synthetic prediction of ``model`` per synthetic patient of
    ``institution`` that has a primary diagnosis; one CREATE audit event per prediction."""
    artifact = outcome_artifact_load(model)
    per_year = UNIT_PER_YEAR[model.time_unit]
    horizon = 5 * per_year
    at = [per_year * years for years in (1, 2, 5)]
    done = set(
        Prediction.objects.filter(
            model=model, patient__institution=institution, output__has_key="synthetic"
        ).values_list("patient_id", flat=True)
    )
    patients = (
        Patient.objects.filter(institution=institution, is_synthetic=True)
        .prefetch_related("diagnoses", "comorbidities")
        .order_by("pk")
    )
    created = abstained = refused = existing = 0
    events: list[dict[str, Any]] = []
    with transaction.atomic():
        for patient in patients:
            if not patient.is_synthetic:  # never backdate a real patient's prediction
                raise ValueError("demo predictions are for synthetic patients only")
            if patient.pk in done:
                existing += 1
                continue
            diagnoses = sorted(patient.diagnoses.all(), key=lambda d: (d.diagnosis_date, d.pk))
            if not diagnoses:
                refused += 1
                continue
            diagnosed = diagnoses[0].diagnosis_date
            try:
                assembled = outcome_features_assemble(
                    patient=patient, feature_spec=model.feature_spec
                )
            except MissingRequiredInputs:
                refused += 1
                continue
            values = dict(assembled.values)
            if "ecog" in values:
                values["ecog"] = _ecog_at_diagnosis(patient, diagnosed)
                if values["ecog"] is None:
                    refused += 1
                    continue
            frame = prediction_frame(model, values)
            output: dict[str, Any] = {
                "time_unit": model.time_unit,
                "horizon": horizon,
                "target": model.target,
                "abstained": False,
                "abstain_reason": "",
                "domain": None,
                "options": [],
                "similar_patients": [],
                "bands": None,
                "synthetic": {"notice": SYNTHETIC_NOTICE, "as_of": diagnosed.isoformat()},
            }
            warnings = [BACKDATED_WARNING, *assembled.warnings]
            if artifact.domain is not None:
                check = artifact.domain.check(frame)
                output["domain"] = check.as_dict()
                if check.abstain:
                    output["abstained"] = True
                    output["abstain_reason"] = (
                        "No estimate: this patient lies outside the applicability domain of "
                        "the model."
                    )
                    abstained += 1
            if not output["abstained"]:
                estimates = artifact.comparison.compare(frame, horizon, at=at, steps=CURVE_STEPS)
                output["options"] = [
                    {
                        "option": est.option,
                        "training_patients": est.patients,
                        "times": rounded_list(est.times, 3),
                        "survival": rounded_list(est.survival, 5),
                        "rmst": round(est.rmst, 4),
                        "survival_1y": round(est.survival_at[float(at[0])], 5),
                        "survival_2y": round(est.survival_at[float(at[1])], 5),
                        "survival_5y": round(est.survival_at[float(at[2])], 5),
                    }
                    for est in estimates
                ]
            prediction = Prediction.objects.create(
                patient=patient,
                model=model,
                inputs=values,
                inputs_sha256=inputs_sha256(values),
                output=output,
                warnings=warnings,
                label="associational",
                created_by=actor,
            )
            as_of = timezone.make_aware(dt.datetime.combine(diagnosed, dt.time(12)))
            Prediction.objects.filter(pk=prediction.pk).update(created_at=as_of)
            events.append(
                {
                    "action": AuditAction.CREATE,
                    "object_type": "outcome_prediction",
                    "object_id": prediction.public_id,
                    "patient_id": patient.pk,
                    "institution_id": institution.pk,
                }
            )
            created += 1
        if events:
            audit_record_many(actor=actor, events=events)
    return DemoPredictionSummary(created, abstained, refused, existing)
