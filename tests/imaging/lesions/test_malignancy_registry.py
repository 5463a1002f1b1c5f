"""The malignancy model in the registry: the shipped default (Wisconsin, logistic) trained,
validated and activated deterministically; predictions stored with the model version and the
inputs' hash, audited, refused for a model that is not active or for incomplete inputs; the
default never applied to CT findings; the training command and its refusals."""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from core.models import AuditEvent, Job
from imaging.lesions import table
from imaging.models import Finding, LesionModel, LesionPrediction, ScreeningRun, Series, Study
from imaging.services import lesion_models as svc
from tests.conftest import World


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def default(world: World) -> LesionModel:
    return svc.default_malignancy_model(actor=world.oncologist)


def test_default_model_is_active_and_honest(default: LesionModel) -> None:
    assert (default.name, default.version, default.status) == ("wisconsin-malignancy", 1, "active")
    assert default.kind == "malignancy"
    assert default.algorithm == "logistic"
    assert default.institution is None
    assert default.metrics["mean"]["auc"] >= 0.98
    assert len(default.metrics["splits"]) == 5
    assert default.calibration
    assert sum(row["n"] for row in default.calibration) == 5 * 113
    card = default.model_card
    assert "NOT a lung-nodule or CT model" in " ".join(card["limits"])
    assert card["cohort"]["lesions"] == 569
    assert card["cohort"]["malignant"] == 212
    assert "Street WN" in card["cohort"]["citation"]
    assert len(default.feature_spec) == 30
    # asked again: the same row, nothing retrained
    assert svc.default_malignancy_model() == default
    assert LesionModel.objects.count() == 1


def test_training_is_deterministic(default: LesionModel) -> None:
    again = svc.malignancy_model_train(name="wisconsin-malignancy")
    assert again.version == 2
    assert again.training_data_sha256 == default.training_data_sha256
    assert again.metrics["mean"] == default.metrics["mean"]
    assert again.artifact_sha256 == default.artifact_sha256


def test_prediction_stores_version_and_inputs_hash(world: World, default: LesionModel) -> None:
    wis = table.wisconsin()
    row = wis.features[wis.labels == 1].iloc[3].to_dict()
    prediction = svc.predict_malignancy(
        model=default, patient=world.patient, features=row, actor=world.oncologist
    )
    prediction.refresh_from_db()
    inputs = {k: float(v) for k, v in row.items()}
    expected_hash = hashlib.sha256(
        json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert prediction.inputs_sha256 == expected_hash
    assert prediction.model == default
    assert prediction.output["model"] == "wisconsin-malignancy v1"
    assert prediction.output["artifact_sha256"] == default.artifact_sha256
    assert prediction.probability > 0.5
    assert prediction.output["call"] == "malignant"
    low, high = prediction.output["interval"]
    assert low <= high
    assert len(prediction.output["drivers"]) == 5
    event = AuditEvent.objects.get(object_type="lesion_prediction")
    assert event.patient_id == world.patient.pk
    assert event.object_id == str(prediction.public_id)


def test_predictions_refused_store_nothing(world: World, default: LesionModel) -> None:
    wis = table.wisconsin()
    row = wis.features.iloc[0].to_dict()
    del row["worst_area"]
    with pytest.raises(svc.LesionModelError, match="missing: worst_area"):
        svc.predict_malignancy(model=default, patient=world.patient, features=row, actor=None)
    draft = svc.malignancy_model_train(name="other", splits=1, bootstrap=10, replicates=0)
    with pytest.raises(svc.LesionModelError, match="only an active model predicts"):
        svc.predict_malignancy(
            model=draft, patient=world.patient, features=wis.features.iloc[0].to_dict(), actor=None
        )
    assert not LesionPrediction.objects.exists()


def test_changed_artifact_is_refused(world: World, default: LesionModel) -> None:
    from django.core.files.storage import default_storage

    path = Path(default_storage.path(default.artifact.name))
    path.write_bytes(path.read_bytes()[:-3])
    svc._CLASSIFIERS.clear()
    with pytest.raises(svc.ArtifactIntegrityError, match="does not match the sha256"):
        svc.malignancy_load(default)


def _site_csv(path: Path) -> Path:
    rng = np.random.default_rng(1)
    n = 40
    frame = pd.DataFrame(
        {
            "outcome": ["malignant"] * n + ["benign"] * n,
            "diameter_mm": np.r_[rng.normal(18, 4, n), rng.normal(7, 2, n)],
            "mean_hu": rng.normal(20, 15, 2 * n),
            "sphericity": np.r_[rng.normal(0.6, 0.1, n), rng.normal(0.85, 0.05, n)],
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_command_trains_from_a_site_csv(world: World, tmp_path: Path) -> None:
    out = StringIO()
    csv = _site_csv(tmp_path / "lesions.csv")
    call_command(
        "train_lesion_model",
        "--kind",
        "malignancy",
        "--name",
        "north-ct",
        "--csv",
        str(csv),
        "--label",
        "outcome",
        "--institution",
        "north",
        "--splits",
        "3",
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["name"] == "north-ct"
    assert printed["status"] == "draft"
    assert printed["metrics"]["auc"] >= 0.9  # well separated by diameter
    model = LesionModel.objects.get(name="north-ct")
    assert model.institution == world.institution
    assert model.training_source == "csv"
    assert "this site's labelled lesions" in " ".join(model.model_card["limits"])


def _finding(world: World) -> Finding:
    study = Study.objects.create(
        patient=world.patient, institution=world.institution, study_instance_uid="1.2.3"
    )
    series = Series.objects.create(study=study, series_instance_uid="1.2.3.4", modality="CT")
    run = ScreeningRun.objects.create(
        patient=world.patient, series=series, input_key="k" * 64, status="done"
    )
    return Finding.objects.create(
        run=run,
        rank=1,
        score=0.9,
        classical_score=0.9,
        centre_voxel=[10, 20, 30],
        centre_mm=[1.0, 2.0, 3.0],
        diameter_mm=21.0,
        volume_ml=4.8,
        mean_hu=25.0,
        nodule_type="solid",
        sphericity=0.55,
        features={"compactness": 0.4, "label": "text is ignored"},
    )


def test_site_ct_model_predicts_for_a_finding_the_default_never(
    world: World, default: LesionModel, tmp_path: Path
) -> None:
    finding = _finding(world)
    assert svc.finding_features(finding)["diameter_mm"] == 21.0
    assert "label" not in svc.finding_features(finding)
    with pytest.raises(svc.LesionModelError, match="does not apply to CT findings"):
        svc.predict_finding_malignancy(finding=finding, actor=world.oncologist)
    assert svc.finding_malignancy(finding) is None
    site = svc.malignancy_model_train(
        name="north-ct",
        source="csv",
        csv=_site_csv(tmp_path / "l.csv").read_bytes(),
        label="outcome",
        splits=2,
        bootstrap=10,
        institution=world.institution,
    )
    svc.lesion_model_set_status(model=site, status="validated")
    svc.lesion_model_set_status(model=site, status="active")
    prediction = svc.predict_finding_malignancy(finding=finding, actor=world.oncologist)
    assert prediction.model == site
    assert prediction.finding == finding
    assert prediction.patient == world.patient
    assert set(prediction.inputs) == {"diameter_mm", "mean_hu", "sphericity"}
    assert prediction.probability > 0.5  # 21 mm, irregular: like the malignant rows
    assert svc.finding_malignancy(finding) == prediction


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "nodule_fp", "--institution", "north"], "0 confirmed and 0 rejected"),
        (["--kind", "nodule_fp"], "needs --institution"),
        (["--kind", "malignancy"], "needs --name"),
        (["--kind", "malignancy", "--name", "x", "--source", "csv"], "needs --csv"),
        (["--kind", "malignancy", "--name", "x", "--csv", "/nonexistent.csv"], "No file"),
        (["--kind", "malignancy", "--name", "bad name"], "1-80 letters"),
        (["--kind", "malignancy", "--name", "x", "--splits", "0"], "--splits"),
        (["--kind", "nodule_fp", "--institution", "nowhere"], "No institution"),
        ([], "Give --kind"),
    ],
)
def test_command_refusals(world: World, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("train_lesion_model", *args, stdout=StringIO())
    assert not LesionModel.objects.exists()


def test_command_bad_csv_names_the_column(world: World, tmp_path: Path) -> None:
    csv = _site_csv(tmp_path / "lesions.csv")
    with pytest.raises(CommandError, match="no label column 'diagnosis'"):
        call_command(
            "train_lesion_model",
            "--kind",
            "malignancy",
            "--name",
            "x",
            "--csv",
            str(csv),
            "--label",
            "diagnosis",
            stdout=StringIO(),
        )


def test_command_job_enqueues(world: World) -> None:
    out = StringIO()
    call_command(
        "train_lesion_model", "--kind", "nodule_fp", "--institution", "north", "--job", stdout=out
    )
    job = Job.objects.get(kind="lesion_model_train")
    assert out.getvalue().strip() == f"queued job {job.public_id}"
    assert job.payload["institution"] == "north"


def test_command_default_keeps_the_active_default(default: LesionModel) -> None:
    out = StringIO()
    call_command("train_lesion_model", "--default", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["name"], printed["version"], printed["status"]) == (
        "wisconsin-malignancy",
        1,
        "active",
    )
    assert printed["artifact_sha256"] == default.artifact_sha256
    assert LesionModel.objects.count() == 1
