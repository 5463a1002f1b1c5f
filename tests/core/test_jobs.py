"""The job pattern in eager mode (no broker): the row is the truth, effects happen once."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.jobs import (
    JobError,
    _backoff_seconds,
    _run_claimed,
    job_claim,
    job_enqueue,
    job_execute,
    jobs_reconcile,
    register_job_kind,
)
from core.models import AuditEvent, Job, JobStatus
from core.tasks import run_job
from oncology.models import Institution

EFFECT = "test_job_effect"


def _effects(job: Job) -> int:
    return AuditEvent.objects.filter(object_type=EFFECT, object_id=str(job.public_id)).count()


# Test-only job kinds. Each writes one audit event as its observable effect, so a second
# execution would show up as a second row.
@register_job_kind("test_effect")
def _write_effect(job: Job) -> dict[str, Any]:
    audit_record(actor=None, action="create", object_type=EFFECT, object_id=job.public_id)
    return {"written": 1}


@register_job_kind("test_flaky")
def _fail_first_attempts(job: Job) -> dict[str, Any]:
    if job.attempts <= job.payload["failures"]:
        raise JobError(f"planned failure {job.attempts}")
    return _write_effect(job)


@register_job_kind("test_crash_after_write")
def _write_then_crash(job: Job) -> dict[str, Any]:
    Institution.objects.create(code=f"half-{job.pk}", name="Half-written")
    _write_effect(job)
    raise JobError("crashed after writing")


@register_job_kind("test_leaky_error")
def _raise_with_a_value(job: Job) -> dict[str, Any]:
    raise ValueError("duplicate MRN 4455667")


def _queued_job(kind: str, **fields: Any) -> Job:
    """A job row created without sending it, as a worker would find it in the table."""
    return Job.objects.create(kind=kind, idempotency_key=f"{kind}:{Job.objects.count()}", **fields)


@pytest.mark.django_db(transaction=True)
def test_enqueued_job_runs_after_commit_and_not_before() -> None:
    with transaction.atomic():
        job = job_enqueue(kind="test_effect", payload={})
        job.refresh_from_db()
        assert job.status == JobStatus.QUEUED
        assert _effects(job) == 0
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"written": 1}
    assert job.attempts == 1
    assert job.enqueued_at is not None
    assert job.lease_expires_at is None
    assert _effects(job) == 1


@pytest.mark.django_db(transaction=True)
def test_job_enqueued_in_a_rolled_back_transaction_never_runs() -> None:
    with transaction.atomic():
        job_enqueue(kind="test_effect", payload={}, idempotency_key="rolled-back")
        transaction.set_rollback(True)
    assert not Job.objects.filter(idempotency_key="rolled-back").exists()
    assert not AuditEvent.objects.filter(object_type=EFFECT).exists()


@pytest.mark.django_db(transaction=True)
def test_same_idempotency_key_gives_one_job_and_one_effect() -> None:
    first = job_enqueue(kind="test_effect", payload={}, idempotency_key="import:abc")
    second = job_enqueue(kind="test_effect", payload={}, idempotency_key="import:abc")
    assert first.pk == second.pk
    assert Job.objects.count() == 1
    assert _effects(first) == 1


@pytest.mark.django_db
def test_idempotency_key_of_another_kind_is_refused() -> None:
    job_enqueue(kind="test_effect", payload={}, idempotency_key="shared-key")
    with pytest.raises(ValueError, match="already used"):
        job_enqueue(kind="test_flaky", payload={"failures": 0}, idempotency_key="shared-key")


@pytest.mark.django_db
def test_unknown_job_kind_is_refused_at_enqueue() -> None:
    with pytest.raises(ValueError, match="unknown job kind"):
        job_enqueue(kind="no_such_kind", payload={})


@pytest.mark.django_db(transaction=True)
def test_duplicate_delivery_of_the_task_has_no_second_effect() -> None:
    job = job_enqueue(kind="test_effect", payload={})
    # The broker redelivers the same message (acks_late after a lost ack): twice more.
    assert run_job.apply(args=(job.pk,)).get() == "skipped"
    assert run_job(job.pk) == "skipped"
    job.refresh_from_db()
    assert job.attempts == 1
    assert _effects(job) == 1


@pytest.mark.django_db(transaction=True)
def test_executing_one_job_row_twice_runs_its_handler_once() -> None:
    job = _queued_job("test_effect")
    assert job_execute(job.pk) == ("succeeded", 0)
    assert job_execute(job.pk) == ("skipped", 0)
    assert _effects(job) == 1


@pytest.mark.django_db(transaction=True)
def test_failing_job_is_retried_then_succeeds() -> None:
    job = job_enqueue(kind="test_flaky", payload={"failures": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert job.error == ""
    assert _effects(job) == 1


@pytest.mark.django_db(transaction=True)
def test_job_failing_every_attempt_ends_failed_with_its_error_after_max_attempts() -> None:
    job = job_enqueue(kind="test_flaky", payload={"failures": 99}, max_attempts=3)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 3
    assert job.error == "JobError: planned failure 3"
    assert job.finished_at is not None
    assert _effects(job) == 0


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_is_requeued_with_exponential_backoff() -> None:
    job = _queued_job("test_flaky", payload={"failures": 99}, max_attempts=3)
    assert job_execute(job.pk) == ("retry", 10)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.error == "JobError: planned failure 1"
    assert job_execute(job.pk) == ("retry", 20)
    assert job_execute(job.pk) == ("failed", 0)
    # Doubling from 10 s, capped at ten minutes.
    assert [_backoff_seconds(n) for n in (1, 2, 3, 6, 7, 20)] == [10, 20, 40, 320, 600, 600]
    assert _backoff_seconds(2, base=0.5) == 2


@pytest.mark.django_db(transaction=True)
def test_handler_crashing_after_writing_leaves_no_partial_writes() -> None:
    job = job_enqueue(kind="test_crash_after_write", payload={}, max_attempts=2)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 2
    assert not Institution.objects.filter(code__startswith="half-").exists()
    assert _effects(job) == 0


@pytest.mark.django_db(transaction=True)
def test_error_of_an_unexpected_exception_keeps_its_type_but_not_its_message() -> None:
    job = job_enqueue(kind="test_leaky_error", payload={}, max_attempts=1)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("ValueError at test_jobs.py:")
    assert "4455667" not in job.error


@pytest.mark.django_db(transaction=True)
def test_audit_events_written_by_a_job_carry_the_job_channel_and_id() -> None:
    job = job_enqueue(kind="test_effect", payload={})
    event = AuditEvent.objects.get(object_type=EFFECT)
    assert event.channel == "job"
    assert event.request_id == job.public_id.hex


@pytest.mark.django_db(transaction=True)
def test_reconciler_requeues_a_job_whose_lease_expired_and_it_completes_once() -> None:
    job = _queued_job("test_effect")
    stale = job_claim(job.pk)  # a worker claims it, then dies without a word
    assert stale is not None
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    counts = jobs_reconcile()

    assert counts == {"requeued": 1, "failed": 0, "resent": 1}
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    # The dead worker was only paused (a long GC, a network partition) and now finishes: its
    # attempt lost the lease, so its work is discarded.
    assert _run_claimed(stale, _write_effect) == ("skipped", 0)
    assert _effects(job) == 1


@pytest.mark.django_db(transaction=True)
def test_reconciler_fails_a_job_whose_lease_expired_on_its_last_attempt() -> None:
    job = _queued_job("test_effect", max_attempts=1)
    job_claim(job.pk)
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert jobs_reconcile() == {"requeued": 0, "failed": 1, "resent": 0}
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "lease expired" in job.error
    assert _effects(job) == 0


@pytest.mark.django_db(transaction=True)
def test_reconciler_leaves_running_jobs_with_a_live_lease_alone() -> None:
    job = _queued_job("test_effect")
    job_claim(job.pk)
    assert jobs_reconcile() == {"requeued": 0, "failed": 0, "resent": 0}
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


@pytest.mark.django_db(transaction=True)
def test_reconciler_resends_a_job_whose_message_never_reached_the_broker() -> None:
    job = _queued_job("test_effect")  # committed, but the broker was down: never sent
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    fresh = _queued_job("test_effect")  # its on_commit send may still be on the way

    out = StringIO()
    call_command("reconcile_jobs", stdout=out)

    assert out.getvalue().strip() == "requeued=0 failed=0 resent=1"
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert fresh.status == JobStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_reconciler_does_not_resend_a_job_waiting_out_its_backoff() -> None:
    job = _queued_job("test_flaky", payload={"failures": 99})
    Job.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(minutes=30),
        enqueued_at=timezone.now() + timedelta(minutes=5),  # a retry message due later
    )
    assert jobs_reconcile()["resent"] == 0


@pytest.mark.django_db
def test_jobs_status_command_counts_jobs_by_kind_and_status_and_flags_stuck_ones() -> None:
    _queued_job("test_effect")
    _queued_job("test_effect", status=JobStatus.SUCCEEDED)
    stuck = _queued_job("test_flaky", payload={"failures": 0})
    job_claim(stuck.pk)
    Job.objects.filter(pk=stuck.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=5))

    out = StringIO()
    call_command("jobs_status", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["kind", "queued", "running", "succeeded", "failed"]
    assert lines[1].split() == ["test_effect", "1", "0", "1", "0"]
    assert lines[2].split() == ["test_flaky", "0", "1", "0", "0"]
    assert "running past their lease: 1" in lines[3]
