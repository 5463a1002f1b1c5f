"""Jobs through a real broker and worker process: delivery, duplicates, retries, a dead
worker, and the first real job kind (cohort import) end to end."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.jobs import job_enqueue, jobs_reconcile
from core.models import AuditEvent, Job, JobStatus, Role
from core.tasks import run_job
from oncology.models import Patient
from oncology.services import imports
from tests.conftest import World
from tests.factories import UserFactory
from tests.integration.conftest import WorkerPool, wait_for_job, wait_for_log
from tests.integration.jobkinds import EFFECT, effects

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_job_enqueued_in_a_transaction_runs_on_the_worker_end_to_end(worker) -> None:
    job = job_enqueue(kind="it_effect", payload={})  # autocommit: sent on commit, right away

    job = wait_for_job(job)

    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"written_by_attempt": 1}
    assert job.attempts == 1
    assert effects(job) == 1
    event = AuditEvent.objects.get(object_type=EFFECT)
    assert event.channel == "job"
    assert event.request_id == job.public_id.hex


def test_same_job_delivered_twice_at_once_has_one_effect(worker) -> None:
    # Created without job_enqueue, then sent twice by hand: two messages, both consumed in
    # parallel by the two pool processes while the first attempt is still sleeping.
    job = Job.objects.create(
        kind="it_effect", idempotency_key="dup", payload={"sleep_on": [1], "sleep": 1}
    )
    run_job.apply_async(args=(job.pk,))
    run_job.apply_async(args=(job.pk,))

    job = wait_for_job(job)
    wait_for_log(worker, "succeeded in", count=2)  # both messages have been handled

    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 1
    assert effects(job) == 1
    assert worker.log().count(": 'skipped'") == 1


def test_job_failing_every_attempt_is_retried_and_ends_failed_with_its_error(worker) -> None:
    job = job_enqueue(kind="it_fail", payload={}, max_attempts=3)

    job = wait_for_job(job, timeout=30)

    assert job.status == JobStatus.FAILED
    assert job.attempts == 3
    assert job.error == "JobError: planned failure on attempt 3"
    assert effects(job) == 0  # each attempt's write rolled back with it
    assert worker.log().count(": 'retry'") == 2


def test_job_of_a_killed_worker_completes_once_after_the_reconciler_requeues_it(
    workers: WorkerPool,
) -> None:
    doomed = workers.start(lease_seconds=2)
    job = job_enqueue(kind="it_effect", payload={"sleep_on": [1], "sleep": 60})
    wait_for_job(job, {JobStatus.RUNNING})

    doomed.kill()  # mid-job: the first attempt never commits
    workers.start()
    time.sleep(2.5)  # the dead worker's lease runs out
    counts = jobs_reconcile()

    job = wait_for_job(job)
    assert counts["requeued"] == 1
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert job.result == {"written_by_attempt": 2}
    assert effects(job) == 1


def test_attempt_outliving_its_lease_is_stopped_by_the_time_limit_and_retried(
    workers: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = workers.start(lease_seconds=3)
    # The sender writes the task's time limits into the message, so this process must agree
    # with the worker's 3 s lease (web and workers share settings in a deployment).
    monkeypatch.setattr(run_job, "soft_time_limit", 2.7)
    monkeypatch.setattr(run_job, "time_limit", 3)
    monkeypatch.setattr(run_job, "_exec_options", None)  # Celery caches them at the first send
    job = job_enqueue(
        kind="it_effect_quick_retry", payload={"sleep_on": [1], "sleep": 30}, max_attempts=2
    )

    job = wait_for_job(job, timeout=20)

    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert job.result == {"written_by_attempt": 2}
    assert effects(job) == 1
    assert "SoftTimeLimitExceeded" in worker.log()


def test_cohort_import_runs_on_the_worker_and_writes_each_patient_once(
    workers: WorkerPool, world: World, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # before the worker starts: it inherits the path
    worker = workers.start()
    data_manager = UserFactory(
        username="dm", role=Role.DATA_MANAGER, institution=world.institution, teams=[world.team]
    )
    upload = imports.cohort_upload_store(
        file=SimpleUploadedFile(
            "cohort.csv",
            b"mrn,given_name,family_name,sex,birth_date,care_teams\r\n"
            b"CSV1,Ann,Import,female,1960-01-02,thoracic\r\n"
            b"CSV2,Bob,Import,male,1955-07-08,thoracic\r\n",
        )
    )
    job, _ = imports.cohort_import_start(
        actor=data_manager, institution=world.institution, upload=upload
    )

    job = wait_for_job(job)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 0}
    assert Patient.objects.filter(mrn__in=["CSV1", "CSV2"]).count() == 2
    events = AuditEvent.objects.filter(object_type="patient", channel="job")
    assert events.count() == 2
    assert set(events.values_list("request_id", flat=True)) == {job.public_id.hex}
    assert ": 'succeeded'" in worker.log()
