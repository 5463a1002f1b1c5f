"""The screening service: batches over chest CTs, one job per series (eager Celery here; the
real worker is in tests/integration/test_screening_worker.py), findings written atomically,
review into masks, access and audit.

The pure library (imaging/screening/) is replaced by the TEST DOUBLE in
tests/imaging/screening_data.py through the service's `_pipeline()` lookup: it finds the two
bright cubes the stored series holds, so every centre, score and voxel below is known by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.http import Http404

from core.models import AuditEvent, Job
from imaging import viewer
from imaging.models import Finding, Mask, ScreeningRun, Series
from imaging.selectors_screening import (
    finding_get_for_review,
    screening_patients,
    screening_run_get,
    worklist,
)
from imaging.services import screening as svc
from imaging.services.screening_review import finding_review
from tests.conftest import World
from tests.factories import PatientFactory
from tests.imaging import screening_data
from tests.imaging.screening_data import BLOBS, ORIGIN, SPACING, screening_hu, store_ct


@pytest.fixture(autouse=True)
def _double(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()
    # TEST DOUBLE of the pure library (see the module docstring).
    monkeypatch.setattr(svc, "_pipeline", lambda: screening_data)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _screen(world: World, on_commit: Any, **kwargs: Any) -> svc.BatchResult:
    with on_commit():
        return svc.screening_batch_create(
            actor=world.oncologist,
            institution=world.institution,
            patients=screening_patients(user=world.oncologist),
            **kwargs,
        )


def _done_run(world: World, on_commit: Any) -> ScreeningRun:
    series = store_ct(world.patient)
    _screen(world, on_commit)
    return ScreeningRun.objects.get(series=series)


def test_a_batch_screens_chest_cts_only_and_stores_ranked_findings(
    world: World, on_commit: Any
) -> None:
    chest = store_ct(world.patient)
    undescribed = store_ct(world.patient, description="")  # no body part named: screened
    head = store_ct(world.patient, description="CT HEAD W/O")
    short = store_ct(world.patient, hu=screening_hu()[:8])  # 8 slices: a scout, not a volume

    result = _screen(world, on_commit)

    assert {r.series_id for r in result.queued} == {chest.pk, undescribed.pk}
    assert result.not_chest == 1  # the head CT; the short series is no volume at all
    assert not ScreeningRun.objects.filter(series__in=[head, short]).exists()
    run = ScreeningRun.objects.get(series=chest)
    assert run.status == "done"
    assert run.error == ""
    assert run.ranking == "classical"
    assert run.candidate_count == 2
    findings = list(run.findings.order_by("rank"))
    assert [f.rank for f in findings] == [1, 2]
    # Scores are mean HU / 1000 of each cube: the bright cube (900 HU) first.
    assert [f.score for f in findings] == pytest.approx([0.9, 0.4])
    assert run.max_score == pytest.approx(0.9)
    assert [f.classical_score for f in findings] == pytest.approx([0.9, 0.4])
    assert findings[0].model_probability is None
    # Centres by hand: cube z 4..6, y 5..8, x 6..9 -> (5, 6.5, 7.5), rounded half to even.
    assert findings[0].centre_voxel == [5, 6, 8]
    assert findings[1].centre_voxel == [13, 22, 24]
    # LPS mm = origin + index * spacing (identity orientation): x 7.5, y 6.5, z 5.
    expected = [ORIGIN[0] + 7.5 * SPACING[2], ORIGIN[1] + 6.5 * SPACING[1], ORIGIN[2] + 5 * 2.5]
    assert findings[0].centre_mm == pytest.approx(expected)
    assert findings[0].pleura_distance_mm is None  # NaN from the library is stored as null
    assert findings[0].features["bbox_start"] == [4, 5, 6]
    assert findings[0].features["bbox_stop"] == [7, 9, 10]
    assert run.lungs["volumes_ml"] == {"left": 1.0, "right": 2.0, "total": 3.0}
    # Each finding's voxels read back as exactly its cube on the whole grid.
    for finding, (box, _) in zip(findings, BLOBS.values(), strict=True):
        expected_voxels = np.zeros(screening_hu().shape, dtype=bool)
        expected_voxels[box] = True
        assert np.array_equal(svc.finding_voxels(finding), expected_voxels)
        assert finding.storage_name.startswith(f"imaging/screening/{world.institution.pk}/")


def test_the_same_inputs_are_not_screened_again_and_a_failed_run_is(
    world: World, on_commit: Any
) -> None:
    series = store_ct(world.patient)
    first = _screen(world, on_commit)
    jobs = Job.objects.count()

    again = _screen(world, on_commit)

    assert again.queued == []
    assert [r.pk for r in again.already] == [first.queued[0].pk]
    assert Job.objects.count() == jobs
    assert Finding.objects.filter(run__series=series).count() == 2

    ScreeningRun.objects.filter(series=series).update(status="failed", error="boom")
    retried = _screen(world, on_commit)
    assert [r.pk for r in retried.queued] == [first.queued[0].pk]
    assert Job.objects.count() == jobs + 1
    run = ScreeningRun.objects.get(series=series)
    assert run.status == "done"
    assert run.error == ""


def test_a_listed_series_that_is_not_a_ct_volume_is_refused_and_nothing_is_created(
    world: World, on_commit: Any
) -> None:
    short = store_ct(world.patient, hu=screening_hu()[:5])
    with pytest.raises(svc.ScreeningRequestError, match="not a CT volume"):
        _screen(world, on_commit, series_public_ids=[short.public_id])
    other = store_ct(PatientFactory(institution=world.institution))  # not in the care team
    with pytest.raises(svc.ScreeningRequestError, match="not a visible series"):
        _screen(world, on_commit, series_public_ids=[other.public_id])
    assert not ScreeningRun.objects.exists()


def test_a_series_whose_images_changed_since_the_request_fails_with_its_reason(
    world: World, on_commit: Any
) -> None:
    series = store_ct(world.patient)
    _screen_without_running = svc.screening_batch_create(
        actor=world.oncologist,
        institution=world.institution,
        patients=screening_patients(user=world.oncologist),
    )
    run = _screen_without_running.queued[0]
    instance = series.instances.first()
    assert instance is not None
    instance.sha256 = "0" * 64  # as if an instance had been replaced
    instance.save(update_fields=["sha256"])
    job = Job.objects.get(pk=run.job_id)

    result = svc.screening_run_compute(run=run, job=job)

    run.refresh_from_db()
    assert result["status"] == "failed"
    assert run.status == "failed"
    assert "changed since the request" in run.error
    assert not run.findings.exists()


def test_a_failure_while_saving_leaves_no_finding_and_no_file(
    world: World, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    series = store_ct(world.patient)
    result = svc.screening_batch_create(
        actor=world.oncologist,
        institution=world.institution,
        patients=screening_patients(user=world.oncologist),
    )
    run = result.queued[0]
    calls = {"n": 0}

    def centre_then_fail(volume: Any, candidate: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the first finding's file is written by then
            raise RuntimeError("disk full")
        return screening_data.candidate_centre_mm(volume, candidate)

    monkeypatch.setattr(screening_data, "candidate_centre_mm", centre_then_fail)
    with pytest.raises(RuntimeError):
        svc.screening_run_compute(run=run, job=Job.objects.get(pk=run.job_id))
    assert calls["n"] == 2
    folder = f"imaging/screening/{world.institution.pk}"
    assert not default_storage.exists(folder) or default_storage.listdir(folder)[1] == []
    assert not Finding.objects.filter(run__series=series).exists()


def test_confirming_makes_a_screening_mask_of_the_finding_and_rejecting_deletes_it(
    world: World, on_commit: Any
) -> None:
    run = _done_run(world, on_commit)
    finding = run.findings.get(rank=1)
    found = finding_get_for_review(user=world.member, finding_public_id=finding.public_id)

    with on_commit():
        confirmed = finding_review(actor=world.member, finding=found, decision="confirm")

    assert confirmed.changed
    mask = Mask.objects.get(series=run.series)
    assert mask.kind == "screening"
    assert mask.label == "Nodule #1 (Solid, 5 mm)"  # (6 V / pi)^(1/3): 48 voxels of 1.6 ul
    assert mask.voxel_count == 3 * 4 * 4
    assert mask.parameters["finding"] == str(finding.public_id)
    finding.refresh_from_db()
    assert finding.status == "confirmed"
    assert finding.mask_id == mask.pk
    assert finding.reviewed_by == world.member
    again = finding_review(actor=world.member, finding=finding, decision="confirm")
    assert not again.changed
    assert Mask.objects.count() == 1

    with on_commit():
        finding_review(actor=world.member, finding=finding, decision="reject")
    finding.refresh_from_db()
    assert finding.status == "rejected"
    assert finding.mask is None
    assert not Mask.objects.exists()
    events = AuditEvent.objects.filter(object_type="screening_finding")
    assert [e.detail["result"] for e in events.order_by("pk")] == ["confirmed", "rejected"]
    assert {e.patient_id for e in events} == {world.patient.pk}


def test_an_unknown_decision_changes_nothing(world: World, on_commit: Any) -> None:
    run = _done_run(world, on_commit)
    finding = run.findings.get(rank=1)
    with pytest.raises(svc.ScreeningRequestError, match="decision"):
        finding_review(actor=world.member, finding=finding, decision="maybe")
    finding.refresh_from_db()
    assert finding.status == "pending"
    assert not Mask.objects.exists()


def test_the_worklist_is_ordered_by_top_score_and_limited_to_visible_patients(
    world: World, on_commit: Any
) -> None:
    second = PatientFactory(institution=world.institution, teams=[world.team])
    dim = screening_hu()
    dim[dim == 900] = 300  # this series' best candidate scores 0.4, below the other's 0.9
    store_ct(second, hu=dim)
    store_ct(world.patient)
    hidden = PatientFactory(institution=world.institution, teams=[world.other_team])
    store_ct(hidden)
    with on_commit():
        svc.screening_batch_create(
            actor=None,
            institution=world.institution,
            patients=PatientFactory._meta.model.objects.filter(institution=world.institution),
        )

    runs = worklist(user=world.member)

    assert [r.patient_id for r in runs] == [world.patient.pk, second.pk]
    assert [r.max_score for r in runs] == pytest.approx([0.9, 0.4])
    assert [r.patient_id for r in worklist(user=world.outsider)] == [hidden.pk]
    listed = AuditEvent.objects.filter(object_type="screening_run", action="list")
    assert {e.patient_id for e in listed if e.actor_id == world.member.pk} == {
        world.patient.pk,
        second.pk,
    }
    with pytest.raises(Http404):
        screening_run_get(user=world.outsider, run_public_id=runs[0].public_id)


def test_hospital_systems_may_start_batches_but_not_review(world: World, on_commit: Any) -> None:
    from django.core.exceptions import PermissionDenied

    run = _done_run(world, on_commit)
    finding = run.findings.get(rank=1)
    assert screening_patients(user=world.integration).filter(pk=world.patient.pk).exists()
    with pytest.raises(PermissionDenied):
        finding_get_for_review(user=world.integration, finding_public_id=finding.public_id)
    with pytest.raises(PermissionDenied):
        screening_patients(user=world.member)  # a clinician reviews; batches are not theirs
    with pytest.raises(Http404):
        finding_get_for_review(user=world.outsider, finding_public_id=finding.public_id)


def test_the_batch_and_its_runs_are_audited_per_patient_without_values(
    world: World, on_commit: Any
) -> None:
    store_ct(world.patient)
    result = _screen(world, on_commit)
    batch_event = AuditEvent.objects.get(object_type="screening_batch")
    assert batch_event.detail == {"count": 1}
    created = AuditEvent.objects.get(object_type="screening_run", action="create")
    assert created.patient_id == world.patient.pk
    assert created.object_id == str(result.batch.public_id)
    updated = AuditEvent.objects.get(object_type="screening_run", action="update")
    assert updated.detail == {"count": 2}


def test_series_of_a_patient_are_found_by_the_chest_rule() -> None:
    def series(modality: str, count: int, text: str) -> Series:
        from imaging.models import Study

        return Series(
            modality=modality,
            instance_count=count,
            description=text,
            study=Study(description=""),
        )

    assert svc.is_chest_ct(series("CT", 120, "Thorax 1.25 mm"))
    assert svc.is_chest_ct(series("CT", 120, "LDCT lung screening"))
    assert svc.is_chest_ct(series("CT", 120, ""))
    assert not svc.is_chest_ct(series("CT", 120, "Abdomen/pelvis portal venous"))
    assert not svc.is_chest_ct(series("CT", 12, "Chest"))
    assert not svc.is_chest_ct(series("MR", 120, "Chest"))


def test_a_site_with_an_active_false_positive_model_ranks_by_it_and_says_so(
    world: World, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.models import LesionModel
    from imaging.services import lesion_models

    model = LesionModel.objects.create(
        name="nodule-fp-north",
        version=2,
        kind="nodule_fp",
        institution=world.institution,
        status="active",
        algorithm="torch-cnn3d",
        training_source="site findings",
        training_data_sha256="1" * 64,
        artifact_sha256="a" * 64,
    )
    # The model's network is replaced (a TEST DOUBLE of the trained CNN, tested by its own
    # module): it calls the dim cube (centre z 13) a nodule and the bright one a false positive.
    # The registry's own lookup finds the active model of the institution.
    monkeypatch.setattr(
        lesion_models,
        "fp_model_probabilities",
        lambda m, volume, centres: [0.95 if c[0] > 10 else 0.05 for c in centres],
    )
    series = store_ct(world.patient)

    _screen(world, on_commit)

    run = ScreeningRun.objects.get(series=series)
    assert run.ranking == "nodule-fp-north v2"
    assert svc.ranking_note(run) == "Ranked by the site's false-positive model nodule-fp-north v2"
    assert run.settings["ranking_model"]["artifact_sha256"] == "a" * 64
    assert run.settings["ranking_model"]["public_id"] == str(model.public_id)
    findings = list(run.findings.order_by("rank"))
    assert [f.centre_voxel[0] for f in findings] == [13, 5]
    assert [f.score for f in findings] == pytest.approx([0.95, 0.05])
    assert [f.model_probability for f in findings] == pytest.approx([0.95, 0.05])
    assert [f.classical_score for f in findings] == pytest.approx([0.4, 0.9])
    assert run.max_score == pytest.approx(0.95)


def test_the_command_screens_every_new_chest_ct_of_the_institution(
    world: World, on_commit: Any
) -> None:
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    store_ct(world.patient)
    store_ct(PatientFactory(institution=world.institution, teams=[world.other_team]))
    out = io.StringIO()
    with on_commit():
        call_command("screen_series", "--institution", "north", stdout=out)
    assert "2 series queued, 0 screened before" in out.getvalue()
    assert ScreeningRun.objects.filter(status="done").count() == 2
    assert AuditEvent.objects.get(object_type="screening_batch").actor_username == "system"
    with pytest.raises(CommandError, match="No institution"):
        call_command("screen_series", "--institution", "nowhere")
    with pytest.raises(CommandError, match="Only oncologists"):
        call_command("screen_series", "--institution", "north", "--actor", "member")


def test_a_series_the_library_cannot_screen_fails_with_its_reason_without_retry(
    world: World, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_lungs(volume: Any, settings: Any = None) -> Any:
        raise ValueError("no lung found: the largest air region inside the body is 0.0 ml")

    monkeypatch.setattr(screening_data, "screen_volume", no_lungs)
    series = store_ct(world.patient)
    _screen(world, on_commit)
    run = ScreeningRun.objects.select_related("job").get(series=series)
    assert run.status == "failed"
    assert run.error == (
        "this series cannot be screened: no lung found: the largest air region inside the "
        "body is 0.0 ml"
    )
    assert run.job is not None
    assert run.job.attempts == 1  # the job itself succeeded: the run records the failure
    assert svc.run_state(run) == "failed"


def test_a_ranking_model_that_cannot_score_fails_the_run_with_its_reason(
    world: World, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.models import LesionModel
    from imaging.services import lesion_models

    LesionModel.objects.create(
        name="nodule-fp-north",
        version=1,
        kind="nodule_fp",
        institution=world.institution,
        status="active",
        algorithm="torch-cnn3d",
        training_source="site findings",
        training_data_sha256="1" * 64,
        artifact_sha256="a" * 64,
    )

    def tampered(model: Any, volume: Any, centres: Any) -> list[float]:
        raise lesion_models.ArtifactIntegrityError("the artifact's SHA-256 does not match")

    monkeypatch.setattr(lesion_models, "fp_model_probabilities", tampered)
    series = store_ct(world.patient)
    _screen(world, on_commit)
    run = ScreeningRun.objects.get(series=series)
    assert run.status == "failed"
    assert run.error.startswith("the ranking model cannot score this series: the artifact's")
    assert not run.findings.exists()


def test_deleting_a_run_deletes_its_findings_files_after_commit(
    world: World, on_commit: Any
) -> None:
    run = _done_run(world, on_commit)
    names = list(run.findings.values_list("storage_name", flat=True))
    assert all(default_storage.exists(n) for n in names)
    with on_commit():
        run.delete()
    assert not any(default_storage.exists(n) for n in names)
