"""The lesion-model registry pages: the list, a version's page (card, metrics with intervals,
calibration figure and table, inputs, provenance) and the status change (oncologists and data
managers only, transitions enforced, audited)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent
from imaging.models import LesionModel
from imaging.services import lesion_models as svc
from tests.conftest import World


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _fp_row(status: str = "draft") -> LesionModel:
    return LesionModel.objects.create(
        name="nodule-fp-north",
        version=1,
        kind="nodule_fp",
        algorithm="torch-cnn3d",
        training_source="site-findings",
        training_data_sha256="a" * 64,
        artifact_sha256="b" * 64,
        status=status,
        feature_spec=[
            {
                "name": "patch",
                "kind": "image",
                "size": 32,
                "spacing_mm": 1.0,
                "hu_low": -1000.0,
                "hu_high": 400.0,
            }
        ],
        metrics={
            "validation": {
                "protocol": "one stratified 80/20 split (seed 0)",
                "auc": 0.9731,
                "brier": 0.061,
                "sensitivity": 0.9,
                "specificity": 0.93,
                "threshold": 0.5,
            }
        },
        model_card={"intended_use": "Ranking of lung-nodule candidates", "limits": ["one site"]},
    )


def test_list_and_default_model_page(world: World) -> None:
    model = svc.default_malignancy_model()
    _fp_row()
    client = _client(world.outsider)
    page = client.get(reverse("lesion_models:list")).content.decode()
    assert "2 models, 2 versions" in page
    assert 'data-model="wisconsin-malignancy"' in page
    assert f"{model.metrics['mean']['auc']:.3f}" in page
    assert "0.973" in page  # the fp model's held-out AUC
    assert "Lesion models</a>" in page  # the nav link
    detail = client.get(reverse("lesion_models:detail", args=[model.name, 1])).content.decode()
    assert "NOT a lung-nodule or CT model" in detail
    assert "Street WN" in detail
    low, high = model.metrics["interval"]["auc"]
    assert f"{low:.3f} to {high:.3f}" in detail
    assert model.artifact_sha256 in detail
    # the calibration figure: plotly JSON of the stored bins, and the same numbers as a table
    figure = json.loads(
        re.search(r'id="lesion-calibration-figure"[^>]*>(.*?)</script>', detail, re.S).group(1)
    )
    points = figure["data"][1]
    assert points["x"] == [b["mean_predicted"] for b in model.calibration]
    assert points["y"] == [b["observed"] for b in model.calibration]
    assert detail.count('<tr><th scope="row">0.') >= 2
    assert "mean_radius" in detail


def test_fp_model_page(world: World) -> None:
    _fp_row()
    page = _client(world.member).get(reverse("lesion_models:detail", args=["nodule-fp-north", 1]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "0.973" in text
    assert "one stratified 80/20 split" in text
    assert "32³ voxels at 1.0 mm" in text
    assert "No calibration bins stored" in text


def test_unknown_version_is_404(world: World) -> None:
    assert (
        _client(world.member).get(reverse("lesion_models:detail", args=["nothing", 3])).status_code
        == 404
    )


def test_oncologist_activates_member_may_not(world: World) -> None:
    model = _fp_row(status="validated")
    url = reverse("lesion_models:status", args=[model.name, 1])
    assert _client(world.member).post(url, {"status": "active"}).status_code == 403
    model.refresh_from_db()
    assert model.status == "validated"
    client = _client(world.oncologist)
    response = client.post(url, {"status": "active"}, follow=True)
    assert "nodule-fp-north v1 is now active" in response.content.decode()
    model.refresh_from_db()
    assert model.status == "active"
    assert AuditEvent.objects.filter(
        object_type="lesion_model", object_id=str(model.public_id), actor=world.oncologist
    ).exists()
    # active -> validated is not a transition: refused with the allowed moves
    response = client.post(url, {"status": "validated"}, follow=True)
    assert "allowed: retired" in response.content.decode()
    model.refresh_from_db()
    assert model.status == "active"
