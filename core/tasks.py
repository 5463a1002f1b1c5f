"""Thin Celery tasks: load by id, call the job service, retry with backoff."""

from __future__ import annotations

from celery import shared_task

from core.jobs import job_execute, job_send, jobs_reconcile


@shared_task(name="core.tasks.run_job", acks_late=True, ignore_result=True)
def run_job(job_id: int) -> str:
    outcome, countdown = job_execute(job_id)
    if outcome == "retry":
        # A new message rather than Task.retry: the row already says queued, and the claim
        # makes any overlap with a redelivered copy harmless.
        job_send(job_id, countdown=countdown)
    return outcome


@shared_task(name="core.tasks.reconcile_jobs", ignore_result=True)
def reconcile_jobs() -> dict[str, int]:
    return jobs_reconcile()
