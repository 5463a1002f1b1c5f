"""The radiomics job kinds: one job computes one RadiomicsRun; a batch's planning job creates
its runs (docs/radiomics-jobs.md).

Imported by ImagingConfig.ready(), so web processes and Celery workers know the kind. The
handler runs inside the job's transaction together with its success transition: a worker
killed mid-run leaves no features written, and the reconciler sends the job again.
"""

from __future__ import annotations

from typing import Any

from core.jobs import register_job_kind
from core.models import Job
from imaging.models import RadiomicsBatch, RadiomicsRun
from imaging.services.radiomics import (
    JOB_KIND,
    PLAN_JOB_KIND,
    radiomics_batch_plan,
    radiomics_run_compute,
)


@register_job_kind(JOB_KIND, backoff_base_seconds=10)
def radiomics_run_job(job: Job) -> dict[str, Any]:
    # Locks the run: a retried job racing a stale attempt cannot both write it.
    run = (
        RadiomicsRun.objects.select_for_update(of=("self",))
        .select_related("series__study", "patient")
        .get(pk=job.payload["run_id"])
    )
    if run.completed_at is not None:  # computed by an earlier job for the same inputs
        return {"features": len(run.features), "reused": True}
    return {"features": radiomics_run_compute(run=run, job=job)}


@register_job_kind(PLAN_JOB_KIND, backoff_base_seconds=10)
def radiomics_batch_plan_job(job: Job) -> dict[str, Any]:
    # The runs' own jobs are sent when this job's transaction commits (job_enqueue on commit):
    # a planning attempt that fails or is killed leaves no runs and sends no message.
    batch = RadiomicsBatch.objects.select_related("created_by").get(pk=job.payload["batch_id"])
    return radiomics_batch_plan(batch=batch, job=job)
