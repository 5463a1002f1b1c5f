"""Redis (broker and cache) killed and restarted while jobs are queued and submitted.

A private redis-server on a free port, append-only file fsynced on every write (a broker that
must keep its messages across a restart is configured so); worker and this process (the app's
submit path: `job_enqueue` in a transaction, sent on commit) both use it as broker, and as
cache. The shared Redis on 6379 is not touched.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from core.jobs import job_enqueue, jobs_reconcile
from core.models import Job, JobStatus, Role
from oncology.models import Patient
from oncology.services import imports
from tests.conftest import World
from tests.factories import UserFactory
from tests.integration.conftest import WorkerPool
from tests.integration.faults.conftest import PrivateRedis, effect_counts, wait_for_jobs

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 5
RESEND_AFTER_SECONDS = 5  # the reconciler's re-send on the test's time scale (300 s deployed)


def _submit(marks: Path) -> Job:
    with transaction.atomic():  # as a request (ATOMIC_REQUESTS): sent when it commits
        return job_enqueue(kind="it_effect_marked", payload={"marks": str(marks), "sleep": 0.2})


def test_redis_killed_and_restarted_with_jobs_queued_and_submitted_loses_no_job(
    redis_workers: WorkerPool,
    private_redis: PrivateRedis,
    world: World,
    settings,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # before the worker starts: it inherits the path
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url(1),
        }
    }
    marks = tmp_path / "marks"
    marks.mkdir()
    worker = redis_workers.start(
        lease_seconds=LEASE_SECONDS, extra_env={"CACHE_URL": private_redis.url(1)}
    )
    data_manager = UserFactory(
        username="dm", role=Role.DATA_MANAGER, institution=world.institution, teams=[world.team]
    )
    before = [_submit(marks) for _ in range(30)]
    ids = [job.pk for job in before]
    deadline = time.monotonic() + 60
    while Job.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() < 3:
        if time.monotonic() > deadline:
            pytest.fail("the worker did not start consuming", pytrace=False)
        time.sleep(0.05)

    private_redis.kill()
    queued_at_kill = Job.objects.filter(pk__in=ids).exclude(status=JobStatus.SUCCEEDED).count()
    started = time.monotonic()
    during = [_submit(marks) for _ in range(5)]
    upload = imports.cohort_upload_store(
        file=SimpleUploadedFile(
            "cohort.csv",
            b"mrn,given_name,family_name,sex,birth_date,care_teams\r\n"
            b"RDS1,Ann,Outage,female,1960-01-02,thoracic\r\n"
            b"RDS2,Bob,Outage,male,1955-07-08,thoracic\r\n",
        )
    )
    with transaction.atomic():
        cohort_job, created = imports.cohort_import_start(
            actor=data_manager, institution=world.institution, upload=upload
        )
    submit_seconds = time.monotonic() - started
    unsent = [*during, cohort_job]
    assert created
    for job in unsent:  # kept in the database, marked as never sent
        job.refresh_from_db()
        assert job.status == JobStatus.QUEUED
        assert job.enqueued_at is None

    private_redis.start()  # same port, same append-only file
    restarted = time.monotonic()
    # The messages queued before the kill are still there (the worker takes two at a time).
    kept = redis.Redis(port=private_redis.port).llen(settings.CELERY_TASK_DEFAULT_QUEUE)
    assert kept > 0
    # A worker that exited is started again, as its supervisor (systemd Restart=always) would:
    # kombu can fail while closing the lost connection (AttributeError "'NoneType' object has no
    # attribute 'hostname'" when it restores unacknowledged messages) and Celery then stops.
    survived = worker.process.poll() is None
    if not survived:
        worker = redis_workers.start(
            lease_seconds=LEASE_SECONDS, extra_env={"CACHE_URL": private_redis.url(1)}
        )
    # The reconciler's run once the unsent jobs are a minute old (at once on the test's scale).
    counts = jobs_reconcile(unsent_after_seconds=0)
    assert counts["resent"] == len(unsent)  # exactly the jobs whose message was never sent
    totals = wait_for_jobs(
        [*before, *unsent], timeout=90, resend_after_seconds=RESEND_AFTER_SECONDS
    )
    drained = time.monotonic() - restarted
    assert worker.process.poll() is None
    worker.kill()  # done with it: no warm shutdown to wait for

    everything = [*before, *unsent]
    rows = Job.objects.filter(pk__in=[job.pk for job in everything])
    assert {job.status for job in rows} == {JobStatus.SUCCEEDED}
    per_job = effect_counts([job for job in rows if job.kind == "it_effect_marked"])
    assert sum(per_job.values()) == 35  # 0 lost
    assert set(per_job.values()) == {1}  # 0 duplicated
    cohort_job.refresh_from_db()
    assert cohort_job.result["counts"]["created"] == 2
    assert Patient.objects.filter(mrn__in=["RDS1", "RDS2"]).count() == 2
    connected = worker.log().count(f"Connected to redis://:**@127.0.0.1:{private_redis.port}/0")
    assert connected == (2 if survived else 1)  # reconnected, or connected once after its restart
    print(
        f"FAULTS redis-restart: 30 jobs before ({queued_at_kill} unfinished at the kill, "
        f"{kept} messages kept by Redis), "
        f"6 submitted during the outage in {submit_seconds:.2f}s, all done {drained:.1f}s "
        f"after the restart; reconciler {counts} then {totals}; worker "
        f"{'reconnected' if survived else 'exited on the connection loss and was restarted'}"
    )
