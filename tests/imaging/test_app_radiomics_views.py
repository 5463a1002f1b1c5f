"""Radiomics pages and cohort batches: the patient's runs with status and a request form, a
run's features, CSV downloads, and batches that fan out one run per (series, mask)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditEvent, Job, JobStatus, Role
from imaging import viewer
from imaging.models import RadiomicsBatch, RadiomicsRun, Series
from imaging.services import radiomics as svc
from tests.conftest import World
from tests.factories import PatientFactory, UserFactory
from tests.imaging.viewer_data import store_ct_with_structure_set


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
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _page(world: World) -> str:
    return reverse("imaging:radiomics", kwargs={"public_id": world.patient.public_id})


def _target(series: Series) -> str:
    return f"{series.public_id}:{svc.series_radiomics_masks(series)[0].id}"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the patient's radiomics page ----------------------------------------------------------


def test_the_patient_page_links_to_radiomics(world: World, member_client: Client) -> None:
    detail = reverse("oncology:patient-detail", kwargs={"public_id": world.patient.public_id})
    assert _page(world) in member_client.get(detail).content.decode()


def test_a_clinician_requests_a_run_from_the_page_and_sees_its_features(
    world: World, series: Series, member_client: Client, on_commit: Any
) -> None:
    page = member_client.get(_page(world)).content.decode()
    assert _target(series) in page  # the form offers the series' structure-set ROI
    assert "GTV-1" in page

    with on_commit():
        response = member_client.post(_page(world), {"target": _target(series), "preset": "ibsi-A"})
    assert response.status_code == 302
    run = RadiomicsRun.objects.get()
    assert run.completed_at is not None

    listing = member_client.get(_page(world)).content.decode()
    assert "Extraction queued." in listing
    assert 'http-equiv="refresh"' not in listing  # nothing left running
    run_url = reverse(
        "imaging:radiomics-run",
        kwargs={"public_id": world.patient.public_id, "run_id": run.public_id},
    )
    assert run_url in listing
    detail = member_client.get(run_url).content.decode()
    assert "stat_mean" in detail
    assert "Q4LE" in detail
    assert run.input_key in detail


def test_a_queued_run_shows_its_status_and_the_page_refreshes(
    world: World, series: Series, member_client: Client
) -> None:
    # No on_commit: the test transaction never commits, so the job stays queued.
    member_client.post(_page(world), {"target": _target(series), "preset": "ibsi-A"})
    page = member_client.get(_page(world)).content.decode()
    assert 'http-equiv="refresh"' in page
    assert ">queued<" in page


def test_a_failed_run_can_be_retried_from_the_page(
    world: World, series: Series, member_client: Client, on_commit: Any
) -> None:
    with on_commit():
        member_client.post(_page(world), {"target": _target(series), "preset": "pet-default"})
    page = member_client.get(_page(world)).content.decode()
    assert "failed" in page
    assert 'name="retry" value="1"' in page
    jobs = Job.objects.count()
    with on_commit():
        member_client.post(
            _page(world), {"target": _target(series), "preset": "pet-default", "retry": "1"}
        )
    assert Job.objects.count() == jobs + 1
    assert RadiomicsRun.objects.count() == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"preset": "ibsi-A"}, "Choose a series and a mask."),
        ({"preset": "nonsense"}, "Unknown preset"),
        ({"preset": "ibsi-A", "mask": "x"}, "No such mask on this series."),
    ],
)
def test_bad_form_input_is_explained_and_creates_nothing(
    form: dict[str, str], message: str, world: World, series: Series, member_client: Client
) -> None:
    data = dict(form)
    if "mask" in data:
        data["target"] = f"{series.public_id}:{data.pop('mask')}"
    elif form["preset"] == "nonsense":
        data["target"] = _target(series)
    response = member_client.post(_page(world), data, follow=True)
    assert message in response.content.decode()
    assert RadiomicsRun.objects.count() == 0
    assert Job.objects.count() == 0


def test_an_outsider_cannot_request_or_read(
    world: World, series: Series, member_client: Client, outsider_client: Client, on_commit: Any
) -> None:
    refused = outsider_client.post(_page(world), {"target": _target(series), "preset": "ibsi-A"})
    assert refused.status_code == 404
    assert RadiomicsRun.objects.count() == 0
    with on_commit():
        member_client.post(_page(world), {"target": _target(series), "preset": "ibsi-A"})
    run = RadiomicsRun.objects.get()
    for name in ("imaging:radiomics-run", "imaging:radiomics-run-csv"):
        url = reverse(name, kwargs={"public_id": world.patient.public_id, "run_id": run.public_id})
        assert outsider_client.get(url).status_code == 404


def test_the_page_lists_with_one_audit_event(
    world: World, series: Series, member_client: Client
) -> None:
    before = AuditEvent.objects.count()
    member_client.get(_page(world))
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("pk")
    assert (event.action, event.object_type, event.patient_id) == (
        "list",
        "radiomics_run",
        world.patient.pk,
    )


# --- batches -------------------------------------------------------------------------------


@pytest.fixture
def cohort(world: World) -> dict[str, Any]:
    """The world's patient and a second one in the team (each with a CT + structure set), and
    a third outside the oncologist's teams."""
    second = PatientFactory(institution=world.institution, teams=[world.team])
    hidden = PatientFactory(institution=world.institution, teams=[world.other_team])
    return {
        "visible": [world.patient, second],
        "hidden": hidden,
        "series": [
            store_ct_with_structure_set(world.patient),
            store_ct_with_structure_set(second, roi_name="GTV-2"),
            store_ct_with_structure_set(hidden),
        ],
    }


def test_an_oncologist_runs_a_batch_over_the_visible_cohort_and_downloads_one_csv(
    world: World, cohort: dict[str, Any], on_commit: Any
) -> None:
    client = _client(world.oncologist)
    with on_commit():
        response = client.post(reverse("imaging:radiomics-batches"), {"preset": "ibsi-A"})
    batch = RadiomicsBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "imaging:radiomics-batch", kwargs={"batch_id": batch.public_id}
    )
    runs = RadiomicsRun.objects.filter(batch=batch)
    assert {r.patient for r in runs} == set(cohort["visible"])  # never the hidden patient
    assert all(r.completed_at is not None for r in runs)
    assert Job.objects.filter(kind=svc.JOB_KIND).count() == 2  # one job a run: fans out

    detail = client.get(response["Location"]).content.decode()
    assert "2 runs: 2 done" in detail

    csv_url = reverse("imaging:radiomics-batch-csv", kwargs={"batch_id": batch.public_id})
    rows = list(csv.DictReader(io.StringIO(client.get(csv_url).content.decode())))
    assert {r["research_id"] for r in rows} == {p.research_id for p in cohort["visible"]}
    assert {r["mask_label"] for r in rows} == {"GTV-1", "GTV-2"}
    per_run = {r["run_id"] for r in rows}
    assert per_run == {str(r.public_id) for r in runs}
    exports = AuditEvent.objects.filter(object_type="radiomics_batch", action="export")
    assert sorted(e.patient_id for e in exports) == sorted(p.pk for p in cohort["visible"])


def test_a_batch_filters_by_research_id_and_mask_label_and_reuses_computed_runs(
    world: World, cohort: dict[str, Any], on_commit: Any
) -> None:
    client = _client(world.oncologist)
    second = cohort["visible"][1]
    with on_commit():
        client.post(
            reverse("imaging:radiomics-batches"),
            {
                "preset": "ibsi-A",
                "research_ids": f"{second.research_id}\n{world.patient.research_id}",
            },
        )
    jobs = Job.objects.filter(kind=svc.JOB_KIND).count()
    with on_commit():
        client.post(
            reverse("imaging:radiomics-batches"),
            {"preset": "ibsi-A", "mask_label": "gtv-2", "modality": "ct"},
        )
    later = RadiomicsBatch.objects.order_by("-pk").first()
    assert later is not None
    # The GTV-2 run was computed by the first batch: no new run job.
    assert Job.objects.filter(kind=svc.JOB_KIND).count() == jobs
    # The reused run belongs to the first batch, and is still part of the later one.
    reused = RadiomicsRun.objects.get(mask_label="GTV-2")
    assert reused.batch != later
    csv_url = reverse("imaging:radiomics-batch-csv", kwargs={"batch_id": later.public_id})
    rows = list(csv.DictReader(io.StringIO(client.get(csv_url).content.decode())))
    assert {(r["run_id"], r["mask_label"]) for r in rows} == {(str(reused.public_id), "GTV-2")}
    listing = client.get(reverse("imaging:radiomics-batches")).content.decode()
    assert str(later.public_id) in listing
    detail = client.get(reverse("imaging:radiomics-batch", kwargs={"batch_id": later.public_id}))
    assert "1 run: 1 done" in detail.content.decode()


def test_batches_are_not_for_clinicians_and_are_private_to_their_creator(
    world: World, cohort: dict[str, Any], member_client: Client, on_commit: Any
) -> None:
    assert member_client.get(reverse("imaging:radiomics-batches")).status_code == 403
    refused = member_client.post(reverse("imaging:radiomics-batches"), {"preset": "ibsi-A"})
    assert refused.status_code == 403
    assert RadiomicsBatch.objects.count() == 0

    with on_commit():
        _client(world.oncologist).post(reverse("imaging:radiomics-batches"), {"preset": "ibsi-A"})
    batch = RadiomicsBatch.objects.get()
    colleague = UserFactory(role=Role.ONCOLOGIST, institution=world.institution, teams=[world.team])
    for name in ("imaging:radiomics-batch", "imaging:radiomics-batch-csv"):
        url = reverse(name, kwargs={"batch_id": batch.public_id})
        assert _client(colleague).get(url).status_code == 404


def test_a_hospital_system_runs_a_batch_over_its_institution_through_the_api(
    world: World, cohort: dict[str, Any], api_integration: APIClient, on_commit: Any
) -> None:
    with on_commit():
        response = api_integration.post(
            reverse("api-radiomics-batch-list"), {"preset": "ibsi-A"}, format="json"
        )
    assert response.status_code == 202
    body = response.json()
    assert body["plan"]["status"] == "queued"  # planned by a job after the commit
    detail = api_integration.get(
        reverse("api-radiomics-batch-detail", kwargs={"batch_id": body["public_id"]})
    ).json()
    # An integration client sees every patient of its institution, the hidden one included.
    assert detail["counts"] == {"queued": 0, "running": 0, "succeeded": 3, "failed": 0, "total": 3}
    assert detail["plan"]["status"] == "succeeded"
    assert detail["plan"]["result"] == {"patients": 3, "runs": 3, "queued": 3}
    assert {r["status"] for r in detail["runs"]} == {"succeeded"}
    listed = api_integration.get(reverse("api-radiomics-batch-list")).json()
    assert [b["public_id"] for b in listed] == [body["public_id"]]
    assert listed[0]["counts"] == detail["counts"]


def test_a_batch_request_with_a_bad_preset_or_patient_id_creates_nothing(
    world: World, cohort: dict[str, Any], api_integration: APIClient
) -> None:
    url = reverse("api-radiomics-batch-list")
    bad_preset = api_integration.post(url, {"preset": "nope"}, format="json")
    assert bad_preset.status_code == 400
    assert "preset" in bad_preset.json()["error"]["fields"]
    bad_id = api_integration.post(url, {"preset": "ibsi-A", "patients": ["x"]}, format="json")
    assert bad_id.status_code == 400
    assert RadiomicsBatch.objects.count() == 0
    assert Job.objects.count() == 0


def test_batch_status_aggregates_queued_runs(
    world: World, cohort: dict[str, Any], api_integration: APIClient
) -> None:
    from core.jobs import job_execute

    body = api_integration.post(
        reverse("api-radiomics-batch-list"), {"preset": "ibsi-A"}, format="json"
    ).json()
    detail_url = reverse("api-radiomics-batch-detail", kwargs={"batch_id": body["public_id"]})
    assert api_integration.get(detail_url).json()["counts"]["total"] == 0  # not planned yet
    # Plan now, in this (never committed) test transaction: the runs' jobs stay queued.
    plan = Job.objects.get(kind=svc.PLAN_JOB_KIND)
    assert job_execute(plan.pk) == ("succeeded", 0)
    detail = api_integration.get(detail_url).json()
    assert detail["counts"]["queued"] == 3
    listed = api_integration.get(reverse("api-radiomics-batch-list")).json()
    assert listed[0]["counts"] == detail["counts"]
    assert listed[0]["plan"]["status"] == "succeeded"
    Job.objects.filter(kind=svc.JOB_KIND).update(status=JobStatus.FAILED, error="JobError: x")
    detail = api_integration.get(detail_url).json()
    assert detail["counts"]["failed"] == 3
    assert {r["error"] for r in detail["runs"]} == {"JobError: x"}


def test_the_plan_audits_one_event_per_patient_as_the_creator_on_the_job_channel(
    world: World, cohort: dict[str, Any], on_commit: Any
) -> None:
    client = _client(world.oncologist)
    with on_commit():
        client.post(reverse("imaging:radiomics-batches"), {"preset": "ibsi-A"})
    batch = RadiomicsBatch.objects.get()
    events = AuditEvent.objects.filter(object_type="radiomics_batch", object_id=batch.public_id)
    request_event = events.get(patient_id__isnull=True)
    assert (request_event.action, request_event.detail) == ("create", {"count": 2})
    planned = events.filter(patient_id__isnull=False)
    assert sorted(e.patient_id for e in planned) == sorted(p.pk for p in cohort["visible"])
    assert {(e.action, e.channel, e.actor_username) for e in planned} == {
        ("create", "job", "oncologist")
    }


def test_a_patient_who_left_the_creators_teams_before_planning_is_left_out(
    world: World, cohort: dict[str, Any], on_commit: Any
) -> None:
    from core.jobs import job_execute

    client = _client(world.oncologist)
    client.post(reverse("imaging:radiomics-batches"), {"preset": "ibsi-A"})
    second = cohort["visible"][1]
    second.care_teams.clear()  # access changes between the request and the plan
    plan = Job.objects.get(kind=svc.PLAN_JOB_KIND)
    job_execute(plan.pk)
    assert {r.patient for r in RadiomicsRun.objects.all()} == {world.patient}
