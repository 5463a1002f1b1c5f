"""Batch prediction: the command (as the system) and the job (as a data manager or an
administrator of the institution), idempotent per model version and inputs, audited."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from core.jobs import job_enqueue, job_execute
from core.models import AuditEvent, Job, Role
from oncology.models import OutcomeModel, PerformanceStatus, Prediction
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from tests.conftest import World
from tests.factories import DiagnosisFactory, InstitutionFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def model() -> OutcomeModel:
    trained = outcome_model_train(
        source="simulated", kind="cox", name="sim-cox", patients=2000, splits=1, band_replicates=10
    )
    outcome_model_set_status(model=trained, status="validated")
    return outcome_model_set_status(model=trained, status="active")


@pytest.fixture
def cohort(world: World) -> World:
    """Three patients of the institution: two with ECOG recorded, one without (ECOG is a
    required input of the simulated model: refused), and one patient of another hospital."""
    PerformanceStatus.objects.create(patient=world.patient, assessed_on=dt.date(2021, 3, 1), ecog=1)
    second = PatientFactory(institution=world.institution, teams=[world.team])
    DiagnosisFactory(patient=second, clinical_stage="IIIA")
    PerformanceStatus.objects.create(patient=second, assessed_on=dt.date(2021, 3, 1), ecog=2)
    third = PatientFactory(institution=world.institution, teams=[world.other_team])
    DiagnosisFactory(patient=third)
    foreign = PatientFactory(institution=InstitutionFactory(code="west"))
    DiagnosisFactory(patient=foreign)
    PerformanceStatus.objects.create(patient=foreign, assessed_on=dt.date(2021, 3, 1), ecog=0)
    return world


def _run(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("predict_outcomes", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_command_predicts_once_per_model_version_and_inputs(
    cohort: World, model: OutcomeModel
) -> None:
    first = _run("--model", "sim-cox", "--institution", "north")
    assert (first["patients"], first["created"], first["refused"], first["unchanged"]) == (
        3,
        2,
        1,
        0,
    )
    stored = Prediction.objects.filter(model=model)
    assert stored.count() == 2
    assert all(p.created_by is None for p in stored)
    assert all(p.output["bands"]["source"] == "ensemble" for p in stored)
    assert not Job.objects.filter(kind="outcome_prediction_bands").exists()
    again = _run("--model", "sim-cox", "--institution", "north")
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert stored.count() == 2
    # a changed input makes a new prediction for that patient only
    PerformanceStatus.objects.create(
        patient=cohort.patient, assessed_on=dt.date(2022, 1, 1), ecog=0
    )
    third = _run("--model", "sim-cox", "--institution", "north")
    assert (third["created"], third["unchanged"]) == (1, 1)
    assert Prediction.objects.filter(patient=cohort.patient).count() == 2
    per_prediction = AuditEvent.objects.filter(object_type="outcome_prediction", action="create")
    assert per_prediction.count() == 3
    assert set(per_prediction.values_list("actor_username", flat=True)) == {"system"}
    batches = AuditEvent.objects.filter(object_type="outcome_prediction_batch")
    assert batches.count() == 3
    assert batches.order_by("pk").last().detail["result"]["created"] == 1


def test_a_patients_file_limits_the_batch_and_unknown_ids_are_only_counted(
    cohort: World, model: OutcomeModel, tmp_path: Path
) -> None:
    listing = tmp_path / "patients.txt"
    listing.write_text(
        f"# research ids or public ids\n{cohort.patient.research_id}\nR-UNKNOWN000\n",
        encoding="utf-8",
    )
    result = _run("--model", "sim-cox", "--patients-file", str(listing))
    assert (result["patients"], result["created"], result["not_found"]) == (1, 1, 1)
    assert "R-UNKNOWN000" not in json.dumps(result)
    assert Prediction.objects.get().patient == cohort.patient


def test_without_an_institution_the_system_predicts_for_every_institution(
    cohort: World, model: OutcomeModel
) -> None:
    assert _run("--model", "sim-cox")["created"] == 3  # two of north, one of west


def test_an_unknown_model_or_institution_is_a_clear_error(cohort: World, model: OutcomeModel):
    with pytest.raises(CommandError, match="No active outcome model is named"):
        _run("--model", "nope")
    with pytest.raises(CommandError, match="No institution has the code"):
        _run("--model", "sim-cox", "--institution", "nowhere")


@pytest.mark.parametrize(
    ("role", "home", "allowed"),
    [
        (Role.DATA_MANAGER, "north", True),
        (Role.ADMINISTRATOR, "north", True),
        (Role.ONCOLOGIST, "north", False),
        (Role.DATA_MANAGER, "west", False),
    ],
)
def test_the_batch_job_runs_for_a_data_manager_or_administrator_of_the_institution(
    cohort: World, model: OutcomeModel, role: str, home: str, allowed: bool
) -> None:
    from oncology.models import Institution

    actor = UserFactory(
        username=f"u-{role}-{home}", role=role, institution=Institution.objects.get(code=home)
    )
    job = job_enqueue(
        kind="outcome_predictions_batch",
        payload={"model": "sim-cox", "institution": "north", "patients": None, "bands": False},
        created_by=actor,
        max_attempts=1,
    )
    outcome = job_execute(job.pk)[0]
    job.refresh_from_db()
    if allowed:
        assert outcome == "succeeded"
        assert (job.result["created"], job.result["refused"]) == (2, 1)
        assert all(p.created_by == actor for p in Prediction.objects.all())
        assert all(p.output["bands"] is None for p in Prediction.objects.all())
    else:
        assert outcome == "failed"
        assert "Only a data manager or an administrator of this institution" in job.error
        assert not Prediction.objects.exists()
