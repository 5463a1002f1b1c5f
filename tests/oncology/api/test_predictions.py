"""The prediction API: per-option comparison for one patient, stored, access-checked, audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.test import APIClient

from core.jobs import job_execute
from core.models import AuditEvent, Job
from oncology.models import Comorbidity, OutcomeModel, PerformanceStatus, Prediction
from oncology.outcomes import simulate
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def active_model() -> OutcomeModel:
    # 2,000 simulated patients (seed 0), one validation split: about 3 s.
    model = outcome_model_train(
        source="simulated", kind="cox", name="sim-cox", patients=2000, splits=1
    )
    outcome_model_set_status(model=model, status="validated")
    return outcome_model_set_status(model=model, status="active")


@pytest.fixture
def demo_like(world: World) -> World:
    """The world's patient as the demo cohort records one: 60 at a stage IB diagnosis, ECOG 1,
    one Charlson condition (diabetes without end-organ damage, 1 point)."""
    patient = world.patient
    PerformanceStatus.objects.create(patient=patient, assessed_on=dt.date(2021, 3, 1), ecog=1)
    Comorbidity.objects.create(patient=patient, condition="diabetes_uncomplicated")
    return world


def _url(world: World) -> str:
    return reverse("api-prediction-list", kwargs={"public_id": world.patient.public_id})


def _events(**filters: Any) -> int:
    return AuditEvent.objects.filter(object_type="outcome_prediction", **filters).count()


def test_a_care_team_member_gets_every_option_labelled_associational(
    demo_like: World, api_member: APIClient, active_model: OutcomeModel
) -> None:
    response = api_member.post(_url(demo_like), {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["label"] == "associational"
    assert "not an instruction" in body["label_text"]
    assert (body["model"]["name"], body["model"]["version"]) == ("sim-cox", 1)
    assert body["inputs"] == {
        "age": 60.0,
        "sex": "female",
        "ecog": 1.0,
        "stage": "I",
        "tumour_size_mm": None,
        "comorbidity_index": 1.0,
        "marker_positive": None,
        "texture_heterogeneity": None,
    }
    imputed = {w.split(" ")[0] for w in body["warnings"]}
    assert imputed == {"tumour_size_mm", "marker_positive", "texture_heterogeneity"}
    out = body["output"]
    assert (out["time_unit"], out["horizon"], out["bands"]) == ("months", 60.0, None)
    options = {o["option"]: o for o in out["options"]}
    assert set(options) == set(simulate.OPTIONS)
    for o in options.values():
        assert o["survival"][0] == 1.0
        assert np.all(np.diff(o["survival"]) <= 1e-12)
        assert 1 > o["survival_1y"] > o["survival_2y"] > o["survival_5y"] > 0
        assert 0 < o["rmst"] < 60
    # Against the simulation's known truth for this patient (unrecorded inputs at the training
    # cohort's median / mode, as the encoder imputes them): 5-year survival within 0.1 for
    # every option, and the stage I ordering of the truth (surgery beats radiotherapy alone).
    frame = pd.read_csv(default_storage.path(active_model.training_snapshot.name))
    covariates = pd.DataFrame(
        [
            {
                "age": 60.0,
                "sex": "female",
                "ecog": 1,
                "stage": "I",
                "tumour_size_mm": frame["tumour_size_mm"].median(),
                "comorbidity_index": 1,
                "marker_positive": int(frame["marker_positive"].mode()[0]),
                "texture_heterogeneity": frame["texture_heterogeneity"].median(),
            }
        ]
    )
    for option, estimate in options.items():
        truth = simulate.true_survival(covariates, option, np.array([60.0]))[0, 0]
        assert abs(estimate["survival_5y"] - truth) < 0.1, option
    assert options["surgery"]["rmst"] > options["radiotherapy"]["rmst"]
    stored = Prediction.objects.get()
    assert (stored.label, stored.inputs_sha256) == ("associational", body["inputs_sha256"])
    assert _events(action="create", object_id=str(stored.public_id)) == 1
    # In the applicability domain: no abstention, the check stored with its distance.
    assert (out["abstained"], out["abstain_reason"]) == (False, "")
    assert out["domain"]["inside"] is True
    assert out["domain"]["abstain"] is False
    assert out["domain"]["distance"] < out["domain"]["distance_threshold"]
    # Explanations: exact Cox contributions, base + sum == the log hazard under each option,
    # and the top driver for a stage I patient is her stage, which lowers the risk.
    for o in options.values():
        why = o["explanation"]
        assert why["method"] == "exact linear predictor"  # Cox: beta * (x - mean)
        assert abs(why["base"] + sum(why["contributions"].values()) - why["risk"]) < 1e-9
        assert abs(why["residual"]) < 1e-9
        assert 1 <= len(why["drivers"]) <= 3
        features = {f["name"] for f in active_model.feature_spec}
        assert set(why["contributions"]) == features | {"treatment option"}
        assert why["contributions"]["treatment option"] == 0.0  # same option as the baseline
    assert options["surgery"]["explanation"]["drivers"][0].startswith("stage = I lowers")
    # Five similar TRAINING patients, nearest first, by training research id (never an MRN).
    similar = out["similar_patients"]
    assert len(similar) == 5
    assert [s["distance"] for s in similar] == sorted(s["distance"] for s in similar)
    assert {s["research_id"] for s in similar} <= set(frame["research_id"])
    assert all(s["option"] in options for s in similar)
    assert demo_like.patient.mrn not in str(body)


def test_list_and_detail_are_audited_once_each(
    demo_like: World,
    api_member: APIClient,
    active_model: OutcomeModel,
    django_assert_max_num_queries: Any,
) -> None:
    created = api_member.post(_url(demo_like), {"model": "sim-cox"}, format="json").json()
    with django_assert_max_num_queries(8):
        listed = api_member.get(_url(demo_like))
    assert listed.status_code == 200
    assert [p["public_id"] for p in listed.json()["results"]] == [created["public_id"]]
    assert listed.json()["results"][0]["abstained"] is False
    assert _events(action="list") == 1
    detail_url = reverse(
        "api-prediction-detail",
        kwargs={"public_id": demo_like.patient.public_id, "prediction_id": created["public_id"]},
    )
    detail = api_member.get(detail_url)
    assert detail.status_code == 200
    assert detail.json()["output"] == created["output"]
    assert _events(action="view") == 1


def test_an_outsider_gets_404_and_nothing_is_stored(
    demo_like: World, active_model: OutcomeModel, api_member: APIClient
) -> None:
    created = api_member.post(_url(demo_like), {}, format="json").json()
    outsider = APIClient()
    outsider.force_authenticate(demo_like.outsider)
    assert outsider.post(_url(demo_like), {}, format="json").status_code == 404
    detail_url = reverse(
        "api-prediction-detail",
        kwargs={"public_id": demo_like.patient.public_id, "prediction_id": created["public_id"]},
    )
    assert outsider.get(detail_url).status_code == 404
    assert Prediction.objects.count() == 1


def test_a_hospital_system_of_the_institution_may_predict(
    demo_like: World, active_model: OutcomeModel, api_integration: APIClient
) -> None:
    assert api_integration.post(_url(demo_like), {}, format="json").status_code == 201


def test_a_required_input_missing_from_the_record_is_refused_by_name(
    world: World, api_member: APIClient, active_model: OutcomeModel
) -> None:
    # No performance status recorded: ecog is declared 'reject'.
    response = api_member.post(_url(world), {}, format="json")
    assert response.status_code == 400
    assert "ecog" in str(response.json())
    assert not Prediction.objects.exists()


def test_a_patient_outside_the_applicability_domain_gets_an_abstention_and_no_numbers(
    demo_like: World, api_member: APIClient, active_model: OutcomeModel
) -> None:
    demo_like.patient.birth_date = dt.date(1891, 1, 1)  # 130 at diagnosis; trained on 30-90
    demo_like.patient.save()
    response = api_member.post(_url(demo_like), {"bands": True}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    out = body["output"]
    assert out["abstained"] is True
    assert out["options"] == []
    assert out["similar_patients"] == []
    assert out["bands"] is None
    assert "outside the applicability domain" in out["abstain_reason"]
    assert "age = 130 is above the range of the training patients" in out["abstain_reason"]
    assert out["domain"]["abstain"] is True
    assert any(w.startswith("age = 130 is above the range") for w in body["warnings"])
    stored = Prediction.objects.get()
    assert stored.output["abstained"] is True
    assert stored.output["options"] == []
    assert not Job.objects.filter(kind="outcome_prediction_bands").exists()
    assert _events(action="create", object_id=str(stored.public_id)) == 1
    assert [p["abstained"] for p in api_member.get(_url(demo_like)).json()["results"]] == [True]


def test_an_unusual_combination_of_in_range_values_abstains_by_distance(
    world: World, api_member: APIClient, active_model: OutcomeModel
) -> None:
    # Every value inside the training range, but an 89-year-old at stage IV with ECOG 0 and no
    # comorbidity is far from the simulated cohort (where age, stage, ECOG and comorbidity go
    # together): the Mahalanobis distance, not a range, makes it abstain.
    patient = world.patient
    dx = patient.diagnoses.order_by("diagnosis_date", "pk").first()
    assert dx is not None
    dx.pathological_stage, dx.clinical_stage = "IVA", "IV"
    dx.save()
    patient.birth_date = dx.diagnosis_date.replace(year=dx.diagnosis_date.year - 89)
    patient.save()
    PerformanceStatus.objects.create(patient=patient, assessed_on=dx.diagnosis_date, ecog=0)
    body = api_member.post(_url(world), {}, format="json").json()
    assert (body["inputs"]["age"], body["inputs"]["stage"]) == (89.0, "IV")
    out = body["output"]
    codes = [w["code"] for w in out["domain"]["warnings"]]
    assert "outside_range" not in codes
    assert "distance" in codes
    assert out["domain"]["distance"] > out["domain"]["distance_threshold"]
    assert out["abstained"] is True
    assert out["options"] == []
    assert "far from the training patients" in out["abstain_reason"]


def test_without_an_active_model_nothing_is_predicted(
    demo_like: World, api_member: APIClient
) -> None:
    outcome_model_train(source="simulated", kind="cox", name="draft-only", patients=800, splits=1)
    response = api_member.post(_url(demo_like), {}, format="json")
    assert response.status_code == 400
    assert "No outcome model is active" in str(response.json())


def test_a_tampered_artifact_is_refused_with_a_clear_error(
    demo_like: World, api_member: APIClient, active_model: OutcomeModel
) -> None:
    path = Path(default_storage.path(active_model.artifact.name))
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    response = api_member.post(_url(demo_like), {}, format="json")
    assert response.status_code == 409
    assert "does not match the sha256 recorded at training" in str(response.json())
    assert not Prediction.objects.exists()


def test_bands_on_request_are_computed_by_a_job_and_stored(
    demo_like: World, api_member: APIClient, active_model: OutcomeModel
) -> None:
    response = api_member.post(_url(demo_like), {"bands": True}, format="json")
    assert response.status_code == 201
    assert response.json()["output"]["bands"]["status"] == "queued"
    job = Job.objects.get(kind="outcome_prediction_bands")
    job.payload["replicates"] = 10  # the library's minimum; the default is 100
    job.save()
    assert job_execute(job.pk)[0] == "succeeded"
    prediction = Prediction.objects.get()
    bands = prediction.output["bands"]
    assert (bands["status"], bands["replicates"], bands["level"]) == ("done", 10, 0.95)
    options = {o["option"]: o for o in prediction.output["options"]}
    assert set(bands["lower"]) == set(options)
    for option, estimate in options.items():
        lower, upper = np.array(bands["lower"][option]), np.array(bands["upper"][option])
        assert len(lower) == len(estimate["times"])
        assert np.all(lower <= upper + 1e-12)
        assert upper[-1] - lower[-1] > 0.005  # a refit per replicate: the bands have width
        lo, hi = bands["rmst"][option]
        # The point estimate from the full cohort sits near the bootstrap interval.
        assert lo - 3 <= estimate["rmst"] <= hi + 3
    assert len(bands["rmst_difference"]) == 15  # 6 options, every pair once
    assert _events(action="update", object_id=str(prediction.public_id)) == 1


def test_bands_come_inline_from_the_stored_ensemble_without_a_job(
    demo_like: World, api_member: APIClient
) -> None:
    model = outcome_model_train(
        source="simulated", kind="cox", name="sim-ens", patients=2000, splits=1, band_replicates=10
    )
    outcome_model_set_status(model=model, status="validated")
    outcome_model_set_status(model=model, status="active")
    response = api_member.post(_url(demo_like), {"bands": True}, format="json")
    assert response.status_code == 201, response.content
    out = response.json()["output"]
    bands = out["bands"]
    assert (bands["status"], bands["source"], bands["replicates"]) == ("done", "ensemble", 10)
    assert not Job.objects.filter(kind="outcome_prediction_bands").exists()
    for option in out["options"]:
        lower = np.array(bands["lower"][option["option"]])
        upper = np.array(bands["upper"][option["option"]])
        assert len(lower) == len(option["times"])
        assert np.all(lower <= upper + 1e-12)
        assert upper[-1] - lower[-1] > 0.005
        lo, hi = bands["rmst"][option["option"]]
        assert lo - 3 <= option["rmst"] <= hi + 3
    assert len(bands["rmst_difference"]) == 15


def test_a_band_job_that_failed_for_good_shows_failed_with_its_error(
    demo_like: World, api_member: APIClient, active_model: OutcomeModel
) -> None:
    created = api_member.post(_url(demo_like), {"bands": True}, format="json").json()
    assert created["output"]["bands"]["status"] == "queued"
    path = Path(default_storage.path(active_model.artifact.name))
    path.write_bytes(path.read_bytes()[:-1] + b"X")  # the job's artifact load now fails
    job = Job.objects.get(kind="outcome_prediction_bands")
    outcomes = [job_execute(job.pk)[0] for _ in range(job.max_attempts)]
    assert outcomes[-1] == "failed"
    detail_url = reverse(
        "api-prediction-detail",
        kwargs={"public_id": demo_like.patient.public_id, "prediction_id": created["public_id"]},
    )
    bands = api_member.get(detail_url).json()["output"]["bands"]
    assert bands["status"] == "failed"
    assert "does not match the sha256 recorded at training" in bands["error"]
    assert bands["job"] == str(job.public_id)


def test_the_registry_lists_models_and_shows_one_with_its_card(
    world: World,
    api_member: APIClient,
    active_model: OutcomeModel,
    django_assert_max_num_queries: Any,
) -> None:
    with django_assert_max_num_queries(4):
        listed = api_member.get(reverse("api-outcome-model-list"))
    assert [(m["name"], m["version"], m["status"]) for m in listed.json()["results"]] == [
        ("sim-cox", 1, "active")
    ]
    detail = api_member.get(
        reverse("api-outcome-model-detail", kwargs={"model_id": active_model.public_id})
    ).json()
    assert detail["artifact_sha256"] == active_model.artifact_sha256
    assert detail["metrics"]["mean"]["harrell_c"] == active_model.metrics["mean"]["harrell_c"]
    assert "associational" in detail["model_card"]["intended_use"]
    missing = api_member.get(
        reverse("api-outcome-model-detail", kwargs={"model_id": world.patient.public_id})
    )
    assert missing.status_code == 404
