"""Public-cohort feature names mapped from what the record truly holds, and a Rotterdam model
predicting for a record patient with them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from oncology.models import Biomarker, LabResult, Patient
from oncology.services.outcome_features import EXTRACTORS
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from oncology.services.outcome_predictions import prediction_create
from tests.conftest import World
from tests.factories import DiagnosisFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _breast(patient: Patient | None = None, **dx: Any) -> Patient:
    patient = patient or PatientFactory(birth_date=dt.date(1960, 1, 1))
    fields = {
        "primary_site": "C50.4",
        "morphology": "8500/3",
        "diagnosis_date": dt.date(2021, 3, 2),
        "grade": "G3",
        "pathological_t": "pT2",
        "pathological_n": "pN0",
        "clinical_stage": "IIA",
        **dx,
    }
    DiagnosisFactory(patient=patient, **fields)
    Biomarker.objects.create(
        patient=patient, name="ER", result="negative", test_date=dt.date(2020, 1, 1)
    )
    Biomarker.objects.create(
        patient=patient, name="ER", result="positive", value=80, test_date=dt.date(2021, 3, 5)
    )
    LabResult.objects.create(
        patient=patient, code="718-7", value=12.5, unit="g/dL", collected_on=dt.date(2021, 3, 1)
    )
    return patient


def _values(patient: Patient) -> dict[str, Any]:
    names = ["grade", "er_positive", "positive_nodes", "tumour_size", "clinical_stage"]
    return {name: EXTRACTORS[name](patient) for name in [*names, "haemoglobin_g_l"]}


def test_the_record_fills_the_public_cohort_names_it_truly_holds() -> None:
    assert _values(_breast()) == {
        "grade": "III",
        "er_positive": 1.0,  # the latest ER result
        "positive_nodes": 0.0,
        "tumour_size": "20-50",
        "clinical_stage": "II",
        "haemoglobin_g_l": 125.0,
    }


@pytest.mark.parametrize(
    ("dx", "expected"),
    [
        ({"pathological_n": "pN1a", "pathological_t": "pT1c"}, (None, "<=20")),
        ({"pathological_n": "ypN0", "pathological_t": "T3"}, (0.0, ">50")),
        ({"pathological_n": "", "pathological_t": "pT4b"}, (None, None)),
        ({"pathological_t": "pT2", "primary_site": "C34.1"}, (0.0, None)),  # not a breast
    ],
)
def test_node_count_and_size_band_only_where_the_category_determines_them(
    dx: dict[str, str], expected: tuple[Any, Any]
) -> None:
    values = _values(_breast(**dx))
    assert (values["positive_nodes"], values["tumour_size"]) == expected


def test_grade_four_or_unassessed_is_missing() -> None:
    assert _values(_breast(grade="GX"))["grade"] is None
    assert _values(_breast(grade="G4"))["grade"] is None


def test_a_rotterdam_model_predicts_for_a_record_patient(world: World, api_member: Any) -> None:
    model = outcome_model_train(source="rotterdam", kind="cox", name="rotterdam", splits=1)
    grade_levels = {"II", "III"}
    assert any(f["name"] == "grade" for f in model.feature_spec)
    outcome_model_set_status(model=model, status="validated")
    outcome_model_set_status(model=model, status="active")
    patient = world.patient
    patient.diagnoses.all().delete()
    _breast(patient)
    prediction = prediction_create(user=world.member, patient_public_id=patient.public_id)
    inputs = prediction.inputs
    assert inputs["grade"] in grade_levels
    assert (inputs["tumour_size"], inputs["positive_nodes"], inputs["age"]) == ("20-50", 0.0, 60.0)
    missing = {name for name, value in inputs.items() if value is None}
    assert missing == {"year", "menopause", "progesterone_fmol", "oestrogen_fmol"}
    assert not prediction.output["abstained"], prediction.output["abstain_reason"]
    # hormone + chemotherapy together: too few Rotterdam patients, left out and said so
    assert len(prediction.output["options"]) == 3
    assert any("hormone_therapy=1+chemotherapy=1" in n for n in model.model_card["limits"])
