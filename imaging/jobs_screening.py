"""The screening job kind: one job screens one ScreeningRun's series (docs/screening.md).

Imported by ImagingConfig.ready(), so web processes and Celery workers know the kind. The
handler runs inside the job's transaction together with its success transition: a worker
killed mid-run leaves no finding written, and the reconciler sends the job again.
"""

from __future__ import annotations

from typing import Any

from core.jobs import register_job_kind
from core.models import Job
from imaging.models import ScreeningRun
from imaging.models_screening import ScreeningStatus
from imaging.services.screening import JOB_KIND, screening_run_compute


@register_job_kind(JOB_KIND, backoff_base_seconds=10)
def screening_run_job(job: Job) -> dict[str, Any]:
    # Locks the run: a retried job racing a stale attempt cannot both write its findings.
    run = (
        ScreeningRun.objects.select_for_update(of=("self",))
        .select_related("series__study", "patient")
        .get(pk=job.payload["run_id"])
    )
    if run.status == ScreeningStatus.DONE:  # screened by an earlier job for the same inputs
        return {"status": "done", "findings": run.findings.count(), "reused": True}
    return screening_run_compute(run=run, job=job)
