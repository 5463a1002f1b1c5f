"""Predictions: one patient, one registered model, every treatment option (associational).

``prediction_create`` assembles the patient's features from the record
(``outcome_features``), loads the model's hash-checked artifact and runs the per-option
comparison WITHOUT bootstrap bands (interactive speed), then stores the inputs, their hash,
the output and the warnings, with one audit event. Reads go through
``oncology.selectors_outcomes``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import numpy as np
import pandas as pd

from core.audit import audit_record
from core.jobs import job_enqueue
from core.models import AuditAction, User
from oncology.models_outcomes import OutcomeModel, OutcomeModelStatus, Prediction
from oncology.outcomes.compare import bootstrap_bands
from oncology.selectors import patient_get
from oncology.services.outcome_features import MissingRequiredInputs, outcome_features_assemble
from oncology.services.outcome_models import (
    UNIT_PER_YEAR,
    ArtifactIntegrityError,
    outcome_model_load,
)

LABEL = "associational"
LABEL_TEXT = (
    "Associational evidence, not an instruction: estimates from a model of past patients, "
    "assuming no unmeasured confounding. A decision rests with the tumour board."
)
CURVE_STEPS = 60  # points of each survival curve in the stored output
AUDIT_OBJECT = "outcome_prediction"
BAND_REPLICATES = 100  # bootstrap refits per band job (0.3-1.5 s each on this machine)
BAND_LEVEL = 0.95


class PredictionRefused(ValueError):
    """No prediction can be made; ``field`` says which input is at fault."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class ModelUnusable(PredictionRefused):
    """The model's artifact failed its integrity check."""


def _active_model(name: str | None) -> OutcomeModel:
    active = OutcomeModel.objects.filter(status=OutcomeModelStatus.ACTIVE)
    if name:
        model = active.filter(name=name).first()
        if model is None:
            raise PredictionRefused("model", f"No active outcome model is named {name!r}.")
        return model
    models = list(active[:2])
    if not models:
        raise PredictionRefused("model", "No outcome model is active.")
    if len(models) > 1:
        raise PredictionRefused("model", "Several outcome models are active: name one.")
    return models[0]


def _frame(model: OutcomeModel, values: dict[str, Any]) -> pd.DataFrame:
    row = {}
    for spec in model.feature_spec:
        value = values.get(spec["name"])
        if spec["kind"] == "categorical":
            row[spec["name"]] = value
        else:
            row[spec["name"]] = np.nan if value is None else float(value)
    return pd.DataFrame([row])


def _domain_warnings(model: OutcomeModel, values: dict[str, Any], unseen: dict[str, list[str]]):
    warnings = []
    for name, (low, high) in model.training_params.get("ranges", {}).items():
        value = values.get(name)
        if value is not None and not low <= float(value) <= high:
            warnings.append(
                f"{name} lies outside the training cohort's range ({low:g} to {high:g}); the "
                "estimate is an extrapolation."
            )
    for name, levels in unseen.items():
        warnings.append(
            f"{name}: the value was never seen in training ({len(levels)} unseen level); "
            "encoded as the reference level."
        )
    return warnings


def _rounded(values: np.ndarray, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in values]


def inputs_sha256(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def prediction_create(
    *,
    user: User,
    patient_public_id: uuid.UUID | str,
    model_name: str | None = None,
    bands: bool = False,
) -> Prediction:
    """Compare every option of the active model (or the active version of ``model_name``) for
    one visible patient; one CREATE audit event. Http404 when the patient is not visible;
    PredictionRefused when no prediction can be made (nothing is stored then). ``bands``
    enqueues an ``outcome_prediction_bands`` job that adds bootstrap bands later."""
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    model = _active_model(model_name)
    try:
        assembled = outcome_features_assemble(patient=patient, feature_spec=model.feature_spec)
    except MissingRequiredInputs as exc:
        raise PredictionRefused("inputs", str(exc)) from exc
    try:
        comparison = outcome_model_load(model)
    except ArtifactIntegrityError as exc:
        raise ModelUnusable("model", str(exc)) from exc
    frame = _frame(model, assembled.values)
    per_year = UNIT_PER_YEAR[model.time_unit]
    at = [per_year * years for years in (1, 2, 5)]
    horizon = 5 * per_year
    estimates = comparison.compare(frame, horizon, at=at, steps=CURVE_STEPS)
    unseen = comparison.encoder_.unseen_levels(frame)
    warnings = assembled.warnings + _domain_warnings(model, assembled.values, unseen)
    options = []
    for est in estimates:
        options.append(
            {
                "option": est.option,
                "training_patients": est.patients,
                "times": _rounded(est.times, 3),
                "survival": _rounded(est.survival),
                "rmst": round(est.rmst, 4),
                "survival_1y": round(est.survival_at[float(at[0])], 5),
                "survival_2y": round(est.survival_at[float(at[1])], 5),
                "survival_5y": round(est.survival_at[float(at[2])], 5),
            }
        )
    output = {
        "time_unit": model.time_unit,
        "horizon": horizon,
        "target": model.target,
        "options": options,
        "bands": None,  # bootstrap bands are a background-job operation, not computed here
    }
    prediction = Prediction.objects.create(
        patient=patient,
        model=model,
        inputs=assembled.values,
        inputs_sha256=inputs_sha256(assembled.values),
        output=output,
        warnings=warnings,
        label=LABEL,
        created_by=user,
    )
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        object_type=AUDIT_OBJECT,
        object_id=prediction.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )
    if bands:
        job = job_enqueue(
            kind="outcome_prediction_bands",
            payload={"prediction_id": prediction.pk, "replicates": BAND_REPLICATES},
            idempotency_key=f"outcome_prediction_bands:{prediction.public_id}",
            created_by=user,
            max_attempts=2,
        )
        prediction.output["bands"] = {"status": "queued", "job": str(job.public_id)}
        prediction.save(update_fields=["output"])
    return prediction


def prediction_bands_compute(
    *, prediction: Prediction, replicates: int, actor: User | None = None
) -> dict[str, Any]:
    """Percentile bootstrap bands (``compare.bootstrap_bands``: the comparison refitted on
    ``replicates`` resamples of its training cohort) for the stored inputs, on the same time
    grid as the stored curves; stored in ``output["bands"]`` with one UPDATE audit event."""
    model = prediction.model
    comparison = outcome_model_load(model)
    frame = _frame(model, prediction.inputs)
    horizon = float(prediction.output["horizon"])
    result = bootstrap_bands(
        comparison, frame, horizon, replicates=replicates, level=BAND_LEVEL, steps=CURVE_STEPS
    )
    bands = {
        "status": "done",
        "level": result.level,
        "replicates": result.replicates,
        "method": "percentile bootstrap, resampled within each option",
        "lower": {o: _rounded(v) for o, v in result.lower.items()},
        "upper": {o: _rounded(v) for o, v in result.upper.items()},
        "rmst": {o: [round(lo, 4), round(hi, 4)] for o, (lo, hi) in result.rmst.items()},
        "rmst_difference": [
            {"option": a, "versus": b, "lower": round(lo, 4), "upper": round(hi, 4)}
            for (a, b), (lo, hi) in result.rmst_difference.items()
        ],
    }
    prediction.output["bands"] = bands
    prediction.save(update_fields=["output"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type=AUDIT_OBJECT,
        object_id=prediction.public_id,
        patient_id=prediction.patient_id,
        institution_id=prediction.patient.institution_id,
        detail={"fields": ["bands"]},
    )
    return {"prediction": str(prediction.public_id), "replicates": replicates}
