"""Feature assembly from the clinical record (oncology/services/outcome_features.py)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from oncology.demo.setup import demo_cohort_load
from oncology.models import Comorbidity, Patient, PerformanceStatus
from oncology.outcomes.simulate import STAGES, feature_specs
from oncology.services.outcome_features import (
    MissingRequiredInputs,
    outcome_features_assemble,
)
from tests.factories import DiagnosisFactory, PatientFactory

pytestmark = pytest.mark.django_db

SIMULATED = [s.as_dict() for s in feature_specs()]


def _patient(stage: str = "IB", sex: str = "female", ecog: int | None = 1) -> Patient:
    patient = PatientFactory(sex=sex, birth_date=dt.date(1950, 6, 1))
    DiagnosisFactory(patient=patient, diagnosis_date=dt.date(2020, 5, 31), clinical_stage=stage)
    if ecog is not None:
        PerformanceStatus.objects.create(patient=patient, assessed_on=dt.date(2020, 1, 1), ecog=3)
        PerformanceStatus.objects.create(
            patient=patient, assessed_on=dt.date(2020, 6, 1), ecog=ecog
        )
    return patient


@pytest.mark.parametrize(
    ("group", "stage"),
    [("IA1", "I"), ("IIB", "II"), ("IIIC", "III"), ("IVA", "IV"), ("IV", "IV"), ("III", "III")],
)
def test_a_stage_group_maps_to_its_roman_numeral(group: str, stage: str) -> None:
    values = outcome_features_assemble(patient=_patient(group), feature_spec=SIMULATED).values
    assert values["stage"] == stage


def test_age_is_completed_years_at_diagnosis_and_ecog_the_latest() -> None:
    patient = _patient()
    Comorbidity.objects.create(patient=patient, condition="diabetes_end_organ")  # 2 points
    Comorbidity.objects.create(patient=patient, condition="chronic_pulmonary_disease")  # 1 point
    values = outcome_features_assemble(patient=patient, feature_spec=SIMULATED).values
    # Born 1950-06-01, diagnosed 2020-05-31: one day short of 70.
    assert (values["age"], values["ecog"], values["sex"]) == (69.0, 1.0, "female")
    assert values["comorbidity_index"] == 3.0


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [
        ({"stage": "0"}, "stage"),
        ({"stage": ""}, "stage"),
        ({"sex": "unknown"}, "sex"),
        ({"ecog": None}, "ecog"),
    ],
)
def test_a_missing_required_input_is_refused_by_name(kwargs: dict, missing: str) -> None:
    with pytest.raises(MissingRequiredInputs) as caught:
        outcome_features_assemble(patient=_patient(**kwargs), feature_spec=SIMULATED)
    assert caught.value.names == [missing]


def test_unrecorded_imputable_inputs_become_warnings() -> None:
    assembled = outcome_features_assemble(patient=_patient(), feature_spec=SIMULATED)
    assert assembled.missing == ["tumour_size_mm", "marker_positive", "texture_heterogeneity"]
    assert assembled.warnings[1] == (
        "marker_positive is not in the record; imputed by the model's 'mode' policy."
    )


def test_a_feature_the_record_does_not_hold_is_missing() -> None:
    spec = [{"name": "nodes_positive", "missing": "median"}]
    assembled = outcome_features_assemble(patient=_patient(), feature_spec=spec)
    assert assembled.values == {"nodes_positive": None}


def test_the_demo_cohort_maps_onto_the_simulated_features() -> None:
    demo_cohort_load(n_patients=30, seed=7)
    patients = Patient.objects.filter(is_synthetic=True)
    assert patients.count() == 30
    outcomes: Counter[str] = Counter()
    for patient in patients:
        try:
            values = outcome_features_assemble(patient=patient, feature_spec=SIMULATED).values
        except MissingRequiredInputs as exc:
            outcomes["refused: " + ",".join(exc.names)] += 1
            continue
        assert values["stage"] in STAGES
        assert 0 <= values["ecog"] <= 4
        outcomes["assembled"] += 1
    # Most demo patients carry every required input (a few lack a performance status or have
    # a stage the mapping cannot reduce, e.g. stage 0).
    assert outcomes["assembled"] >= 20, outcomes
