"""Predictions: one patient, one registered model, every treatment option (associational).

``prediction_create`` assembles the patient's features from the record
(``outcome_features``), loads the model's hash-checked artifact, checks the patient against
the model's applicability domain (``outcomes.domain``: outside it, the prediction ABSTAINS and
stores no per-option numbers), runs the per-option comparison with each option's top drivers
(``outcomes.explain``) and the five most similar training patients, adds bootstrap bands from
the stored ensemble when asked (or queues a band job for a model without one), then stores the
inputs, their hash, the output and the warnings, with one audit event. Reads go through
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
from core.models import AuditAction, Job, JobStatus, User
from oncology.models import Patient
from oncology.models_outcomes import OutcomeModel, OutcomeModelStatus, Prediction
from oncology.outcomes.compare import Bands, bootstrap_survival
from oncology.outcomes.domain import MIN_OPTION_PATIENTS, DomainCheck
from oncology.outcomes.ensemble import ResponseEnsemble, summarise_draws
from oncology.selectors import patient_get
from oncology.services.outcome_features import (
    AssembledFeatures,
    MissingRequiredInputs,
    outcome_features_assemble,
)
from oncology.services.outcome_models import (
    UNIT_PER_YEAR,
    ArtifactIntegrityError,
    ModelArtifact,
    outcome_artifact_load,
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
SIMILAR_PATIENTS = 5
TOP_DRIVERS = 3
HORIZONS = {"1y": 1, "2y": 2, "5y": 5}  # label -> years: survival_at / survival_difference
NOTE_CODES = ("imputed",)  # already reported by the feature assembly


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


def prediction_frame(model: OutcomeModel, values: dict[str, Any]) -> pd.DataFrame:
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


def rounded_list(values: np.ndarray, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in values]


def _abstain_reason(check: DomainCheck, policy: set[str]) -> str:
    abstaining = [w.message for w in check.warnings if w.code in policy]
    return (
        "No estimate: this patient lies outside the applicability domain of the model (the "
        "patients it was trained on), so its numbers would be an extrapolation. "
        + " ".join(abstaining)
    )


def _response(artifact: ModelArtifact, frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per option: P(response) and, from the response refits when stored, its interval."""
    if artifact.response is None:
        return {}
    points = artifact.response.predict(frame)
    intervals = (
        artifact.response_ensemble.interval(frame, level=BAND_LEVEL)
        if artifact.response_ensemble is not None
        else {}
    )
    out = {}
    for option, p in points.items():
        lo, hi = intervals.get(option, (None, None))
        out[option] = {
            "probability": round(p, 4),
            "lower": None if lo is None else round(lo, 4),
            "upper": None if hi is None else round(hi, 4),
            "definition": artifact.response_definition,
        }
    return out


def _applicability(artifact: ModelArtifact, frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per option: can the model judge it for this patient (``domain.OptionSupport``)?"""
    if artifact.support is not None:
        return {
            a.option: {
                "applicable": a.applicable,
                "not_applicable_reason": a.reason,
                "propensity": None if a.propensity is None else round(a.propensity, 4),
            }
            for a in artifact.support.check(frame)
        }
    out = {}
    for option, count in artifact.comparison.counts_.items():  # older artifacts: counts only
        few = count < MIN_OPTION_PATIENTS
        out[option] = {
            "applicable": not few,
            "not_applicable_reason": (
                f"Only {count} training patients received this option (fewer than "
                f"{MIN_OPTION_PATIENTS}): too few to judge it."
                if few
                else ""
            ),
            "propensity": None,
        }
    return out


def _options(artifact: ModelArtifact, frame: pd.DataFrame, per_year: float) -> list[dict]:
    at = [per_year * years for years in HORIZONS.values()]
    estimates = artifact.comparison.compare(frame, 5 * per_year, at=at, steps=CURVE_STEPS)
    explainer = artifact.explainer()
    response = _response(artifact, frame)
    applicability = _applicability(artifact, frame)
    options = []
    for est in estimates:
        why = explainer.explain(frame, est.option, top=TOP_DRIVERS)
        options.append(
            {
                "option": est.option,
                "training_patients": est.patients,
                **applicability[est.option],
                "times": rounded_list(est.times, 3),
                "survival": rounded_list(est.survival),
                "rmst": round(est.rmst, 4),
                "survival_1y": round(est.survival_at[float(at[0])], 5),
                "survival_2y": round(est.survival_at[float(at[1])], 5),
                "survival_5y": round(est.survival_at[float(at[2])], 5),
                "response": response.get(est.option),
                "explanation": {
                    "drivers": why.drivers,
                    "method": why.method,
                    "base": why.base,
                    "risk": why.risk,
                    "residual": why.residual,
                    "contributions": why.contributions,
                },
            }
        )
    return options


def _bands_dict(result: Bands, *, source: str) -> dict[str, Any]:
    return {
        "status": "done",
        "source": source,
        "level": result.level,
        "replicates": result.replicates,
        "method": "percentile bootstrap, resampled within each option",
        "lower": {o: rounded_list(v) for o, v in result.lower.items()},
        "upper": {o: rounded_list(v) for o, v in result.upper.items()},
        "rmst": {o: [round(lo, 4), round(hi, 4)] for o, (lo, hi) in result.rmst.items()},
        "rmst_difference": [
            {"option": a, "versus": b, "lower": round(lo, 4), "upper": round(hi, 4)}
            for (a, b), (lo, hi) in result.rmst_difference.items()
        ],
    }


def _bands_times(horizon: float, per_year: float) -> tuple[np.ndarray, dict[str, float]]:
    grid = np.linspace(0.0, float(horizon), CURVE_STEPS + 1)
    return grid, {label: per_year * years for label, years in HORIZONS.items()}


def _bands_from_draws(
    draws: np.ndarray,
    grid: np.ndarray,
    at: dict[str, float],
    options: list[dict[str, Any]],
    option_names: list[str],
    *,
    source: str,
) -> dict[str, Any]:
    """``draws``: (replicates, options, grid + at) survival from the bootstrap refits."""
    point_at = {o["option"]: {label: o[f"survival_{label}"] for label in at} for o in options}
    summary = summarise_draws(draws, grid, option_names, at, point_at, level=BAND_LEVEL)
    bands = _bands_dict(summary["bands"], source=source)  # type: ignore[arg-type]
    bands["survival_at"] = {
        option: {label: [round(lo, 5), round(hi, 5)] for label, (lo, hi) in per.items()}
        for option, per in summary["survival_at"].items()  # type: ignore[attr-defined]
    }
    bands["survival_difference"] = [
        {
            "option": row["option"],
            "versus": row["versus"],
            **{label: [round(row[label][0], 5), round(row[label][1], 5)] for label in at},
            "estimate": {label: round(v, 5) for label, v in row["estimate"].items()},
        }
        for row in summary["survival_difference"]  # type: ignore[attr-defined]
    ]
    return bands


def bands_shown(output: dict[str, Any]) -> dict[str, Any] | None:
    """``output["bands"]`` as the API shows it: a queued band job's state is read from its job
    row (a job that failed for good shows ``failed`` and its error), never trusted from the
    stored ``queued`` marker."""
    bands = output.get("bands")
    if not isinstance(bands, dict) or bands.get("status") != "queued" or "job" not in bands:
        return bands
    job = Job.objects.filter(public_id=bands["job"]).only("status", "error").first()
    if job is None:
        return {**bands, "status": "failed", "error": "The band job no longer exists."}
    if job.status == JobStatus.FAILED:
        return {**bands, "status": "failed", "error": job.error}
    if job.status == JobStatus.RUNNING:
        return {**bands, "status": "running"}
    return bands


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
    PredictionRefused when no prediction can be made (nothing is stored then). Outside the
    model's applicability domain the prediction is stored ABSTAINED (no per-option numbers).
    ``bands`` computes bootstrap bands inline from the model's stored ensemble, or enqueues an
    ``outcome_prediction_bands`` job that adds them later when the model has none."""
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    model = _active_model(model_name)
    try:
        assembled = outcome_features_assemble(patient=patient, feature_spec=model.feature_spec)
    except MissingRequiredInputs as exc:
        raise PredictionRefused("inputs", str(exc)) from exc
    return prediction_make(
        patient=patient, model=model, assembled=assembled, actor=user, bands=bands
    )


def prediction_make(
    *,
    patient: Patient,
    model: OutcomeModel,
    assembled: AssembledFeatures,
    actor: User | None,
    bands: bool,
    enqueue_bands: bool = True,
) -> Prediction:
    """Store one prediction of ``model`` for ``patient`` from assembled inputs, with one CREATE
    audit event. The CALLER has checked access to the patient (``prediction_create``: the
    user's visibility; ``outcome_batch``: the institution's data manager or the system)."""
    try:
        artifact = outcome_artifact_load(model)
    except ArtifactIntegrityError as exc:
        raise ModelUnusable("model", str(exc)) from exc
    comparison = artifact.comparison
    frame = prediction_frame(model, assembled.values)
    per_year = UNIT_PER_YEAR[model.time_unit]
    horizon = 5 * per_year
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
    }
    domain = artifact.domain
    check = None
    if domain is None:  # format-1 artifact: range warnings only, never abstains
        unseen = comparison.encoder_.unseen_levels(frame)
        warnings = assembled.warnings + _domain_warnings(model, assembled.values, unseen)
    else:
        check = domain.check(frame)
        warnings = assembled.warnings + [
            w.message for w in check.warnings if w.code not in NOTE_CODES
        ]
        output["domain"] = check.as_dict()
    if domain is not None and check is not None and check.abstain:
        output["abstained"] = True
        output["abstain_reason"] = _abstain_reason(check, domain.abstain_on)
    else:
        output["options"] = _options(artifact, frame, per_year)
        output["similar_patients"] = [
            p.as_dict() for p in artifact.explainer().similar_patients(frame, k=SIMILAR_PATIENTS)
        ]
        if bands and artifact.ensemble is not None:
            grid, at = _bands_times(horizon, per_year)
            draws = artifact.ensemble.survival(frame, np.concatenate([grid, list(at.values())]))
            output["bands"] = _bands_from_draws(
                draws, grid, at, output["options"], list(comparison.options_), source="ensemble"
            )
    prediction = Prediction.objects.create(
        patient=patient,
        model=model,
        inputs=assembled.values,
        inputs_sha256=inputs_sha256(assembled.values),
        output=output,
        warnings=warnings,
        label=LABEL,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type=AUDIT_OBJECT,
        object_id=prediction.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )
    if bands and enqueue_bands and not output["abstained"] and output["bands"] is None:
        job = job_enqueue(
            kind="outcome_prediction_bands",
            payload={"prediction_id": prediction.pk, "replicates": BAND_REPLICATES},
            idempotency_key=f"outcome_prediction_bands:{prediction.public_id}",
            created_by=actor,
            max_attempts=2,
        )
        prediction.output["bands"] = {"status": "queued", "job": str(job.public_id)}
        prediction.save(update_fields=["output"])
    return prediction


def prediction_bands_compute(
    *, prediction: Prediction, replicates: int, actor: User | None = None
) -> dict[str, Any]:
    """Percentile bootstrap bands (``compare.bootstrap_survival``: the comparison refitted on
    ``replicates`` resamples of its training cohort, seed 0) for the stored inputs, on the same
    time grid as the stored curves plus 1, 2 and 5 years; stored in ``output["bands"]``, with
    the response intervals (the response classifier refitted on the same resamples) written
    into each option's ``response``; one UPDATE audit event."""
    model = prediction.model
    artifact = outcome_artifact_load(model)
    comparison = artifact.comparison
    frame = prediction_frame(model, prediction.inputs)
    horizon = float(prediction.output["horizon"])
    per_year = UNIT_PER_YEAR[model.time_unit]
    grid, at = _bands_times(horizon, per_year)
    times = np.concatenate([grid, list(at.values())])
    draws = bootstrap_survival(comparison, frame, times, replicates=replicates, seed=0)[:, :, 0]
    options = prediction.output["options"]
    bands = _bands_from_draws(draws, grid, at, options, list(comparison.options_), source="job")
    if artifact.response is not None and artifact.response_column:
        refits = ResponseEnsemble(artifact.response, replicates=replicates, seed=0).fit(
            comparison._data[0], artifact.response_column, list(comparison.options_)
        )
        intervals = refits.interval(frame, level=BAND_LEVEL)
        for option in options:
            if option.get("response") and option["option"] in intervals:
                lo, hi = intervals[option["option"]]
                option["response"]["lower"] = round(lo, 4)
                option["response"]["upper"] = round(hi, 4)
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
