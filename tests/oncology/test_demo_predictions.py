"""Synthetic past predictions for the demo cohort (oncology/demo/predictions.py): backdated to
each synthetic patient's diagnosis, marked synthetic, audited, idempotent, and enough of them
with follow-up that the closed loop on the model's page shows numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, Role
from oncology.demo.predictions import BACKDATED_WARNING, demo_past_predictions_create
from oncology.demo.setup import demo_cohort_load, demo_institution_ensure
from oncology.models import OutcomeModel, Prediction
from oncology.outcomes.closed_loop import calibrate_past_predictions
from oncology.selectors_outcomes import outcome_model_closed_loop_rows
from oncology.services.outcome_models import outcome_model_train
from tests.factories import DiagnosisFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def model() -> OutcomeModel:
    return outcome_model_train(
        source="simulated", kind="cox", name="demo-sim", patients=800, splits=1, seed=0
    )


def test_the_demo_cohort_gets_backdated_synthetic_predictions_with_a_closed_loop(
    model: OutcomeModel,
) -> None:
    demo_cohort_load()
    institution, _ = demo_institution_ensure()
    real = PatientFactory(institution=institution)  # not synthetic: left alone
    DiagnosisFactory(patient=real)
    summary = demo_past_predictions_create(model=model, institution=institution)
    predictions = Prediction.objects.filter(model=model).select_related("patient")
    assert summary.created == predictions.count() >= 300
    assert not predictions.filter(patient=real).exists()
    for p in predictions:
        first = p.patient.diagnoses.order_by("diagnosis_date", "pk").first()
        assert p.patient.is_synthetic
        assert timezone.localdate(p.created_at) == first.diagnosis_date
        assert p.output["synthetic"]["as_of"] == first.diagnosis_date.isoformat()
        assert p.warnings[0] == BACKDATED_WARNING
    assert (
        AuditEvent.objects.filter(object_type="outcome_prediction", action="create").count()
        == summary.created
    )
    again = demo_past_predictions_create(model=model, institution=institution)
    assert (again.created, again.existing) == (0, summary.created)

    oncologist = UserFactory(role=Role.ONCOLOGIST, institution=institution)
    gathered = outcome_model_closed_loop_rows(user=oncologist, model=model)
    assert gathered is not None
    # Measured (400 patients, seed 20250630; model of 800 simulated patients, seed 0): 372
    # predictions with an estimate, 265 with a treatment that is one of the model's options,
    # five groups of 53 with an estimate at 1, 2 and 5 years.
    assert gathered.patients == gathered.predictions == summary.created - summary.abstained
    assert len(gathered.rows) == gathered.recorded >= 200
    horizons = calibrate_past_predictions(gathered.rows)
    assert [h.status for h in horizons] == ["ok", "ok", "ok"]
    assert all(len(h.groups) == 5 for h in horizons)

    client = Client()
    client.force_login(oncologist)
    html = client.get(
        reverse("outcome_models:detail", kwargs={"name": model.name, "version": 1})
    ).content.decode()
    assert 'data-horizon="1.0"' in html
    assert 'id="closed-loop-figure"' in html
