"""The outcome-model registry: training by command and job, status rules, artifact integrity."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from core.jobs import job_enqueue, job_execute
from oncology.models import OutcomeModel
from oncology.outcomes.simulate import feature_specs
from oncology.services.outcome_models import (
    ArtifactIntegrityError,
    OutcomeModelError,
    outcome_artifact_load,
    outcome_model_load,
    outcome_model_set_status,
    outcome_model_train,
)

pytestmark = pytest.mark.django_db

# 800 simulated patients: the smallest seed-0 cohort whose every option has >= 30 patients.
TINY = {"patients": 800, "splits": 1, "seed": 0}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return bytes(handle.read())


def _train(name: str = "sim-cox", kind: str = "cox") -> OutcomeModel:
    return outcome_model_train(source="simulated", kind=kind, name=name, **TINY)


def test_the_command_trains_a_draft_with_artifact_snapshot_metrics_and_card() -> None:
    out = io.StringIO()
    call_command(
        "train_outcome_model",
        "--source=simulated",
        "--kind=cox",
        "--name=sim-cox",
        "--patients=800",
        "--splits=1",
        "--band-replicates=10",
        stdout=out,
    )
    assert '"version": 1' in out.getvalue()
    model = OutcomeModel.objects.get(name="sim-cox")
    assert (model.version, model.status, model.kind, model.time_unit) == (
        1,
        "draft",
        "cox",
        "months",
    )
    assert [f["name"] for f in model.feature_spec] == [s.name for s in feature_specs()]
    assert len(model.options) == 6
    artifact = _read(model.artifact.name)
    assert hashlib.sha256(artifact).hexdigest() == model.artifact_sha256
    snapshot = _read(model.training_snapshot.name)
    assert hashlib.sha256(snapshot).hexdigest() == model.training_data_sha256
    frame = pd.read_csv(io.BytesIO(snapshot))
    assert len(frame) == 800
    assert frame["research_id"].iloc[0] == "SIM-000001"
    assert not {"mrn", "given_name", "family_name", "name"} & set(frame.columns)
    # The simulated prognostic signal is strong: C well above chance, not perfect.
    assert 0.62 < model.metrics["mean"]["harrell_c"] < 0.85
    assert model.metrics["horizon"] == 60.0
    assert 0 < model.metrics["mean"]["integrated_brier"] < 0.25
    # One split: its stored values are the mean the page shows beside them.
    (split,) = model.metrics["splits"]
    assert split["harrell_c"] == model.metrics["mean"]["harrell_c"]
    assert len(model.calibration) == 1
    point = model.calibration[0]
    assert abs(point["mean_predicted_survival"] - point["kaplan_meier_survival"]) < 0.1
    card = model.model_card
    assert set(card) >= {"intended_use", "cohort", "performance", "limits"}
    assert card["cohort"]["patients"] == 800
    assert any("SIMULATED" in limit for limit in card["limits"])
    assert model.training_params["band_replicates"] == 10
    stored = outcome_artifact_load(model)
    assert stored.format == 3
    assert stored.domain is not None
    assert stored.response is not None
    assert stored.response_ensemble is not None
    assert stored.support is not None
    assert set(stored.support.thresholds_) == set(model.options)
    assert model.metrics["response"]["available"]
    assert 0.6 < model.metrics["response"]["validation"]["auc"] < 0.95
    assert "response" in frame.columns  # the simulated outcome rides along in the snapshot
    assert stored.ensemble is not None
    assert len(stored.ensemble.members_) == 10
    assert stored.domain.threshold_ == model.training_params["domain"]["distance_threshold"]
    assert any("bootstrap ensemble of 10" in limit for limit in card["limits"])
    assert _train().version == 2


def test_the_command_refuses_a_band_replicate_count_below_the_library_minimum() -> None:
    with pytest.raises(CommandError, match="--band-replicates must be 0 or between 10"):
        call_command(
            "train_outcome_model",
            "--source=simulated",
            "--kind=cox",
            "--name=x",
            "--band-replicates=5",
        )
    with pytest.raises(OutcomeModelError, match="Band replicates are 0"):
        outcome_model_train(source="simulated", kind="cox", name="x", band_replicates=5, **TINY)
    assert not OutcomeModel.objects.exists()


def test_a_training_job_stores_a_version() -> None:
    job = job_enqueue(
        kind="outcome_model_train",
        payload={"source": "simulated", "kind": "cox", "name": "by-job", **TINY},
    )
    outcome, _ = job_execute(job.pk)
    job.refresh_from_db()
    assert (outcome, job.status) == ("succeeded", "succeeded")
    assert job.result["version"] == 1
    assert OutcomeModel.objects.get(name="by-job").status == "draft"


def test_a_training_job_with_an_unknown_source_fails_with_a_clear_error() -> None:
    job = job_enqueue(
        kind="outcome_model_train",
        payload={"source": "nowhere", "kind": "cox", "name": "x", **TINY},
        max_attempts=1,
    )
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "Unknown training source 'nowhere'" in job.error
    assert not OutcomeModel.objects.exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [("site", "too few patients to train on"), ("nowhere", "Unknown training source")],
)
def test_the_command_refuses_an_unusable_source(source: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("train_outcome_model", f"--source={source}", "--kind=cox", "--name=x")
    assert not OutcomeModel.objects.exists()


def test_status_transitions_follow_the_rules_and_one_version_is_active() -> None:
    first, second = _train(), _train()
    with pytest.raises(CommandError, match="draft: it cannot become active"):
        call_command("outcome_model_status", "sim-cox", "1", "active")
    call_command("outcome_model_status", "sim-cox", "1", "validated")
    call_command("outcome_model_status", "sim-cox", "1", "active")
    first.refresh_from_db()
    assert first.status == "active"
    outcome_model_set_status(model=second, status="validated")
    outcome_model_set_status(model=second, status="active")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    with pytest.raises(CommandError, match="retired: it cannot become active"):
        call_command("outcome_model_status", "sim-cox", "1", "active")
    with pytest.raises(CommandError, match="No outcome model sim-cox v9"):
        call_command("outcome_model_status", "sim-cox", "9", "retired")


def test_a_tampered_artifact_is_refused_before_loading() -> None:
    model = _train()
    comparison = outcome_model_load(model)
    assert comparison.options_ == model.options
    path = Path(default_storage.path(model.artifact.name))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ArtifactIntegrityError, match="does not match the sha256"):
        outcome_model_load(model)


def test_an_xgboost_model_trains_stores_and_loads() -> None:
    model = _train(name="sim-xgb", kind="xgb")
    assert (model.kind, model.status) == ("xgb", "draft")
    assert 0.6 < model.metrics["mean"]["harrell_c"] < 0.85
    assert outcome_model_load(model).model_kind == "xgb"


def test_a_public_cohort_trains_with_options_named_by_column() -> None:
    from oncology.outcomes import cohorts

    try:
        cohorts.load("gbsg2")
    except cohorts.CohortUnavailable:
        pytest.skip("SurvSet (a GPL test dependency) is not installed")
    model = outcome_model_train(source="gbsg2", kind="cox", name="gbsg2-cox", splits=1)
    assert model.options == ["hormone_therapy=0", "hormone_therapy=1"]
    assert (model.time_unit, model.metrics["horizon"]) == ("days", 5 * 365.25)
    # GBSG2's untuned Cox baseline is C 0.679 (issue 6); one split lands near it.
    assert 0.62 < model.metrics["mean"]["harrell_c"] < 0.76
    assert model.model_card["cohort"]["citation"]
    assert not any("SIMULATED" in limit for limit in model.model_card["limits"])
