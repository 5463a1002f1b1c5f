"""Lung screening on a real Celery worker (Redis broker, PostgreSQL) with the REAL screening
library (imaging/screening/, no double): a synthetic chest CT with inserted nodules of known
position, written as DICOM and stored like an ingested series, is screened end to end through
the API; the worker fills the worklist, the inserted nodules are among the top findings at their
known positions, and a confirmed finding becomes a screening mask holding the nodule.

The nodules are solid spheres placed by tests/imaging/screening_data.chest_ct_with_nodules on
the library's chest phantom, deepest in each lung away from vessels: the truth is by
construction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.jobs import jobs_reconcile
from core.models import AuditEvent, JobStatus
from imaging.models import Mask, ScreeningRun
from imaging.services.masks import mask_voxels
from tests.conftest import World
from tests.imaging.screening_data import chest_ct_with_nodules, store_ct
from tests.integration.conftest import WorkerPool, _database_url, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SEED = 11
TOP = 5  # an inserted nodule must be among this many best findings


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> None:
    # Set before a worker starts: it inherits MEDIA_ROOT and reads the stored instances there.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"


def _distance_mm(a: Any, b: Any, spacing: tuple[float, float, float]) -> float:
    return float(np.linalg.norm((np.asarray(a, float) - np.asarray(b, float)) * spacing))


def test_a_worker_screens_a_chest_ct_end_to_end_and_fills_the_worklist(
    media: None,
    workers: WorkerPool,
    world: World,
    api_integration: APIClient,
    api_member: APIClient,
) -> None:
    hu, spacing, origin, truths = chest_ct_with_nodules(seed=SEED)
    series = store_ct(world.patient, hu=hu, spacing=spacing, origin=origin)
    workers.start()

    created = api_integration.post(reverse("api-screening-batch-list"), {}, format="json")
    assert created.status_code == 202, created.content
    assert created.json()["queued"] == 1
    run = ScreeningRun.objects.select_related("job").get(series=series)
    assert run.job is not None
    job = wait_for_job(run.job, timeout=300)

    assert job.status == JobStatus.SUCCEEDED, job.error
    run.refresh_from_db()
    assert run.status == "done"
    assert run.ranking == "classical"
    assert run.settings["pipeline_version"]
    volumes = run.lungs["volumes_ml"]
    assert volumes["left"] > 0
    assert volumes["right"] > 0
    assert volumes["total"] == pytest.approx(volumes["left"] + volumes["right"], rel=0.01)
    findings = list(run.findings.order_by("rank"))
    assert findings
    assert run.max_score == pytest.approx(findings[0].score)
    assert [f.score for f in findings] == sorted((f.score for f in findings), reverse=True)
    # Each inserted nodule is hit (centre within its radius, LUNA16's rule) by a top finding.
    hits: dict[float, Any] = {}
    for truth in truths:
        near = [
            f
            for f in findings[:TOP]
            if _distance_mm(f.centre_voxel, truth.centre_voxel, spacing) <= truth.diameter_mm / 2
        ]
        assert near, f"no top-{TOP} finding on the {truth.diameter_mm} mm nodule"
        hits[truth.diameter_mm] = near[0]
    written = AuditEvent.objects.get(object_id=str(run.public_id), action="update")
    assert (written.channel, written.request_id) == ("job", job.public_id.hex)

    # The worklist (API) shows the run with its top score and every finding awaiting review.
    worklist = api_member.get(reverse("api-screening-worklist")).json()
    assert [r["public_id"] for r in worklist] == [str(run.public_id)]
    assert worklist[0]["pending_review"] == len(findings)
    assert worklist[0]["ranking_note"].startswith("Classical ranking")

    # A clinician confirms the 10 mm nodule's finding: a screening mask that holds its centre.
    finding = hits[10.0]
    review = api_member.post(
        reverse("api-screening-finding-review", args=[finding.public_id]),
        {"decision": "confirm"},
        format="json",
    )
    assert review.status_code == 200, review.content
    mask = Mask.objects.get(public_id=review.json()["mask_public_id"])
    assert mask.kind == "screening"
    voxels = mask_voxels(mask)
    largest = max(truths, key=lambda t: t.diameter_mm)
    assert voxels[largest.centre_voxel]
    # A 10 mm sphere is ~0.52 ml; the candidate region is of that order (not a whole vessel tree).
    volume_ml = float(voxels.sum()) * float(np.prod(spacing)) / 1000.0
    assert 0.1 < volume_ml < 2.0

    # The same batch again screens nothing: the stored run stands for these inputs.
    again = api_integration.post(reverse("api-screening-batch-list"), {}, format="json")
    assert again.json()["queued"] == 0
    assert again.json()["already_screened"] == 1


def test_a_worker_killed_mid_run_leaves_no_finding_and_the_reconciler_screens_it_once(
    media: None, workers: WorkerPool, world: World, api_integration: APIClient
) -> None:
    hu, spacing, origin, _ = chest_ct_with_nodules(seed=SEED)
    series = store_ct(world.patient, hu=hu, spacing=spacing, origin=origin)
    # The batch commits and its message waits in Redis: no worker runs yet.
    created = api_integration.post(reverse("api-screening-batch-list"), {}, format="json")
    assert created.status_code == 202, created.content
    run = ScreeningRun.objects.select_related("job").get(series=series)
    assert run.job is not None
    # Hold the run's row lock from another connection: the handler locks the run first, so
    # the first attempt is claimed (running) and waits inside its transaction until killed.
    with psycopg.connect(_database_url()) as blocker:
        blocker.execute("SELECT 1 FROM imaging_screeningrun WHERE id = %s FOR UPDATE", (run.pk,))
        doomed = workers.start(lease_seconds=2)
        job = wait_for_job(run.job, {JobStatus.RUNNING}, timeout=60)
        doomed.kill()  # SIGKILL: PostgreSQL rolls the dead attempt's transaction back
        blocker.rollback()

    run.refresh_from_db()
    assert run.status == "queued"
    assert not run.findings.exists()
    workers.start()
    time.sleep(2.5)  # the dead worker's 2 s lease runs out
    counts = jobs_reconcile()

    job = wait_for_job(job, timeout=300)
    assert counts["requeued"] == 1
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    run.refresh_from_db()
    assert run.status == "done"
    assert run.findings.count() == job.result["findings"] > 0
    assert sorted(run.findings.values_list("rank", flat=True)) == list(
        range(1, run.findings.count() + 1)
    )
    # Exactly one write of the findings, by the second attempt.
    assert AuditEvent.objects.filter(object_id=str(run.public_id), action="update").count() == 1
