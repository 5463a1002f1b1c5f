"""Job handlers of the outcome-model registry (registered with core.jobs; imported by
oncology.jobs so web processes and workers know the kind)."""

from __future__ import annotations

from typing import Any

from core.jobs import JobError, job_progress_set, register_job_kind
from core.models import Job
from oncology.models_outcomes import Prediction
from oncology.services.outcome_models import OutcomeModelError, outcome_model_train
from oncology.services.outcome_predictions import BAND_REPLICATES, prediction_bands_compute


@register_job_kind("outcome_model_train")
def outcome_model_train_run(job: Job) -> dict[str, Any]:
    """Train one draft version; the job's result names it."""
    params = {
        key: job.payload[key]
        for key in ("source", "kind", "name", "seed", "patients", "splits", "band_replicates")
        if key in job.payload
    }
    try:
        model = outcome_model_train(**params, actor=job.created_by)
    except OutcomeModelError as exc:
        raise JobError(str(exc)) from exc
    return {
        "model": str(model.public_id),
        "name": model.name,
        "version": model.version,
        "artifact_sha256": model.artifact_sha256,
    }


@register_job_kind("outcome_prediction_bands")
def outcome_prediction_bands_run(job: Job) -> dict[str, Any]:
    """Bootstrap bands for one stored prediction (seconds to minutes: a refit per replicate)."""
    try:
        prediction = Prediction.objects.select_related("model", "patient").get(
            pk=job.payload["prediction_id"]
        )
    except Prediction.DoesNotExist as exc:
        raise JobError("The prediction no longer exists.") from exc
    try:
        return prediction_bands_compute(
            prediction=prediction,
            replicates=int(job.payload.get("replicates", BAND_REPLICATES)),
            actor=job.created_by,
        )
    except OutcomeModelError as exc:  # ArtifactIntegrityError included
        raise JobError(str(exc)) from exc


@register_job_kind("outcome_predictions_batch")
def outcome_predictions_batch_run(job: Job) -> dict[str, Any]:
    """Predict for many patients (``outcome_batch.predictions_batch``); progress per patient."""
    from oncology.services.outcome_batch import BatchRefused, predictions_batch
    from oncology.services.outcome_predictions import ModelUnusable

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            job_progress_set(job, stage="predicting", done=done, total=total)

    try:
        return predictions_batch(
            model_name=job.payload["model"],
            institution_code=job.payload.get("institution") or None,
            patient_ids=job.payload.get("patients"),
            actor=job.created_by,
            bands=bool(job.payload.get("bands", True)),
            progress=progress,
        )
    except (BatchRefused, ModelUnusable) as exc:
        raise JobError(str(exc)) from exc
