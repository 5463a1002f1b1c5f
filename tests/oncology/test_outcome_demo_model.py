"""The demo model: trained on the simulated cohort, activated once, and demo patients get
predictions with inline bands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from oncology.demo.model import DEMO_BAND_REPLICATES, DEMO_MODEL_NAME, demo_model_train
from oncology.models import OutcomeModel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def test_the_demo_model_is_trained_activated_once_with_an_ensemble() -> None:
    started = time.perf_counter()
    model, trained = demo_model_train()
    print(f"demo model trained in {time.perf_counter() - started:.1f} s")
    assert trained
    assert (model.name, model.status) == (DEMO_MODEL_NAME, "active")
    assert model.training_params["band_replicates"] == DEMO_BAND_REPLICATES
    assert model.metrics["response"]["available"]
    assert any("SIMULATED" in limit for limit in model.model_card["limits"])
    again, trained_again = demo_model_train()
    assert (again.pk, trained_again) == (model.pk, False)
    assert OutcomeModel.objects.count() == 1


def test_demo_setup_trains_the_model_once_and_demo_patients_get_bands(tmp_path: Path) -> None:
    from io import StringIO

    from django.core.management import call_command

    from oncology.services.outcome_batch import predictions_batch

    out = StringIO()
    started = time.perf_counter()
    call_command("demo_setup", "--patients", "20", stdout=out)
    print(f"demo_setup --patients 20 with the model: {time.perf_counter() - started:.1f} s")
    assert "Trained and activated the demo outcome model" in out.getvalue()
    out = StringIO()
    call_command("demo_setup", "--patients", "20", stdout=out)
    assert "already active" in out.getvalue()
    assert OutcomeModel.objects.count() == 1
    from oncology.models import Prediction

    before = set(Prediction.objects.values_list("pk", flat=True))  # past + board-case ones
    started = time.perf_counter()
    result = predictions_batch(model_name=DEMO_MODEL_NAME, institution_code="DEMO")
    elapsed = time.perf_counter() - started
    print(f"{result['patients']} demo predictions with bands: {1000 * elapsed / 20:.0f} ms each")
    assert result["patients"] == 20
    # demo_setup also stored backdated synthetic predictions (the closed-loop demo): a patient
    # whose inputs have not changed since diagnosis is "unchanged" for the batch.
    assert result["created"] + result["unchanged"] + result["refused"] == 20
    assert result["created"] + result["unchanged"] - result["abstained"] >= 10
    batch = Prediction.objects.exclude(pk__in=before)
    assert batch.count() == result["created"]
    shown = [p.output for p in batch if not p.output["abstained"]]
    for output in shown:
        assert output["bands"]["source"] == "ensemble"
        assert set(output["bands"]["survival_at"]) == {o["option"] for o in output["options"]}
        assert all(o["response"] is not None for o in output["options"])
