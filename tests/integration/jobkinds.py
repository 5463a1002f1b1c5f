"""Job kinds used only by the integration tests.

Imported by the test process and by the worker (`celery ... --include tests.integration.jobkinds`)
so both sides know the same handlers. Each writes one audit event as its observable effect:
a second execution would leave a second row.
"""

from __future__ import annotations

import time
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
