"""Job kinds used only by the integration tests.

Imported by the test process and by the worker (`celery ... --include tests.integration.jobkinds`)
so both sides know the same handlers. Each writes one audit event as its observable effect:
a second execution would leave a second row.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from core.audit import audit_record
from core.jobs import JobError, register_job_kind
from core.models import AuditEvent, Job

EFFECT = "integration_effect"


def effects(job: Job) -> int:
    return AuditEvent.objects.filter(object_type=EFFECT, object_id=str(job.public_id)).count()


@register_job_kind("it_effect")
@register_job_kind("it_effect_quick_retry", backoff_base_seconds=0.5)
def write_effect(job: Job) -> dict[str, Any]:
    """Sleeps payload["sleep"] seconds on the attempts listed in payload["sleep_on"], then
    writes the effect; the result names the attempt that did it."""
    if job.attempts in job.payload.get("sleep_on", []):
        time.sleep(job.payload.get("sleep", 0))
    audit_record(actor=None, action="create", object_type=EFFECT, object_id=job.public_id)
    return {"written_by_attempt": job.attempts}


@register_job_kind("it_fail", backoff_base_seconds=0.5)
def always_fail(job: Job) -> dict[str, Any]:
    audit_record(actor=None, action="create", object_type=EFFECT, object_id=job.public_id)
    raise JobError(f"planned failure on attempt {job.attempts}")


@register_job_kind("it_effect_marked", backoff_base_seconds=0.5)
def write_effect_marked(job: Job) -> dict[str, Any]:
    """Like it_effect, sleeping payload["sleep"] seconds on every attempt; while it runs, the
    file <payload["marks"]>/<pid> names the job, so a fault test can SIGKILL a pool process
    that is busy with one (tests/integration/faults)."""
    mark = Path(job.payload["marks"]) / str(os.getpid())
    mark.write_text(str(job.pk))
    try:
        time.sleep(job.payload.get("sleep", 0))
        audit_record(actor=None, action="create", object_type=EFFECT, object_id=job.public_id)
    finally:
        mark.unlink(missing_ok=True)
    return {"written_by_attempt": job.attempts}
