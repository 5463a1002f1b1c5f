"""Outcome models on a real Celery worker (Redis broker, PostgreSQL, a separate process):
a model trained by `train_outcome_model --job` is stored by the worker, and bands requested
through the prediction API are computed by the worker and stored on the prediction."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditEvent, Job, JobStatus
from oncology.models import OutcomeModel, PerformanceStatus, Prediction
from oncology.services import outcome_predictions
from oncology.services.outcome_models import outcome_model_set_status
from tests.conftest import World
from tests.integration.conftest import WorkerPool, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # set before a worker starts: it inherits it


def test_training_and_bands_run_on_the_worker(
    media: None, workers: WorkerPool, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers.start()
    out = io.StringIO()
    call_command(
        "train_outcome_model",
        "--source=simulated",
        "--kind=cox",
        "--name=sim-cox",
        "--patients=800",
        "--splits=1",
        # No stored bootstrap refits, so bands take the job path this test is about.
        "--band-replicates=0",
        "--job",
        stdout=out,
    )
    job = wait_for_job(Job.objects.get(kind="outcome_model_train"), timeout=120)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert str(job.public_id) in out.getvalue()
    model = OutcomeModel.objects.get(name="sim-cox", version=1)
    assert job.result["artifact_sha256"] == model.artifact_sha256
    outcome_model_set_status(model=model, status="validated")
    outcome_model_set_status(model=model, status="active")

    PerformanceStatus.objects.create(patient=world.patient, assessed_on=dt.date(2021, 3, 1), ecog=0)
    monkeypatch.setattr(outcome_predictions, "BAND_REPLICATES", 10)
    client = APIClient()
    client.force_authenticate(world.member)
    url = reverse("api-prediction-list", kwargs={"public_id": world.patient.public_id})
    response = client.post(url, {"bands": True}, format="json")
    assert response.status_code == 201, response.content
    bands_job = wait_for_job(Job.objects.get(kind="outcome_prediction_bands"), timeout=120)
    assert bands_job.status == JobStatus.SUCCEEDED, bands_job.error
    prediction = Prediction.objects.get(public_id=response.json()["public_id"])
    bands = prediction.output["bands"]
    assert (bands["status"], bands["replicates"]) == ("done", 10)
    assert set(bands["lower"]) == set(model.options)
    stored = AuditEvent.objects.get(action="update", object_id=str(prediction.public_id))
    assert (stored.channel, stored.actor) == ("job", world.member)
    assert set(bands["survival_at"]) == set(model.options)
    assert len(bands["survival_difference"]) == len(model.options) * (len(model.options) - 1)

    # A batch prediction as the system, queued by the command, run by the worker.
    out = io.StringIO()
    call_command("predict_outcomes", "--model=sim-cox", "--institution=north", "--job", stdout=out)
    batch = wait_for_job(Job.objects.get(kind="outcome_predictions_batch"), timeout=120)
    assert batch.status == JobStatus.SUCCEEDED, batch.error
    assert str(batch.public_id) in out.getvalue()
    # the API's prediction above has the same model version and inputs: no duplicate
    assert (batch.result["patients"], batch.result["unchanged"], batch.result["created"]) == (
        1,
        1,
        0,
    )
    assert Prediction.objects.filter(patient=world.patient).count() == 1
