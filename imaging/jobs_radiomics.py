"""The radiomics job kind: one job computes one RadiomicsRun (docs/radiomics-jobs.md).

Imported by ImagingConfig.ready(), so web processes and Celery workers know the kind. The
handler runs inside the job's transaction together with its success transition: a worker
killed mid-run leaves no features written, and the reconciler sends the job again.
"""

from __future__ import annotations

from typing import Any

from core.jobs import register_job_kind
from core.models import Job
from imaging.models import RadiomicsRun
from imaging.services.radiomics import JOB_KIND, radiomics_run_compute


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
