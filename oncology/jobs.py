"""Job handlers of the clinical record (registered with core.jobs).

Imported by OncologyConfig.ready(), so web processes and Celery workers know the same kinds.
A handler loads what its payload names, calls one service and returns the result to keep in
Job.result; core.jobs commits its writes together with the job's success.
"""

from __future__ import annotations

from typing import Any

from core.jobs import JobError, register_job_kind
from core.models import Job, User
from oncology.models import Institution


@register_job_kind("cohort_import")
def cohort_import_run(job: Job) -> dict[str, Any]:
    """Apply an uploaded cohort CSV; the per-row summary becomes the job's result."""
    from oncology.services import imports

    try:
        actor = User.objects.select_related("institution").get(pk=job.payload["actor_id"])
        institution = Institution.objects.get(pk=job.payload["institution_id"])
    except (User.DoesNotExist, Institution.DoesNotExist) as exc:
        raise JobError("The importing user or the institution no longer exists.") from exc
    try:
        upload = imports.StoredUpload.from_dict(job.payload["upload"])
        return imports.cohort_import_apply(actor=actor, institution=institution, upload=upload)
    except imports.ImportRefused as exc:
        raise JobError(str(exc)) from exc


from oncology import jobs_outcomes  # noqa: E402, F401  (registers outcome_model_train)
