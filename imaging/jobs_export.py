"""The research-export job kind: one job builds one ResearchExport's zip
(imaging/services/export.py; docs/deidentification.md, "Research export").

Imported by ImagingConfig.ready(), so web processes and Celery workers know the kind. The
handler runs inside the job's transaction together with its success transition: the export row
names its file only when the job commits.
"""

from __future__ import annotations

from typing import Any

from core.jobs import register_job_kind
from core.models import Job
from imaging.models import ResearchExport
from imaging.services.export import EXPORT_JOB_KIND, research_export_build


@register_job_kind(EXPORT_JOB_KIND, backoff_base_seconds=10)
def research_export_job(job: Job) -> dict[str, Any]:
    # Locks the export: a retried job racing a stale attempt cannot both register a file.
    export = (
        ResearchExport.objects.select_for_update(of=("self",))
        .select_related("institution", "requested_by")
        .get(pk=job.payload["export_id"])
    )
    if export.completed_at is not None:  # built by an earlier attempt that committed
        return {"exported": export.summary.get("exported", 0), "reused": True}
    summary = research_export_build(export=export, job=job)
    return {"exported": summary["exported"], "quarantined": summary["quarantined"]}
