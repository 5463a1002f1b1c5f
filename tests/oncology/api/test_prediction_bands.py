"""What a prediction shows per option besides survival: the response probability with its
bootstrap interval, whether the model can judge the option for this patient, and the bands
table (survival at 1, 2 and 5 years and every ordered difference between options)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.jobs import job_execute
from core.models import Job
from oncology.models import Comorbidity, OutcomeModel, PerformanceStatus, Prediction
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from tests.conftest import World

pytestmark = pytest.mark.django_db
LABELS = ("1y", "2y", "5y")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def demo_like(world: World) -> World:
    patient = world.patient  # 60 at a stage IB diagnosis (tests/conftest.py)
    PerformanceStatus.objects.create(patient=patient, assessed_on=dt.date(2021, 3, 1), ecog=1)
    Comorbidity.objects.create(patient=patient, condition="diabetes_uncomplicated")
    return world


def _activate(replicates: int) -> OutcomeModel:
    model = outcome_model_train(
        source="simulated",
        kind="cox",
        name="sim-cox",
        patients=2000,
        splits=1,
        band_replicates=replicates,
    )
    outcome_model_set_status(model=model, status="validated")
    return outcome_model_set_status(model=model, status="active")


def _post(world: World, client: APIClient, **body: Any) -> dict[str, Any]:
    url = reverse("api-prediction-list", kwargs={"public_id": world.patient.public_id})
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["output"]


def _check_table(out: dict[str, Any]) -> None:
    bands = out["bands"]
    options = {o["option"]: o for o in out["options"]}
    assert set(bands["survival_at"]) == set(options)
    for name, option in options.items():
        for label in LABELS:
            lo, hi = bands["survival_at"][name][label]
            assert 0 <= lo < hi <= 1
            # the full-cohort estimate sits in (or right next to) the bootstrap interval
            assert lo - 0.03 <= option[f"survival_{label}"] <= hi + 0.03
    rows = bands["survival_difference"]
    assert len(rows) == len(options) * (len(options) - 1)  # every ordered pair
    assert {(r["option"], r["versus"]) for r in rows} == {
        (a, b) for a in options for b in options if a != b
    }
    for row in rows:
        a, b = options[row["option"]], options[row["versus"]]
        for label in LABELS:
            lo, hi = row[label]
            assert lo <= hi
            estimate = a[f"survival_{label}"] - b[f"survival_{label}"]
            assert row["estimate"][label] == pytest.approx(estimate, abs=1e-5)
            assert lo - 0.03 <= estimate <= hi + 0.03
    mirror = {(r["option"], r["versus"]): r for r in rows}
    some = rows[0]
    back = mirror[(some["versus"], some["option"])]
    assert back["5y"] == pytest.approx([-some["5y"][1], -some["5y"][0]], abs=1e-5)


def test_each_option_has_its_response_probability_interval_and_applicability(
    demo_like: World, api_member: APIClient
) -> None:
    _activate(replicates=10)
    out = _post(demo_like, api_member, bands=True)
    assert out["bands"]["source"] == "ensemble"
    for option in out["options"]:
        response = option["response"]
        assert "RECIST" in response["definition"]
        assert 0 <= response["lower"] <= response["upper"] <= 1
        assert response["lower"] - 0.05 <= response["probability"] <= response["upper"] + 0.05
        assert isinstance(option["applicable"], bool)
        assert 0 < option["propensity"] < 1
        assert (option["not_applicable_reason"] == "") == option["applicable"]
    by_name = {o["option"]: o for o in out["options"]}
    # a stage I patient: surgery is the usual choice, chemotherapy alone is not
    assert by_name["surgery"]["applicable"]
    assert (
        by_name["surgery"]["response"]["probability"]
        > (by_name["chemotherapy"]["response"]["probability"])
    )
    _check_table(out)


def test_the_band_job_adds_the_same_table_and_the_response_intervals(
    demo_like: World, api_member: APIClient
) -> None:
    _activate(replicates=0)
    out = _post(demo_like, api_member, bands=True)
    assert out["bands"]["status"] == "queued"
    assert all(o["response"]["lower"] is None for o in out["options"])
    job = Job.objects.get(kind="outcome_prediction_bands")
    job.payload["replicates"] = 10
    job.save()
    assert job_execute(job.pk)[0] == "succeeded"
    stored = Prediction.objects.get().output
    assert stored["bands"]["source"] == "job"
    _check_table(stored)
    for option in stored["options"]:
        assert option["response"]["lower"] <= option["response"]["upper"]


def test_a_model_without_a_response_outcome_says_null(
    demo_like: World, api_member: APIClient, settings: Any
) -> None:
    model = _activate(replicates=0)
    from oncology.services import outcome_models

    artifact = outcome_models.outcome_artifact_load(model)
    artifact.response = None  # as a public cohort without a response outcome trains it
    out = _post(demo_like, api_member)
    assert all(o["response"] is None for o in out["options"])
    assert model.metrics["response"]["available"] is True
