"""Radiomics runs through the API: a job per (series, mask, settings), computed after commit
(eager Celery here; tests/integration runs it on a real worker), idempotent, access-checked,
audited, readable as JSON and CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.jobs import job_progress_set
from core.models import AuditEvent, Job, JobStatus
from imaging import viewer
from imaging.models import RadiomicsRun, Series
from imaging.radiomics import ENGINE_VERSION, PRESETS, RadiomicsSettings
from imaging.services import radiomics as svc
from tests.conftest import World
from tests.factories import PatientFactory
from tests.imaging.viewer_data import LESION, SPACING, store_ct_with_structure_set, synthetic_hu


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


@pytest.fixture
def series(world: World) -> Series:
    return store_ct_with_structure_set(world.patient)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Runs the callbacks (the job's send, eager here) when the block's 'transaction' ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _series_url(world: World, series: Series) -> str:
    return reverse(
        "api-radiomics-series",
        kwargs={"public_id": world.patient.public_id, "series_id": series.public_id},
    )


def _run_url(world: World, run_id: str, name: str = "api-radiomics-run-detail") -> str:
    return reverse(name, kwargs={"public_id": world.patient.public_id, "run_id": run_id})


def _mask_id(series: Series) -> str:
    return svc.series_radiomics_masks(series)[0].id


def _request(client: APIClient, world: World, series: Series, on_commit: Any, **body: Any) -> Any:
    payload = {"mask_id": _mask_id(series), "preset": "ibsi-A", **body}
    with on_commit():
        return client.post(_series_url(world, series), payload, format="json")


def _features(run: dict[str, Any]) -> dict[str, float | None]:
    return {f["feature"]: f["value"] for f in run["features"]}


# --- computing and reusing -----------------------------------------------------------------


def test_a_requested_run_stores_ibsi_features_matching_hand_computed_values(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    response = _request(api_member, world, series, on_commit)
    assert response.status_code == 202
    assert response.json()["status"] == "queued"  # the job is sent only after commit

    run = api_member.get(_run_url(world, response.json()["public_id"])).json()
    assert run["status"] == "succeeded"
    values = _features(run)
    # Hand computation on the synthetic CT: HU = 10 (x - 24) + 5 z on the lesion x 10..19,
    # y 8..15, z 3..6 (320 voxels of 2 x 0.5 x 0.5 mm), all inside ibsi-A's [-500, 400] range.
    hu = synthetic_hu()[LESION].astype(float)
    assert values["stat_mean"] == pytest.approx(hu.mean())  # -72.5
    assert values["stat_minimum"] == pytest.approx(-125.0)
    assert values["stat_maximum"] == pytest.approx(-20.0)
    voxel_mm3 = SPACING[0] * SPACING[1] * SPACING[2]
    assert values["morph_approximate_volume"] == pytest.approx(hu.size * voxel_mm3)  # 160
    assert run["feature_count"] == len(run["features"]) > 100
    assert all(len(f["ibsi_code"]) == 4 for f in run["features"])
    assert run["provenance"]["engine_version"] == ENGINE_VERSION
    assert run["provenance"]["settings"]["name"] == "ibsi-A"
    assert run["settings_hash"] == svc.settings_canonical(PRESETS["ibsi-A"])[1]


def test_the_same_inputs_return_the_stored_run_and_enqueue_nothing(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    first = _request(api_member, world, series, on_commit)
    jobs = Job.objects.count()

    again = _request(api_member, world, series, on_commit)

    assert again.status_code == 200
    assert again.json()["public_id"] == first.json()["public_id"]
    assert again.json()["status"] == "succeeded"
    assert Job.objects.count() == jobs
    assert RadiomicsRun.objects.count() == 1
    # Another preset is other settings: a new run.
    other = _request(api_member, world, series, on_commit, preset="ct-default")
    assert other.status_code == 202
    assert RadiomicsRun.objects.count() == 2


def test_the_ingest_hook_reuses_a_run_already_requested_with_those_settings(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    first = _request(api_member, world, series, on_commit)
    with on_commit():
        hooked = svc.radiomics_runs_for_new_masks(series=series, preset="ibsi-A")
    assert [str(r.run.public_id) for r in hooked] == [first.json()["public_id"]]
    assert hooked[0].created is False


def test_the_ingest_hook_queues_the_modality_default_for_every_mask(
    world: World, series: Series, on_commit: Any
) -> None:
    with on_commit():
        results = svc.radiomics_runs_for_new_masks(series=series)
    assert [r.created for r in results] == [True]
    run = RadiomicsRun.objects.get()
    assert run.preset == "ct-default"
    assert run.completed_at is not None
    assert AuditEvent.objects.filter(
        object_type="radiomics_run", action="create", object_id=str(run.public_id)
    ).exists()
    # Not an image series: nothing.
    rt_series = Series.objects.get(modality="RTSTRUCT")
    assert svc.radiomics_runs_for_new_masks(series=rt_series) == []


def test_the_ingest_hook_for_an_arrived_structure_set_covers_the_image_series_of_its_study(
    world: World, series: Series, on_commit: Any
) -> None:
    rt_series = Series.objects.get(modality="RTSTRUCT")
    with on_commit():
        results = svc.radiomics_runs_for_arrived_mask_series(series=rt_series)
    assert [(r.run.series, r.run.mask_label, r.created) for r in results] == [
        (series, "GTV-1", True)
    ]
    assert RadiomicsRun.objects.get().completed_at is not None
    assert svc.radiomics_runs_for_arrived_mask_series(series=series) == []  # a CT: nothing
    again = svc.radiomics_runs_for_arrived_mask_series(series=rt_series)
    assert [r.created for r in again] == [False]


def test_every_preset_survives_storage_and_gives_back_its_hash() -> None:
    # pet-default's range is open-ended (inf): stored as a string for jsonb, read back as inf.
    for name, settings in PRESETS.items():
        data, digest = svc.settings_canonical(settings)
        rebuilt = RadiomicsSettings(**svc._settings_kwargs(data))
        assert rebuilt == settings, name
        assert svc.settings_canonical(rebuilt)[1] == digest, name


def test_settings_stored_under_version_1_still_rebuild_to_the_same_extraction() -> None:
    # A run queued before settings version 2 (which only added `features`) must still compute.
    data, _ = svc.settings_canonical(PRESETS["ct-default"])
    version_1 = {k: v for k, v in data.items() if k != "features"} | {"version": 1}
    assert RadiomicsSettings(**svc._settings_kwargs(version_1)) == PRESETS["ct-default"]


# --- progress ------------------------------------------------------------------------------


def test_a_running_job_shows_its_published_progress_and_a_finished_one_none(
    world: World, series: Series, api_member: APIClient
) -> None:
    # Committed by the test transaction only: the job stays queued (no on_commit run).
    response = api_member.post(
        _series_url(world, series), {"mask_id": _mask_id(series), "preset": "ibsi-A"}, format="json"
    )
    run = RadiomicsRun.objects.select_related("job").get(public_id=response.json()["public_id"])
    job = run.job
    assert job is not None
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1)
    job.refresh_from_db()
    job_progress_set(job, stage="features", family="glcm", done=5, total=11)

    body = api_member.get(_run_url(world, str(run.public_id))).json()

    assert body["status"] == "running"
    assert body["progress"] == {"stage": "features", "family": "glcm", "done": 5, "total": 11}


def test_the_job_publishes_progress_up_to_the_last_family(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    from django.core.cache import cache

    from core.jobs import PROGRESS_KEY_PREFIX

    response = _request(api_member, world, series, on_commit)
    run = RadiomicsRun.objects.select_related("job").get(public_id=response.json()["public_id"])
    assert run.job is not None
    last = cache.get(f"{PROGRESS_KEY_PREFIX}{run.job.public_id.hex}")
    assert last == {"stage": "saving", "done": 11, "total": 11, "attempt": 1}
    assert svc.run_progress(run) is None  # finished: the API shows none


# --- failures and bad input ----------------------------------------------------------------


def test_a_run_that_cannot_compute_fails_with_its_reason_and_is_retried_only_on_request(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    # pet-default keeps SUV >= 0; the lesion's HU are all negative: nothing left to measure.
    failed = _request(api_member, world, series, on_commit, preset="pet-default")
    run = api_member.get(_run_url(world, failed.json()["public_id"])).json()
    assert run["status"] == "failed"
    assert "ROI is empty" in run["error"]
    assert run["features"] == []

    again = _request(api_member, world, series, on_commit, preset="pet-default")
    assert again.status_code == 200
    assert again.json()["status"] == "failed"
    jobs = Job.objects.count()

    retried = _request(api_member, world, series, on_commit, preset="pet-default", retry=True)
    assert retried.status_code == 202
    assert retried.json()["public_id"] == failed.json()["public_id"]
    assert Job.objects.count() == jobs + 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"preset": "no-such-preset"}, 400, "preset"),
        ({"preset": "ibsi-phantom"}, 400, "preset"),  # the digital phantom's, not a patient's
        ({"mask_id": "0" * 20}, 404, None),
        ({"mask_id": ""}, 400, "mask_id"),
    ],
)
def test_bad_input_gets_a_clear_error_and_creates_nothing(
    body: dict[str, Any],
    status: int,
    field: str | None,
    world: World,
    series: Series,
    api_member: APIClient,
    on_commit: Any,
) -> None:
    response = _request(api_member, world, series, on_commit, **body)
    assert response.status_code == status
    error = response.json()["error"]
    if field:
        assert field in error["fields"]
    else:
        assert error["message"] == "No such mask on this series."
    assert RadiomicsRun.objects.count() == 0
    assert Job.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="radiomics_run").exists()


def test_a_structure_set_series_is_not_an_image_series(
    world: World, series: Series, api_member: APIClient
) -> None:
    rt_series = Series.objects.get(modality="RTSTRUCT")
    response = api_member.post(
        _series_url(world, rt_series),
        {"mask_id": _mask_id(series), "preset": "ibsi-A"},
        format="json",
    )
    assert response.status_code == 400
    assert "series" in response.json()["error"]["fields"]
    assert RadiomicsRun.objects.count() == 0


def test_a_series_of_another_patient_is_not_found_under_this_patient(
    world: World, api_member: APIClient
) -> None:
    other = PatientFactory(institution=world.institution, teams=[world.team])
    foreign = store_ct_with_structure_set(other)
    response = api_member.post(
        _series_url(world, foreign),
        {"mask_id": _mask_id(foreign), "preset": "ibsi-A"},
        format="json",
    )
    assert response.status_code == 404
    assert RadiomicsRun.objects.count() == 0


# --- access and audit ----------------------------------------------------------------------


def test_a_clinician_outside_the_care_team_gets_404_and_nothing_is_created(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    refused = outsider.post(
        _series_url(world, series), {"mask_id": _mask_id(series), "preset": "ibsi-A"}, format="json"
    )
    assert refused.status_code == 404
    assert RadiomicsRun.objects.count() == 0

    run_id = _request(api_member, world, series, on_commit).json()["public_id"]
    for name in ("api-radiomics-run-detail", "api-radiomics-run-csv"):
        assert outsider.get(_run_url(world, run_id, name)).status_code == 404
    listed = reverse("api-radiomics-run-list", kwargs={"public_id": world.patient.public_id})
    assert outsider.get(listed).status_code == 404


def test_hospital_systems_are_scoped_to_their_institution(
    world: World,
    series: Series,
    api_integration: APIClient,
    api_foreign_integration: APIClient,
    on_commit: Any,
) -> None:
    created = _request(api_integration, world, series, on_commit)
    assert created.status_code == 202
    run_id = created.json()["public_id"]
    assert api_integration.get(_run_url(world, run_id)).json()["status"] == "succeeded"
    assert api_foreign_integration.get(_run_url(world, run_id)).status_code == 404
    refused = api_foreign_integration.post(
        _series_url(world, series),
        {"mask_id": _mask_id(series), "preset": "ct-default"},
        format="json",
    )
    assert refused.status_code == 404


def test_each_access_writes_one_audit_event(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    run_id = _request(api_member, world, series, on_commit).json()["public_id"]
    events = AuditEvent.objects.filter(object_id=run_id).order_by("pk")
    # The request (web/api, the member) and the job's write (channel job).
    assert [(e.action, e.channel, e.actor_username) for e in events] == [
        ("create", "api", "member"),
        ("update", "job", "member"),
    ]
    assert events[1].detail["count"] > 100
    before = AuditEvent.objects.count()

    api_member.get(_run_url(world, run_id))
    view = AuditEvent.objects.latest("pk")
    assert (view.action, view.object_id, view.patient_id) == ("view", run_id, world.patient.pk)

    api_member.get(_run_url(world, run_id, "api-radiomics-run-csv"))
    export = AuditEvent.objects.latest("pk")
    assert (export.action, export.detail) == ("export", {"format": "csv"})

    _request(api_member, world, series, on_commit)  # reused: a view of the stored run
    reused = AuditEvent.objects.latest("pk")
    assert (reused.action, reused.object_id) == ("view", run_id)
    assert AuditEvent.objects.count() == before + 3


def test_the_csv_has_one_row_per_feature_by_research_id_without_identifiers(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    run_id = _request(api_member, world, series, on_commit).json()["public_id"]
    run = api_member.get(_run_url(world, run_id)).json()

    response = api_member.get(_run_url(world, run_id, "api-radiomics-run-csv"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(svc.CSV_COLUMNS)
    assert len(rows) == len(run["features"])
    assert {r["research_id"] for r in rows} == {world.patient.research_id}
    assert {r["series_id"] for r in rows} == {str(series.public_id)}
    assert {(r["mask_label"], r["preset"]) for r in rows} == {("GTV-1", "ibsi-A")}
    by_name = {r["feature"]: r for r in rows}
    assert float(by_name["stat_mean"]["value"]) == pytest.approx(-72.5)
    assert by_name["stat_mean"]["ibsi_code"] == "Q4LE"
    for identifier in (world.patient.mrn, world.patient.family_name, world.patient.given_name):
        assert identifier not in text


def test_a_mask_label_cannot_smuggle_a_spreadsheet_formula_into_the_csv(
    world: World, api_member: APIClient, on_commit: Any
) -> None:
    series = store_ct_with_structure_set(world.patient, roi_name="=HYPERLINK(1)")
    run_id = _request(api_member, world, series, on_commit).json()["public_id"]
    text = api_member.get(_run_url(world, run_id, "api-radiomics-run-csv")).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["mask_label"] for r in rows} == {"'=HYPERLINK(1)"}


def test_the_series_endpoint_lists_masks_presets_and_runs(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    run_id = _request(api_member, world, series, on_commit).json()["public_id"]
    body = api_member.get(_series_url(world, series)).json()
    assert body["masks"] == [{"id": _mask_id(series), "label": "GTV-1", "kind": "rtstruct"}]
    assert "ct-default" in body["presets"]
    assert "ibsi-phantom" not in body["presets"]
    assert [r["public_id"] for r in body["runs"]] == [run_id]
    assert "features" not in body["runs"][0]  # lists carry counts; the run carries values


def test_the_run_list_query_count_does_not_grow_with_the_runs(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("api-radiomics-run-list", kwargs={"public_id": world.patient.public_id})
    _request(api_member, world, series, on_commit)
    with CaptureQueriesContext(connection) as one:
        assert len(api_member.get(url).json()) == 1
    for preset in ("ibsi-B", "ibsi-C", "ct-default"):
        _request(api_member, world, series, on_commit, preset=preset)
    with CaptureQueriesContext(connection) as four:
        assert len(api_member.get(url).json()) == 4
    assert len(one.captured_queries) > 0
    assert len(four.captured_queries) == len(one.captured_queries)


# --- stored masks --------------------------------------------------------------------------


def test_a_drawn_mask_is_a_mask_source_and_an_edit_is_new_input(
    world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    import numpy as np

    from imaging.services import masks as mask_service

    plane = np.zeros(series_volume_shape(series)[1:], dtype=bool)
    plane[LESION[1], LESION[2]] = True  # the lesion's rectangle, drawn on slice 4 only
    with on_commit():
        drawn = mask_service.mask_save_drawing(
            actor=world.member, patient=world.patient, series=series, slices={4: plane}
        )
    masks = {m.id: m for m in svc.series_radiomics_masks(series)}
    assert masks[drawn.public_id.hex].kind == "drawn"

    first = _request(api_member, world, series, on_commit, mask_id=drawn.public_id.hex)
    assert first.status_code == 202
    values = _features(api_member.get(_run_url(world, first.json()["public_id"])).json())
    # Slice 4 of HU = 10 (x - 24) + 5 z over x 10..19: mean -95 + 20; 80 voxels of 0.5 mm3.
    assert values["stat_mean"] == pytest.approx(synthetic_hu()[4][LESION[1:]].mean())  # -75
    assert values["morph_approximate_volume"] == pytest.approx(80 * 0.5)

    widened = plane.copy()
    widened[LESION[1], 20] = True
    with on_commit():
        edited = mask_service.mask_save_drawing(
            actor=world.member,
            patient=world.patient,
            series=series,
            slices={4: widened},
            mask=drawn,
        )
    second = _request(api_member, world, series, on_commit, mask_id=edited.public_id.hex)
    assert second.status_code == 202  # new voxels, new input key: computed, not reused
    assert second.json()["public_id"] != first.json()["public_id"]


def series_volume_shape(series: Series) -> tuple[int, int, int]:
    from imaging import viewer_series

    return viewer_series.series_volume(series).shape


@pytest.mark.parametrize("preset", ["ibsi-A", "ct-default"])
def test_the_job_stores_exactly_what_the_engine_extracts_with_its_stable_names(
    preset: str, world: World, series: Series, api_member: APIClient, on_commit: Any
) -> None:
    # The job computes family by family (for progress); the result must be the engine's own
    # one-call extraction, same names in the same order, same IBSI codes and values.
    from imaging import viewer_series
    from imaging.radiomics import extract

    run_id = _request(api_member, world, series, on_commit, preset=preset).json()["public_id"]
    stored = api_member.get(_run_url(world, run_id)).json()["features"]

    volume = viewer_series.series_volume(series)
    source = viewer_series.series_masks(series)[0]
    mask = viewer_series.source_mask(viewer_series.volume_key(series), volume, source)
    expected = extract(volume, mask, PRESETS[preset])
    assert [(f["feature"], f["ibsi_code"]) for f in stored] == [
        (v.key, v.ibsi_code) for v in expected.values
    ]
    assert [f["value"] for f in stored] == pytest.approx(
        [v.value for v in expected.values], nan_ok=True
    )
    assert all(f["value"] is not None for f in stored)


def _ct_and_structure_set_files(mrn: str) -> list[tuple[str, bytes]]:
    from imaging.dicom.synthetic import synthetic_series
    from tests.imaging.viewer_data import ORIGIN, _bytes, _rtstruct

    images = synthetic_series(synthetic_hu() + 1024, spacing=SPACING, origin=ORIGIN)
    structure_set = _rtstruct(images[0], "GTV-1")
    files = []
    for i, ds in enumerate([*images, structure_set]):
        ds.PatientID = mrn
        files.append((f"file{i}.dcm", _bytes(ds)))
    return files


def _ingest(world: World, files: list[tuple[str, bytes]]) -> None:
    from imaging.services.ingest import IngestBatch

    batch = IngestBatch(actor=world.member, institution=world.institution, channel="command")
    for name, data in files:
        batch.add(name, data)
    results = batch.finish()
    assert {r.status for r in results} == {"stored"}, [r.reason for r in results]


@pytest.mark.django_db(transaction=True)
def test_a_structure_set_arriving_at_ingest_gets_default_preset_runs_for_its_rois(
    world: World,
) -> None:
    _ingest(world, _ct_and_structure_set_files(world.patient.mrn))
    run = RadiomicsRun.objects.get()
    assert (run.series.modality, run.mask_label, run.preset) == ("CT", "GTV-1", "ct-default")
    # No broker here: the job ran when the batch's transaction committed.
    assert run.completed_at is not None
    assert run.job is not None
    assert run.job.status == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_no_runs_at_ingest_when_the_site_turns_the_hook_off(world: World, settings: Any) -> None:
    settings.RADIOMICS_ON_NEW_MASKS = False
    _ingest(world, _ct_and_structure_set_files(world.patient.mrn))
    assert Series.objects.filter(modality="RTSTRUCT").exists()
    assert not RadiomicsRun.objects.exists()


def test_a_saved_drawn_mask_gets_a_default_preset_run_in_its_transaction(
    world: World, series: Series, on_commit: Any
) -> None:
    import numpy as np

    from imaging.services import masks as mask_service

    plane = np.zeros(series_volume_shape(series)[1:], dtype=bool)
    plane[LESION[1], LESION[2]] = True
    with on_commit():
        drawn = mask_service.mask_save_drawing(
            actor=world.member, patient=world.patient, series=series, slices={4: plane}
        )
    runs = {r.mask_id: r for r in RadiomicsRun.objects.filter(preset="ct-default")}
    # The drawn mask and the structure set's ROI of the same series, both computed.
    assert set(runs) == {drawn.public_id.hex, _mask_id(series)}
    assert all(r.completed_at is not None for r in runs.values())
