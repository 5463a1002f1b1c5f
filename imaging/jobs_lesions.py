"""Job kind of the lesion-model registry (registered with core.jobs; imported by
imaging.apps so web processes and workers know it): ``lesion_model_train``."""

from __future__ import annotations

from typing import Any

from core.jobs import JobError, job_progress_set, register_job_kind
from core.models import Job
from imaging.services.lesion_models import (
    LesionModelError,
    fp_model_train_site,
    malignancy_model_train,
)
from oncology.models import Institution

MALIGNANCY_KEYS = ("name", "source", "label", "algorithm", "seed", "splits", "threshold")


@register_job_kind("lesion_model_train")
def lesion_model_train_run(job: Job) -> dict[str, Any]:
    """Train one draft version. Payload: ``kind`` (``malignancy`` or ``nodule_fp``); for
    malignancy the keys of ``malignancy_model_train`` (``csv`` as text); for nodule_fp
    ``institution`` (code), ``name``, ``seed``, ``epochs``. The result names the version."""
    payload = dict(job.payload)
    job_progress_set(job, stage="training", done=0, total=1)
    try:
        if payload.get("kind") == "malignancy":
            params = {k: payload[k] for k in MALIGNANCY_KEYS if k in payload}
            csv = payload.get("csv")
            institution = None
            if payload.get("institution"):
                institution = Institution.objects.filter(code=payload["institution"]).first()
                if institution is None:
                    raise JobError("The institution named in the job does not exist.")
            model = malignancy_model_train(
                **params,
                csv=csv.encode() if isinstance(csv, str) else None,
                institution=institution,
                actor=job.created_by,
            )
        elif payload.get("kind") == "nodule_fp":
            institution = Institution.objects.filter(code=payload.get("institution", "")).first()
            if institution is None:
                raise JobError("A nodule_fp job needs an existing institution code.")
            model = fp_model_train_site(
                institution=institution,
                name=payload.get("name") or None,
                seed=int(payload.get("seed", 0)),
                epochs=int(payload.get("epochs", 15)),
                actor=job.created_by,
            )
        else:
            raise JobError("The job's kind must be malignancy or nodule_fp.")
    except LesionModelError as exc:
        raise JobError(str(exc)) from exc
    job_progress_set(job, stage="done", done=1, total=1)
    return {
        "model": str(model.public_id),
        "name": model.name,
        "version": model.version,
        "artifact_sha256": model.artifact_sha256,
    }
