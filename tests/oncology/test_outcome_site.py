"""Training on the site's own records: the cohort built from diagnoses, first-line treatments
and follow-up; research ids only in the snapshot; a clear error when the records are too few."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from oncology.models import (
    Institution,
    PerformanceStatus,
    RadiotherapyCourse,
    Surgery,
    SystemicTherapy,
    VitalStatus,
)
from oncology.services.outcome_models import outcome_model_train
from oncology.services.outcome_site import site_training_cohort
from tests.factories import DiagnosisFactory, InstitutionFactory, PatientFactory

pytestmark = [
    pytest.mark.django_db,
    # 80 made-up patients: lifelines flags near-constant expanded columns (a spline term of a
    # three-valued ECOG) as a convergence risk; the fit converges (penalised). Advisory only.
    pytest.mark.filterwarnings("ignore::lifelines.exceptions.ConvergenceWarning"),
]
DX = dt.date(2018, 1, 10)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _site(n_per_option: int = 40, seed: int = 0) -> Institution:
    """Patients with surgery or radiotherapy (RECIST response recorded) in the first 180 days,
    death for some, last contact for the others; plus patients that must be excluded."""
    rng = np.random.default_rng(seed)
    site = InstitutionFactory(code="site")
    for i in range(2 * n_per_option):
        radiotherapy = i % 2 == 1
        stage = ["IA", "IIB", "IIIA"][i % 3]
        patient = PatientFactory(
            institution=site,
            sex="male" if i % 4 < 2 else "female",
            birth_date=dt.date(1940 + int(rng.integers(0, 30)), 3, 1),
        )
        DiagnosisFactory(patient=patient, diagnosis_date=DX, clinical_stage=stage)
        PerformanceStatus.objects.create(
            patient=patient, assessed_on=DX, ecog=int(rng.integers(0, 3))
        )
        if not radiotherapy:
            Surgery.objects.create(patient=patient, procedure="lobectomy", performed_on=DX)
        else:
            RadiotherapyCourse.objects.create(
                patient=patient,
                target="mediastinum",
                total_dose_gy=50.0,
                fractions=25,
                technique="IMRT",
                start_date=DX + dt.timedelta(days=60),
                best_response="PR" if rng.random() < 0.5 else "SD",
            )
        days = int(rng.integers(100, 2500))
        if rng.random() < 0.5:
            patient.vital_status = VitalStatus.DEAD
            patient.death_date = DX + dt.timedelta(days=days)
        else:
            patient.last_contact_date = DX + dt.timedelta(days=days)
        patient.save()
    # excluded: no treatment in the first 180 days; no follow-up
    late = PatientFactory(institution=site, last_contact_date=dt.date(2022, 1, 1))
    DiagnosisFactory(patient=late, diagnosis_date=DX)
    Surgery.objects.create(patient=late, procedure="x", performed_on=DX + dt.timedelta(days=400))
    lost = PatientFactory(institution=site)
    DiagnosisFactory(patient=lost, diagnosis_date=DX)
    SystemicTherapy.objects.create(
        patient=lost, regimen="carboplatin", category="chemotherapy", start_date=DX
    )
    return site


def test_the_site_cohort_reads_options_follow_up_and_response_from_the_record() -> None:
    _site()
    cohort = site_training_cohort()
    frame = cohort.frame
    assert len(frame) == 80
    assert set(frame["treatment"]) == {"surgery", "radiotherapy"}
    assert cohort.time_unit == "days"
    assert frame["time"].between(100, 2500).all()
    assert set(frame["event"]) == {0, 1}
    # response known only where radiotherapy recorded a RECIST best response
    assert frame.loc[frame["treatment"] == "surgery", "response"].isna().all()
    assert set(frame.loc[frame["treatment"] != "surgery", "response"]) == {0.0, 1.0}
    assert set(frame["stage"]) == {"I", "II", "III"}
    assert frame["research_id"].str.startswith("R-").all()
    assert any("no follow-up" in note for note in cohort.notes)
    assert any("no treatment within 180 days" in note for note in cohort.notes)


def test_the_command_trains_on_the_site_with_research_ids_only_in_the_snapshot() -> None:
    _site()
    out = StringIO()
    call_command(
        "train_outcome_model", "--source", "site", "--kind", "cox", "--name", "site-cox",
        "--splits", "1", "--band-replicates", "0", stdout=out,
    )  # fmt: skip
    from oncology.models import OutcomeModel, Patient

    model = OutcomeModel.objects.get(name="site-cox")
    assert model.training_source == "site"
    assert model.options == ["radiotherapy", "surgery"]
    assert model.training_params["patients"] == 80
    with default_storage.open(model.training_snapshot.name) as handle:
        snapshot = handle.read().decode()
    header = snapshot.splitlines()[0].split(",")
    assert header[:5] == ["research_id", "time", "event", "treatment", "response"]
    for patient in Patient.objects.all()[:10]:
        assert patient.mrn not in snapshot
        assert patient.family_name not in snapshot
    # responses are recorded for radiotherapy only: no comparison of response, so none
    assert model.metrics["response"]["available"] is False
    assert "fewer than two options" in model.metrics["response"]["reason"]


def test_too_few_site_patients_is_a_clear_error() -> None:
    _site(n_per_option=12)
    with pytest.raises(CommandError, match="too few patients to train on: 0 eligible"):
        call_command(
            "train_outcome_model", "--source", "site", "--kind", "cox", "--name", "s",
            "--band-replicates", "0",
        )  # fmt: skip


def test_site_training_needs_no_simulated_names() -> None:
    _site()
    model = outcome_model_train(source="site", kind="cox", name="site", splits=1)
    # no comorbidity is recorded in these records: the constant feature is left out, said so
    assert [f["name"] for f in model.feature_spec] == ["age", "sex", "ecog", "stage"]
    assert any("comorbidity_index left out" in n for n in model.training_params["source_notes"])
    assert any("comorbidity_index left out" in n for n in model.model_card["limits"])
