"""Screening pages and API: the worklist by top score with the ranking said, batch progress, a
run's findings with confirm/reject, the viewer's findings layer, the API's batches, worklist,
run and review, with access and audit.

The pure library is the TEST DOUBLE of tests/imaging/screening_data.py (through the service's
`_pipeline()` lookup): two bright cubes per series, scores 0.9 and 0.4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditEvent
from imaging import viewer
from imaging.models import Finding, Mask, ScreeningBatch, ScreeningRun
from imaging.services import screening as svc
from tests.conftest import World
from tests.factories import PatientFactory
from tests.imaging import screening_data
from tests.imaging.screening_data import screening_hu, store_ct


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


@pytest.fixture
def oncologist_client(world: World) -> Client:
    c = Client()
    c.force_login(world.oncologist)
    return c


def _screened(world: World, oncologist_client: Client, on_commit: Any) -> ScreeningRun:
    series = store_ct(world.patient)
    with on_commit():
        response = oncologist_client.post(reverse("imaging:screening"), {"research_ids": ""})
    assert response.status_code == 302
    return ScreeningRun.objects.get(series=series)


def test_the_worklist_page_starts_a_batch_and_lists_runs_by_top_score(
    world: World, oncologist_client: Client, on_commit: Any
) -> None:
    second = PatientFactory(institution=world.institution, teams=[world.team])
    dim = screening_hu()
    dim[dim == 900] = 300  # best candidate 0.4
    store_ct(second, hu=dim)
    store_ct(world.patient)

    with on_commit():
        started = oncologist_client.post(reverse("imaging:screening"), {"research_ids": ""})

    batch = ScreeningBatch.objects.get()
    assert started["Location"] == reverse("imaging:screening-batch", args=[batch.public_id])
    page = oncologist_client.get(started["Location"]).content.decode()
    assert "2 of 2 series screened" in page
    html = oncologist_client.get(reverse("imaging:screening")).content.decode()
    assert "Classical ranking (no site-trained false-positive model yet)" in html
    assert 'data-ranking="classical"' in html
    first, then = html.index(world.patient.research_id), html.index(second.research_id)
    assert first < then  # 0.900 before 0.400
    assert "0.900" in html
    assert "0.400" in html
    assert 'href="/screening/"' in html  # the nav link


def test_a_clinician_may_not_start_a_batch(world: World, member_client: Client) -> None:
    response = member_client.post(reverse("imaging:screening"), {"research_ids": ""})
    assert response.status_code == 403
    assert not ScreeningBatch.objects.exists()
    page = member_client.get(reverse("imaging:screening")).content.decode()
    assert "Start screening" not in page


def test_the_run_page_lists_findings_and_a_confirmation_makes_a_mask(
    world: World, oncologist_client: Client, member_client: Client, on_commit: Any
) -> None:
    run = _screened(world, oncologist_client, on_commit)
    page = member_client.get(reverse("imaging:screening-run", args=[run.public_id]))
    html = page.content.decode()
    assert page.status_code == 200
    top = run.findings.get(rank=1)
    assert f'data-finding="{top.public_id}"' in html
    assert f"?finding={top.public_id}" in html  # opens the viewer on it
    assert html.count('value="confirm"') == 2

    with on_commit():
        response = member_client.post(
            reverse("imaging:screening-finding-review", args=[top.public_id]),
            {"decision": "confirm"},
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("imaging:screening-run", args=[run.public_id])
    top.refresh_from_db()
    assert top.status == "confirmed"
    assert Mask.objects.get(pk=top.mask_id).kind == "screening"
    html = member_client.get(response["Location"]).content.decode()
    assert "Finding #1 confirmed." in html


def test_a_review_answers_json_for_the_viewer_and_refuses_an_unknown_decision(
    world: World, oncologist_client: Client, member_client: Client, on_commit: Any
) -> None:
    run = _screened(world, oncologist_client, on_commit)
    top = run.findings.get(rank=1)
    url = reverse("imaging:screening-finding-review", args=[top.public_id])
    bad = member_client.post(url, {"decision": "maybe"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 422
    assert "decision" in bad.json()["error"]
    ok = member_client.post(url, {"decision": "reject"}, HTTP_ACCEPT="application/json")
    assert ok.status_code == 200
    assert ok.json()["status"] == "rejected"
    assert not Mask.objects.exists()


def test_a_review_does_not_redirect_off_site(
    world: World, oncologist_client: Client, member_client: Client, on_commit: Any
) -> None:
    run = _screened(world, oncologist_client, on_commit)
    top = run.findings.get(rank=1)
    response = member_client.post(
        reverse("imaging:screening-finding-review", args=[top.public_id]),
        {"decision": "reject", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("imaging:screening-run", args=[run.public_id])


def test_the_viewer_findings_layer_gives_centres_and_review_links(
    world: World, oncologist_client: Client, member_client: Client, on_commit: Any
) -> None:
    run = _screened(world, oncologist_client, on_commit)
    url = reverse(
        "imaging:viewer-findings",
        kwargs={"public_id": world.patient.public_id, "series_id": run.series.public_id},
    )
    body = member_client.get(url).json()
    assert body["run"]["ranking"] == "classical"
    assert [f["centre_voxel"] for f in body["findings"]] == [[5, 6, 8], [13, 22, 24]]
    assert body["findings"][0]["review_url"].endswith("/review/")
    assert body["can_review"] is True
    viewer_page = member_client.get(
        reverse(
            "imaging:viewer",
            kwargs={"public_id": world.patient.public_id, "series_id": run.series.public_id},
        )
    ).content.decode()
    assert "js/viewer-findings.js" in viewer_page
    assert 'id="viewer-findings"' in viewer_page


def test_the_api_starts_a_batch_and_reads_the_worklist_run_and_batch(
    world: World, api_integration: APIClient, on_commit: Any
) -> None:
    store_ct(world.patient)
    with on_commit():
        created = api_integration.post(reverse("api-screening-batch-list"), {}, format="json")
    assert created.status_code == 202
    assert created.json()["queued"] == 1

    runs = api_integration.get(reverse("api-screening-worklist")).json()
    assert [r["status"] for r in runs] == ["done"]
    assert runs[0]["max_score"] == pytest.approx(0.9)
    assert runs[0]["pending_review"] == 2
    assert runs[0]["ranking_note"].startswith("Classical ranking")
    detail = api_integration.get(
        reverse("api-screening-run-detail", args=[runs[0]["public_id"]])
    ).json()
    assert [f["rank"] for f in detail["findings"]] == [1, 2]
    assert detail["findings"][0]["nodule_type"] == "solid"
    assert detail["lungs"]["volumes_ml"]["total"] == 3.0
    batch = api_integration.get(
        reverse("api-screening-batch-detail", args=[created.json()["public_id"]])
    ).json()
    assert batch["counts"] == {"queued": 0, "running": 0, "done": 1, "failed": 0, "total": 1}
    again = api_integration.post(reverse("api-screening-batch-list"), {}, format="json")
    assert again.json()["queued"] == 0
    assert again.json()["already_screened"] == 1


def test_the_api_review_is_for_clinicians_of_the_care_team(
    world: World, api_integration: APIClient, api_member: APIClient, on_commit: Any
) -> None:
    store_ct(world.patient)
    with on_commit():
        api_integration.post(reverse("api-screening-batch-list"), {}, format="json")
    finding = Finding.objects.get(rank=1)
    url = reverse("api-screening-finding-review", args=[finding.public_id])

    assert api_integration.post(url, {"decision": "confirm"}, format="json").status_code == 403
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    assert outsider.post(url, {"decision": "confirm"}, format="json").status_code == 404
    bad = api_member.post(url, {"decision": "perhaps"}, format="json")
    assert bad.status_code == 400
    with on_commit():
        ok = api_member.post(url, {"decision": "confirm"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["status"] == "confirmed"
    assert ok.json()["mask_public_id"] == str(Mask.objects.get().public_id)
    event = AuditEvent.objects.get(object_type="screening_finding")
    assert event.actor_id == world.member.pk
    assert event.detail == {"result": "confirmed"}


def test_the_api_refuses_a_listed_series_that_is_not_a_ct_volume(
    world: World, api_integration: APIClient
) -> None:
    short = store_ct(world.patient, hu=screening_hu()[:4])
    response = api_integration.post(
        reverse("api-screening-batch-list"), {"series": [str(short.public_id)]}, format="json"
    )
    assert response.status_code == 400
    assert "not a CT volume" in str(response.json())
    assert not ScreeningBatch.objects.exists()


def test_another_institution_sees_neither_batches_nor_runs(
    world: World, api_integration: APIClient, api_foreign_integration: APIClient, on_commit: Any
) -> None:
    store_ct(world.patient)
    with on_commit():
        created = api_integration.post(reverse("api-screening-batch-list"), {}, format="json")
    foreign = api_foreign_integration
    batch_url = reverse("api-screening-batch-detail", args=[created.json()["public_id"]])
    assert foreign.get(batch_url).status_code == 404
    assert foreign.get(reverse("api-screening-worklist")).json() == []
    assert foreign.get(reverse("api-screening-batch-list")).json() == []


def test_the_run_page_shows_a_findings_malignancy_only_from_a_site_ct_model(
    world: World, oncologist_client: Client, member_client: Client, on_commit: Any
) -> None:
    from imaging.models import LesionModel, LesionPrediction

    run = _screened(world, oncologist_client, on_commit)
    top = run.findings.get(rank=1)
    html = member_client.get(reverse("imaging:screening-run", args=[run.public_id])).content
    assert b"does not apply to CT findings" in html
    assert b">Estimate<" not in html
    refused = member_client.post(
        reverse("imaging:screening-finding-malignancy", args=[top.public_id]), follow=True
    )
    assert "no active malignancy model trained on its own CT lesions" in refused.content.decode()
    assert not LesionPrediction.objects.exists()

    model = LesionModel.objects.create(
        name="north-ct-malignancy",
        version=1,
        kind="malignancy",
        institution=world.institution,
        status="active",
        algorithm="logistic",
        training_source="site lesions",
        training_data_sha256="1" * 64,
        artifact_sha256="b" * 64,
    )
    LesionPrediction.objects.create(
        patient=world.patient,
        model=model,
        finding=top,
        inputs={},
        inputs_sha256="2" * 64,
        probability=0.734,
    )
    html = member_client.get(reverse("imaging:screening-run", args=[run.public_id])).content
    text = html.decode()
    assert 'title="north-ct-malignancy v1">0.73<' in text
    assert text.count(">Estimate<") == 1  # the second finding has no prediction yet
    assert "north-ct-malignancy v1, trained on its own CT lesions" in text
