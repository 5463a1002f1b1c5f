"""Research exports on a real Celery worker (Redis broker, PostgreSQL, a separate process that
opens the institution's sealed key with the same DEID_KEY_ENCRYPTION_KEY): an export requested
through the API is built by the worker; a worker killed mid-build leaves no registered file and
the reconciler's re-sent job builds it once."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.test import APIClient

from core.jobs import jobs_reconcile
from core.models import AuditEvent, Job, JobStatus
from imaging.models import ResearchExport
from tests.conftest import World
from tests.imaging.test_app_export import Source
from tests.integration.conftest import WorkerPool, _database_url, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

KEK = "integration-key-encryption-key-" + "q" * 40


@pytest.fixture
def media(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Set before a worker starts: it inherits MEDIA_ROOT and the key-encryption key (its own
    # ONCO_VAR_DIR has another generated secret key, so the fallback would not open the seal).
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEID_KEY_ENCRYPTION_KEY = KEK
    monkeypatch.setenv("DEID_KEY_ENCRYPTION_KEY", KEK)


def _request(client: APIClient, source: Source) -> str:
    response = client.post(
        reverse("api-research-export-list"),
        {"series": source.series_ids, "purpose": "Worker test"},
        format="json",
    )
    assert response.status_code == 202, response.content
    return str(response.json()["public_id"])


def _job(public_id: str) -> Job:
    export = ResearchExport.objects.select_related("job").get(public_id=public_id)
    assert export.job is not None
    return export.job


def _stored_files() -> list[str]:
    root = Path(default_storage.path("imaging/exports"))
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _oncologist(world: World) -> APIClient:
    client = APIClient()
    client.force_authenticate(world.oncologist)
    return client


def test_an_export_requested_through_the_api_is_built_by_the_worker(
    media: None, workers: WorkerPool, world: World
) -> None:
    workers.start()
    source = Source(world)
    export_id = _request(_oncologist(world), source)
    job = wait_for_job(_job(export_id), timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    export = ResearchExport.objects.get(public_id=export_id)
    assert (export.summary["exported"], export.summary["quarantined"]) == (5, 1)
    with default_storage.open(export.storage_name, "rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == export.sha256
    for needle in source.phi():
        assert needle not in data
    built = AuditEvent.objects.get(action="export", object_id=export_id)
    assert (built.channel, built.request_id, built.actor) == (
        "job",
        job.public_id.hex,
        world.oncologist,
    )
    assert built.detail == {"count": 5, "result": "built", "format": "zip"}


def test_a_worker_killed_mid_build_leaves_no_file_and_the_reconciler_builds_it_once(
    media: None, workers: WorkerPool, world: World
) -> None:
    source = Source(world)
    export_id = _request(_oncologist(world), source)  # committed; the message waits in Redis
    # Hold the export's row lock from another connection: the handler locks the export first,
    # so the claimed attempt waits inside its transaction (mid-build) until it is killed.
    with psycopg.connect(_database_url()) as blocker:
        blocker.execute(
            "SELECT 1 FROM imaging_researchexport WHERE public_id = %s FOR UPDATE", (export_id,)
        )
        doomed = workers.start(lease_seconds=2)
        job = wait_for_job(_job(export_id), {JobStatus.RUNNING}, timeout=60)
        doomed.kill()  # SIGKILL: PostgreSQL rolls the dead attempt's transaction back
        blocker.rollback()

    export = ResearchExport.objects.get(public_id=export_id)
    assert (export.storage_name, export.completed_at) == ("", None)
    assert not default_storage.exists("imaging/exports")
    workers.start()
    time.sleep(2.5)  # the dead worker's 2 s lease runs out
    assert jobs_reconcile()["requeued"] == 1

    job = wait_for_job(job, timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    export.refresh_from_db()
    assert _stored_files() == [export.storage_name.split("imaging/exports/")[1]]
    with default_storage.open(export.storage_name, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == export.sha256
    assert AuditEvent.objects.filter(action="export", object_id=export_id).count() == 1
