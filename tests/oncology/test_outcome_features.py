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


# -- radiomics and genomics sources -------------------------------------------------------------
def _radiomics_run(patient: Patient, completed: dt.datetime | None, values: dict[str, float]):
    from imaging.models import RadiomicsRun, Series, Study

    uid = f"1.2.{patient.pk}.{RadiomicsRun.objects.count()}"
    study = Study.objects.create(
        patient=patient, institution=patient.institution, study_instance_uid=uid
    )
    series = Series.objects.create(
        study=study,
        series_instance_uid=uid,
        modality="CT",
    )
    return RadiomicsRun.objects.create(
        patient=patient,
        series=series,
        mask_id="m",
        mask_label="GTV",
        input_key=uid,
        completed_at=completed,
        features=[{"feature": k, "ibsi_code": "", "value": v} for k, v in values.items()],
    )


def _report(patient: Patient, collected: dt.date, **fields: object):
    from genomics.models import GenomicReport

    return GenomicReport.objects.create(
        patient=patient,
        assay_name="Panel",
        covered_mb=1.5,
        specimen_type="primary",
        collection_date=collected,
        source_format="vcf",
        source_sha256="0" * 64,
        **fields,
    )


RADIOGENOMIC = [
    {"name": "tumour_size_mm", "source": "radiomics", "kind": "numeric", "missing": "median"},
    {
        "name": "radiomics:morph_volume",
        "source": "radiomics",
        "kind": "numeric",
        "missing": "median",
    },
    {"name": "tmb", "source": "genomics", "kind": "numeric", "missing": "median"},
    {"name": "msi_high", "source": "genomics", "kind": "binary", "missing": "mode"},
    {"name": "genomics:EGFR_mut", "source": "genomics", "kind": "binary", "missing": "mode"},
]


def test_radiomics_and_genomics_features_come_from_the_latest_run_and_report() -> None:
    from django.utils import timezone

    patient = _patient()
    now = timezone.now()
    _radiomics_run(patient, now - dt.timedelta(days=30), {"morph_maximum_3d_diameter": 41.0})
    _radiomics_run(
        patient, now, {"morph_maximum_3d_diameter": 35.5, "morph_volume": 9000.0}
    )  # the latest
    _radiomics_run(patient, None, {"morph_maximum_3d_diameter": 99.0})  # not completed
    _report(patient, dt.date(2020, 1, 1), tmb=3.0, msi_status="MSS", features={"EGFR_mut": 0.0})
    _report(patient, dt.date(2021, 1, 1), tmb=12.5, msi_status="MSI-H", features={"EGFR_mut": 1.0})
    assembled = outcome_features_assemble(patient=patient, feature_spec=RADIOGENOMIC)
    assert assembled.values == {
        "tumour_size_mm": 35.5,
        "radiomics:morph_volume": 9000.0,
        "tmb": 12.5,
        "msi_high": 1.0,
        "genomics:EGFR_mut": 1.0,
    }
    assert assembled.missing == []


def test_absent_radiomics_and_genomics_follow_the_declared_policy() -> None:
    patient = _patient()
    _report(patient, dt.date(2021, 1, 1), features={"EGFR_mut": None})  # not measured
    assembled = outcome_features_assemble(patient=patient, feature_spec=RADIOGENOMIC)
    assert set(assembled.missing) == set(assembled.values)
    assert all(v is None for v in assembled.values.values())
    required = [{**RADIOGENOMIC[0], "missing": "reject"}]
    with pytest.raises(MissingRequiredInputs, match="tumour_size_mm"):
        outcome_features_assemble(patient=patient, feature_spec=required)


def test_a_feature_declared_from_the_wrong_source_is_missing_and_said_so() -> None:
    patient = _patient()
    _report(patient, dt.date(2021, 1, 1), tmb=20.0)
    spec = [{"name": "tmb", "source": "radiomics", "kind": "numeric", "missing": "median"}]
    assembled = outcome_features_assemble(patient=patient, feature_spec=spec)
    assert assembled.values == {"tmb": None}
    assert any("declared a radiomics feature" in w for w in assembled.warnings)
