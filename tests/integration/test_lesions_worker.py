"""Lesion models on a real Celery worker (Redis broker, PostgreSQL, a separate process): a
malignancy model queued by `train_lesion_model --job` is trained and stored by the worker; a
false-positive job for a site without reviewed findings fails with its reason
(after the job's retries)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from core.models import Job, JobStatus
from imaging.models import LesionModel
from tests.conftest import World
from tests.integration.conftest import WorkerPool, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # set before a worker starts: it inherits it


def test_training_runs_on_the_worker(media: None, workers: WorkerPool, world: World) -> None:
    workers.start()
    out = io.StringIO()
    call_command(
        "train_lesion_model", "--kind=malignancy", "--name=wis", "--splits=2", "--job", stdout=out
    )
    job = wait_for_job(Job.objects.get(kind="lesion_model_train"), timeout=180)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert str(job.public_id) in out.getvalue()
    model = LesionModel.objects.get(name="wis", version=1)
    assert job.result["artifact_sha256"] == model.artifact_sha256
    assert model.metrics["mean"]["auc"] >= 0.98
    assert model.status == "draft"

    call_command("train_lesion_model", "--kind=nodule_fp", "--institution=north", "--job")
    failed = wait_for_job(Job.objects.filter(kind="lesion_model_train").latest("pk"), timeout=60)
    assert failed.status == JobStatus.FAILED
    assert "0 confirmed and 0 rejected findings" in failed.error
    assert failed.attempts == 3  # retried with back-off to the job's limit, then failed
    assert LesionModel.objects.count() == 1
