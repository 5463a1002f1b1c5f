"""Radiomics jobs on a real Celery worker (Redis broker, PostgreSQL): a run requested through
the API is computed by the worker; a worker killed mid-run leaves nothing written and the
reconciler's re-sent job finishes it once; a cohort batch is planned by a job that fans out one
job per run; progress crosses processes through the shared cache."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.jobs import jobs_reconcile
from core.models import AuditEvent, Job, JobStatus, Role
from imaging.models import RadiomicsRun, Series
from imaging.services.radiomics import (
    JOB_KIND,
    PLAN_JOB_KIND,
    run_progress,
    series_radiomics_masks,
)
from tests.conftest import World
from tests.factories import PatientFactory, UserFactory
from tests.imaging.viewer_data import LESION, store_ct_with_structure_set, synthetic_hu
from tests.integration.conftest import WorkerPool, _database_url, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> None:
    # Set before a worker starts: it inherits MEDIA_ROOT and reads the stored instances there.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"


def _request_run(client: APIClient, world: World, series: Series) -> dict[str, Any]:
    url = reverse(
        "api-radiomics-series",
        kwargs={"public_id": world.patient.public_id, "series_id": series.public_id},
    )
    body = {"mask_id": series_radiomics_masks(series)[0].id, "preset": "ibsi-A"}
    response = client.post(url, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def _job_of(run_public_id: str) -> Job:
    run = RadiomicsRun.objects.select_related("job").get(public_id=run_public_id)
    assert run.job is not None
    return run.job


def test_a_run_requested_through_the_api_is_computed_by_the_worker(
    media: None, workers: WorkerPool, world: World, api_member: APIClient
) -> None:
    workers.start()
    series = store_ct_with_structure_set(world.patient)

    requested = _request_run(api_member, world, series)  # committed: the message goes out
    job = wait_for_job(_job_of(requested["public_id"]), timeout=60)

    assert job.status == JobStatus.SUCCEEDED, job.error
    run = RadiomicsRun.objects.get(public_id=requested["public_id"])
    values = {f["feature"]: f["value"] for f in run.features}
    assert values["stat_mean"] == pytest.approx(synthetic_hu()[LESION].mean())  # -72.5
    assert job.result == {"features": len(run.features)}
    written = AuditEvent.objects.get(object_id=str(run.public_id), action="update")
    assert (written.channel, written.request_id) == ("job", job.public_id.hex)
    # The same inputs again: the stored run, no second job.
    again = api_member.post(
        reverse(
            "api-radiomics-series",
            kwargs={"public_id": world.patient.public_id, "series_id": series.public_id},
        ),
        {"mask_id": run.mask_id, "preset": "ibsi-A"},
        format="json",
    )
    assert again.status_code == 200
    assert again.json()["status"] == "succeeded"
    assert Job.objects.filter(kind=JOB_KIND).count() == 1


def test_a_worker_killed_mid_run_leaves_nothing_and_the_reconciler_finishes_the_run_once(
    media: None, workers: WorkerPool, world: World, api_member: APIClient
) -> None:
    series = store_ct_with_structure_set(world.patient)
    # The request commits and its message waits in Redis: no worker runs yet.
    requested = _request_run(api_member, world, series)
    # Hold the run's row lock from another connection: the handler locks the run first, so the
    # first attempt is claimed (running) and then waits inside its transaction: mid-run, for as
    # long as we like, without a sleep in the code under test.
    with psycopg.connect(_database_url()) as blocker:
        blocker.execute(
            "SELECT 1 FROM imaging_radiomicsrun WHERE public_id = %s FOR UPDATE",
            (requested["public_id"],),
        )
        doomed = workers.start(lease_seconds=2)
        job = wait_for_job(_job_of(requested["public_id"]), {JobStatus.RUNNING}, timeout=60)
        doomed.kill()  # SIGKILL: PostgreSQL rolls the dead attempt's transaction back
        blocker.rollback()

    run = RadiomicsRun.objects.get(public_id=requested["public_id"])
    assert run.completed_at is None
    assert run.features == []
    workers.start()
    time.sleep(2.5)  # the dead worker's 2 s lease runs out
    counts = jobs_reconcile()

    job = wait_for_job(job, timeout=60)
    assert counts["requeued"] == 1
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    run.refresh_from_db()
    assert run.completed_at is not None
    assert len(run.features) == job.result["features"] > 100
    # Exactly one write of the features, by the second attempt.
    assert AuditEvent.objects.filter(object_id=str(run.public_id), action="update").count() == 1


def test_a_cohort_batch_fans_out_one_job_per_run_over_the_workers(
    media: None, workers: WorkerPool, world: World
) -> None:
    workers.start()
    second = PatientFactory(institution=world.institution, teams=[world.team])
    for patient in (world.patient, second):
        store_ct_with_structure_set(patient)
    oncologist = UserFactory(
        role=Role.ONCOLOGIST, institution=world.institution, teams=[world.team]
    )
    client = APIClient()
    client.force_authenticate(oncologist)

    response = client.post(reverse("api-radiomics-batch-list"), {"preset": "ibsi-A"}, format="json")
    assert response.status_code == 202
    batch_id = response.json()["public_id"]
    plan = wait_for_job(Job.objects.get(kind=PLAN_JOB_KIND), timeout=60)
    assert plan.status == JobStatus.SUCCEEDED, plan.error
    assert {k: plan.result[k] for k in ("patients", "runs", "queued")} == {
        "patients": 2,
        "runs": 2,
        "queued": 2,
    }
    jobs = list(Job.objects.filter(kind=JOB_KIND))
    assert len(jobs) == 2
    for job in jobs:
        assert wait_for_job(job, timeout=60).status == JobStatus.SUCCEEDED, job.error

    detail = client.get(reverse("api-radiomics-batch-detail", kwargs={"batch_id": batch_id}))
    assert detail.json()["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 2,
        "failed": 0,
        "total": 2,
    }
    rows = client.get(reverse("api-radiomics-batch-csv", kwargs={"batch_id": batch_id}))
    research_ids = {line.split(",")[0] for line in rows.content.decode().splitlines()[1:]}
    assert research_ids == {world.patient.research_id, second.research_id}


def test_progress_published_by_the_worker_is_read_by_the_web_through_the_shared_cache(
    media: None, workers: WorkerPool, world: World, api_member: APIClient, settings: Any
) -> None:
    # Production shares Redis between web and workers (REDIS_URL); here both use the test's
    # Redis database as the cache.
    cache_url = workers.broker_url
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache_url}
    }
    series = store_ct_with_structure_set(world.patient)
    requested = _request_run(api_member, world, series)
    # Hold inserts into the audit trail: the job computes every family, stores the features
    # and then waits on its audit event, inside its transaction, with its progress published.
    with psycopg.connect(_database_url()) as blocker:
        blocker.execute("LOCK TABLE core_auditevent IN SHARE MODE")
        workers.start(extra_env={"CACHE_URL": cache_url})
        job = wait_for_job(_job_of(requested["public_id"]), {JobStatus.RUNNING}, timeout=60)
        run = RadiomicsRun.objects.select_related("job").get(public_id=requested["public_id"])
        deadline = time.monotonic() + 60
        while (progress := run_progress(run)) is None or progress["stage"] != "saving":
            assert time.monotonic() < deadline, progress
            time.sleep(0.1)
        assert progress == {"stage": "saving", "done": 11, "total": 11, "attempt": 1}
        run.refresh_from_db()
        assert run.completed_at is None  # the job's writes are not visible before its commit
        blocker.rollback()

    assert wait_for_job(job, timeout=60).status == JobStatus.SUCCEEDED
    run = RadiomicsRun.objects.select_related("job").get(public_id=requested["public_id"])
    assert run.completed_at is not None
    assert run_progress(run) is None  # finished: no progress shown
