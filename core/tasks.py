"""Thin Celery tasks: load by id, call the job service, retry with backoff."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from core.jobs import job_execute, job_send, jobs_reconcile

# An attempt must end before its lease does, or the reconciler would hand the job to a second
# worker while the first still computes (its commit would then be refused, but the work is
# wasted). The soft limit raises inside the handler: a failed attempt, retried. The hard limit
# kills a handler stuck outside Python; the message then returns to the queue, finds the job
# still running, and the reconciler takes it back once the lease has expired.
_HARD_LIMIT = settings.JOB_LEASE_SECONDS
_SOFT_LIMIT = max(_HARD_LIMIT - 30, _HARD_LIMIT * 0.9)
# The database unreachable (restart, failover): the claim, or the record of a failed attempt,
# cannot be written. Without a new message the job would wait for the reconciler's re-send
# (5 minutes); with one it runs as soon as the database is back. 60 tries 5 s apart cover a
# restart; a longer outage is the reconciler's again.
DB_RETRY_SECONDS = 5
DB_RETRY_MAX = 60


@shared_task(
    bind=True,
    name="core.tasks.run_job",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=_SOFT_LIMIT,
    time_limit=_HARD_LIMIT,
)
def run_job(self: Task, job_id: int) -> str:
    try:
        outcome, countdown = job_execute(job_id)
    except (OperationalError, InterfaceError) as exc:
        # The row decides what the new message does: a job still queued is claimed, one whose
        # attempt was cut off stays running until its lease expires and the reconciler
        # re-queues it (the new message then finds nothing to claim).
        raise self.retry(exc=exc, countdown=DB_RETRY_SECONDS, max_retries=DB_RETRY_MAX) from exc
    if outcome == "retry":
        # A new message rather than Task.retry: the row already says queued, and the claim
        # makes any overlap with a redelivered copy harmless.
        job_send(job_id, countdown=countdown)
    return outcome


@shared_task(name="core.tasks.reconcile_jobs", ignore_result=True)
def reconcile_jobs() -> dict[str, int]:
    return jobs_reconcile()
