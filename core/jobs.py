"""Background jobs: the database row is the truth, Celery only delivers.

Pattern (docs/jobs.md): a service creates the Job row and asks for delivery on commit;
the task claims the row with a conditional UPDATE (queued -> running), so a duplicate or
redelivered message finds nothing to claim; the handler's writes and the transition to
succeeded commit together, so an effect happens exactly once; failures are retried with
exponential backoff up to max_attempts; a reconciler re-queues jobs whose lease expired (a
killed worker) and re-sends jobs whose message never reached the broker.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.models import Job, JobStatus, User
from core.request_context import reset_request, set_request

logger = logging.getLogger(__name__)

JobHandler = Callable[[Job], dict[str, Any]]
_HANDLERS: dict[str, JobHandler] = {}
_BACKOFF_BASE_SECONDS: dict[str, float] = {}
BACKOFF_MAX_SECONDS = 600
UNSENT_GRACE_SECONDS = 60


class JobError(Exception):
    """A failure whose message is safe to store and show: it names rows, columns and fields,
    never patient values. Any other exception is recorded by type and code location only,
    because database and library messages can quote the values they choke on."""


class JobLeaseLost(RuntimeError):
    """The job was re-queued by the reconciler while this attempt ran; discard its work."""


def register_job_kind(
    kind: str, *, backoff_base_seconds: float = 5
) -> Callable[[JobHandler], JobHandler]:
    """Register `handler(job) -> result dict` for `kind`. A failed attempt n is retried after
    backoff_base_seconds * 2**n seconds (10, 20, 40 ... by default), at most ten minutes."""

    def decorator(handler: JobHandler) -> JobHandler:
        if kind in _HANDLERS and _HANDLERS[kind] is not handler:
            raise ValueError(f"job kind {kind!r} registered twice")
        _HANDLERS[kind] = handler
        _BACKOFF_BASE_SECONDS[kind] = backoff_base_seconds
        return handler

    return decorator


def job_kinds() -> list[str]:
    return sorted(_HANDLERS)


def job_enqueue(
    *,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
    created_by: User | None = None,
    max_attempts: int = 3,
) -> Job:
    """Create the job (or return the existing one with this key) and send it after commit."""
    if kind not in _HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    key = idempotency_key or f"{kind}:{uuid.uuid4().hex}"
    if len(key) > Job._meta.get_field("idempotency_key").max_length:  # type: ignore[operator]
        raise ValueError("idempotency key longer than 200 characters")
    job, created = Job.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "kind": kind,
            "payload": payload,
            "created_by": created_by,
            "max_attempts": max_attempts,
        },
    )
    if created:
        job_id = job.pk
        transaction.on_commit(lambda: job_send(job_id))
    elif job.kind != kind:
        raise ValueError(f"idempotency key already used by a {job.kind!r} job")
    return job


def job_send(job_id: int, countdown: float = 0) -> bool:
    """Hand the job to the broker. A broker outage leaves it queued for the reconciler."""
    from core.tasks import run_job

    # enqueued_at is when the message becomes due, so the reconciler does not re-send a job
    # that is only waiting out its retry backoff.
    Job.objects.filter(pk=job_id).update(enqueued_at=timezone.now() + timedelta(seconds=countdown))
    try:
        run_job.apply_async(args=(job_id,), countdown=countdown)
    except Exception:  # kombu raises several families of connection errors
        # No message exists: say so (enqueued_at empty), so that the reconciler sends it at
        # its next run instead of waiting for a message that is not "overdue" yet.
        Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(enqueued_at=None)
        logger.warning("broker unavailable; job %s stays queued for the reconciler", job_id)
        return False
    return True


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, JobError):
        return f"{type(exc).__name__}: {exc}"[:2000]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


def _backoff_seconds(attempts: int, base: float = 5) -> float:
    return min(base * 2**attempts, BACKOFF_MAX_SECONDS)


def job_claim(job_id: int) -> Job | None:
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
    )
    if not claimed:
        return None
    return Job.objects.get(pk=job_id)


def job_execute(job_id: int) -> tuple[str, float]:
    """Run one attempt. Returns (outcome, retry_countdown); outcome is one of
    skipped (nothing to claim), succeeded, retry, failed."""
    job = job_claim(job_id)
    if job is None:
        return "skipped", 0
    handler = _HANDLERS.get(job.kind)
    # Audit events written by the handler name the job as their request and "job" as channel.
    context = set_request(job.public_id.hex, "job")
    try:
        return _run_claimed(job, handler)
    finally:
        reset_request(context)


def _run_claimed(job: Job, handler: JobHandler | None) -> tuple[str, float]:
    try:
        if handler is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        with transaction.atomic():
            result = handler(job)
            finished = Job.objects.filter(
                pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts
            ).update(
                status=JobStatus.SUCCEEDED,
                result=result or {},
                error="",
                finished_at=timezone.now(),
                lease_expires_at=None,
            )
            if finished != 1:
                raise JobLeaseLost(f"job {job.pk} was re-queued while attempt {job.attempts} ran")
    except JobLeaseLost:
        logger.warning("job %s attempt %s lost its lease; work discarded", job.pk, job.attempts)
        return "skipped", 0
    except Exception as exc:
        error = _error_text(exc)
        final = job.attempts >= job.max_attempts
        recorded = Job.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts
        ).update(
            status=JobStatus.FAILED if final else JobStatus.QUEUED,
            error=error,
            finished_at=timezone.now() if final else None,
            lease_expires_at=None,
        )
        logger.warning("job %s attempt %s failed: %s", job.pk, job.attempts, error)
        if not recorded:  # the reconciler took the job back meanwhile; it owns the next attempt
            return "skipped", 0
        if final:
            return "failed", 0
        return "retry", _backoff_seconds(job.attempts, _BACKOFF_BASE_SECONDS.get(job.kind, 5))
    return "succeeded", 0


def jobs_reconcile(
    *, resend_after_seconds: int = 300, unsent_after_seconds: int = UNSENT_GRACE_SECONDS
) -> dict[str, int]:
    """Re-queue jobs whose worker died mid-run and re-send jobs the broker never got.

    A queued job is re-sent when its message is `resend_after_seconds` overdue, or, when no
    message was sent (enqueued_at empty: the broker was down), once the job is
    `unsent_after_seconds` old. Returns counts: requeued (lease expired, attempts left), failed
    (lease expired on the last attempt), resent (messages sent, re-queued ones included).
    """
    now = timezone.now()
    requeued_ids: list[int] = []
    failed = 0
    for job in Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now):
        final = job.attempts >= job.max_attempts
        # Conditional on the attempt we saw: a worker finishing right now wins, or we do.
        updated = Job.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts
        ).update(
            status=JobStatus.FAILED if final else JobStatus.QUEUED,
            error="lease expired: the worker stopped while running this job",
            finished_at=now if final else None,
            lease_expires_at=None,
        )
        if updated and final:
            failed += 1
        elif updated:
            requeued_ids.append(job.pk)
    # A re-queued job goes straight back to the broker; its old message, if the broker still
    # holds one, finds nothing to claim once the new attempt has started.
    resent = sum(job_send(job_id) for job_id in requeued_ids)
    stale_before = now - timedelta(seconds=resend_after_seconds)
    # enqueued_at empty: no message was sent (the broker was down), or the creating
    # transaction's on-commit send is a moment away: wait unsent_after_seconds for the latter.
    unsent_before = now - timedelta(seconds=min(resend_after_seconds, unsent_after_seconds))
    never_sent_or_stale = Q(enqueued_at__isnull=True, created_at__lt=unsent_before) | Q(
        enqueued_at__lt=stale_before
    )
    stale = Job.objects.filter(never_sent_or_stale, status=JobStatus.QUEUED).exclude(
        pk__in=requeued_ids
    )
    for job_id in stale.values_list("pk", flat=True):
        resent += job_send(job_id)
    return {"requeued": len(requeued_ids), "failed": failed, "resent": resent}


# --- progress ------------------------------------------------------------------------------
# A handler's database writes stay invisible until its transaction commits, so progress goes
# through Django's cache (Redis in production, shared by web and workers; local memory on the
# embedded default, where eager jobs run in the web process). Progress is advisory: a cache
# outage never fails a job, and a missing entry only means "no progress reported".
PROGRESS_KEY_PREFIX = "job-progress:"


def job_progress_set(job: Job, **progress: Any) -> None:
    """Publish this job's progress (small JSON values: stage, done, total, ...)."""
    from django.core.cache import cache

    try:
        cache.set(
            f"{PROGRESS_KEY_PREFIX}{job.public_id.hex}",
            {**progress, "attempt": job.attempts},
            timeout=settings.JOB_LEASE_SECONDS,
        )
    except Exception:  # the cache backends raise their own connection errors
        logger.warning("progress of job %s not published: cache unavailable", job.pk)


def job_progress(job: Job) -> dict[str, Any] | None:
    """The last progress a running job published, or None."""
    from django.core.cache import cache

    try:
        value = cache.get(f"{PROGRESS_KEY_PREFIX}{job.public_id.hex}")
    except Exception:
        return None
    return value if isinstance(value, dict) else None
