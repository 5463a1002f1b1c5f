"""Training on a site's own reviewed findings: patches cut from the stored series at each
finding's centre (values checked by hand against the series' HU), confirmed -> 1 and
rejected -> 0, pending ignored, another institution's findings never used; and the job kind
``lesion_model_train`` run by its handler (the worker side is core.jobs' own tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.jobs import JobError, job_enqueue
from imaging import viewer
from imaging.jobs_lesions import lesion_model_train_run
from imaging.models import Finding, LesionModel, ScreeningRun
from imaging.services import lesion_models as svc
from tests.conftest import World
from tests.factories import InstitutionFactory, PatientFactory
from tests.imaging.screening_data import store_ct

BRIGHT = [5.0, 6.5, 7.5]  # centre of the 900 HU cube (tests/imaging/screening_data.py)
AIRY = [15.0, 25.0, 5.0]  # lung background, -800 HU


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()


def _findings(patient: Any, statuses: list[tuple[list[float], str]]) -> ScreeningRun:
    series = store_ct(patient)
    run = ScreeningRun.objects.create(
        patient=patient, series=series, input_key=f"{series.pk:064d}", status="done"
    )
    for rank, (centre, status) in enumerate(statuses, start=1):
        Finding.objects.create(
            run=run,
            rank=rank,
            score=1.0 / rank,
            classical_score=1.0 / rank,
            centre_voxel=centre,
            centre_mm=[0.0, 0.0, 0.0],
            diameter_mm=4.0,
            volume_ml=0.03,
            mean_hu=0.0,
            nodule_type="solid",
            status=status,
        )
    return run


def test_patches_come_from_the_series_at_each_reviewed_finding(world: World) -> None:
    _findings(
        world.patient,
        [(BRIGHT, "confirmed"), (AIRY, "rejected"), ([10.0, 16.0, 16.0], "pending")],
    )
    other = PatientFactory(institution=InstitutionFactory(code="east"))
    _findings(other, [(BRIGHT, "confirmed")])
    patches, labels, rows = svc.site_fp_training_set(world.institution)
    assert patches.shape == (2, 32, 32, 32)
    assert labels.tolist() == [1, 0]
    assert [r["label"] for r in rows] == [1, 0]
    # voxel (15, 15, 15) is 0.5 mm before the centre on each axis: z 4.8, y 5.875, x 6.875,
    # inside the 900 HU cube -> above the 400 HU window top -> 1.0
    assert patches[0, 15, 15, 15] == pytest.approx(1.0)
    # 20 mm along z from the cube: lung at -800 HU -> (−800 + 1000) / 1400
    assert patches[0, 31, 15, 15] == pytest.approx(200 / 1400, abs=1e-4)
    assert patches[1, 15, 15, 0] == 0.0  # 15.5 mm before column 5 (4 mm in): outside, air
    assert patches[1, 15, 15, 15] == pytest.approx(200 / 1400, abs=1e-4)


def test_site_model_trains_and_is_the_sites(world: World) -> None:
    statuses = [(BRIGHT, "confirmed")] * 3 + [(AIRY, "rejected")] * 3
    _findings(world.patient, statuses)
    with pytest.raises(svc.LesionModelError, match="3 confirmed and 3 rejected"):
        svc.fp_model_train_site(institution=world.institution)  # default minimum 20
    model = svc.fp_model_train_site(institution=world.institution, epochs=1, min_per_class=3)
    assert model.name == "nodule-fp-north"
    assert model.institution == world.institution
    assert model.training_source == "site-findings"
    assert model.metrics["validation"]["n_total"] == 6
    assert "confirmed and rejected screening findings of North Hospital" in str(model.model_card)
    with model.training_snapshot.open("rb") as handle:
        snapshot = handle.read().decode()
    assert snapshot.splitlines()[0] == "finding,label"
    assert str(Finding.objects.filter(status="confirmed").first().public_id) in snapshot


def test_job_trains_a_malignancy_draft(world: World) -> None:
    job = job_enqueue(
        kind="lesion_model_train",
        payload={"kind": "malignancy", "name": "job-made", "splits": 1},
        created_by=world.oncologist,
    )
    result = lesion_model_train_run(job)
    model = LesionModel.objects.get(name="job-made")
    assert result["version"] == 1
    assert result["artifact_sha256"] == model.artifact_sha256
    assert model.created_by == world.oncologist
    assert model.metrics["mean"]["auc"] >= 0.97


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"kind": "forest"}, "malignancy or nodule_fp"),
        ({"kind": "nodule_fp", "institution": "nowhere"}, "existing institution"),
        ({"kind": "nodule_fp", "institution": "north"}, "0 confirmed and 0 rejected"),
        ({"kind": "malignancy", "name": "x", "source": "csv"}, "needs the file"),
    ],
)
def test_job_refusals(world: World, payload: dict[str, Any], message: str) -> None:
    job = job_enqueue(kind="lesion_model_train", payload=payload)
    with pytest.raises(JobError, match=message):
        lesion_model_train_run(job)
    assert not LesionModel.objects.exists()
