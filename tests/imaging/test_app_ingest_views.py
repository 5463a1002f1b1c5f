"""The imaging pages and the upload API, persona by persona: a member of the care team, a
clinician outside it, an integration client, an anonymous user, and the institution's data
manager for the unmatched queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pydicom.uid import generate_uid
from rest_framework.test import APIClient

from core.models import AuditEvent, Role
from imaging.models import Instance, Study, UnmatchedStudy
from imaging.services.ingest import dicom_ingest
from tests.conftest import World
from tests.factories import PatientFactory, UserFactory
from tests.imaging.test_app_ingest import ct_bytes, zip_of


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _upload_url(world: World) -> str:
    return reverse("imaging:ingest-upload", kwargs={"public_id": world.patient.public_id})


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_member_uploads_files_and_a_zip_and_sees_one_line_per_file(
    world: World, member_client: Client
) -> None:
    mrn = world.patient.mrn
    response = member_client.post(
        _upload_url(world),
        {
            "files": [
                _file("one.dcm", ct_bytes(patient_id=mrn)),
                _file("set.zip", zip_of({"a.dcm": ct_bytes(patient_id=mrn), "b.txt": b"x"})),
            ]
        },
    )
    assert response.status_code == 200
    results = [(r.filename, r.status) for r in response.context["results"]]
    assert results == [
        ("one.dcm", "stored"),
        ("set.zip/a.dcm", "stored"),
        ("set.zip/b.txt", "rejected"),
    ]
    assert b"set.zip/b.txt" in response.content
    assert Instance.objects.filter(series__study__patient=world.patient).count() == 2
    # One event for the request: the service's CREATE for the patient.
    events = AuditEvent.objects.filter(patient_id=world.patient.pk)
    assert [(e.action, e.object_type) for e in events] == [("create", "dicom_study")]


def test_an_upload_that_stores_nothing_still_leaves_one_event(
    world: World, member_client: Client
) -> None:
    response = member_client.post(_upload_url(world), {"files": [_file("x.txt", b"hello")]})
    assert response.status_code == 200
    assert [r.status for r in response.context["results"]] == ["rejected"]
    assert AuditEvent.objects.filter(patient_id=world.patient.pk).count() == 1


def test_outsider_cannot_upload_to_a_patient_outside_their_teams(
    world: World, outsider_client: Client
) -> None:
    data = ct_bytes(patient_id=world.patient.mrn)
    response = outsider_client.post(_upload_url(world), {"files": [_file("a.dcm", data)]})
    assert response.status_code == 404
    assert not Instance.objects.exists()


def test_integration_client_and_anonymous_cannot_use_the_upload_page(world: World) -> None:
    integ = Client()
    integ.force_login(world.integration)
    data = ct_bytes(patient_id=world.patient.mrn)
    assert integ.post(_upload_url(world), {"files": [_file("a.dcm", data)]}).status_code == 403
    anonymous = Client().post(_upload_url(world), {"files": [_file("a.dcm", data)]})
    assert anonymous.status_code == 302
    assert not Instance.objects.exists()


def test_study_list_and_patient_page_show_the_studies(world: World, member_client: Client):
    dicom_ingest(
        actor=None,
        institution=world.institution,
        data=ct_bytes(patient_id=world.patient.mrn),
        filename="a.dcm",
        channel="api",
    )
    study = Study.objects.get()
    listing = member_client.get(
        reverse("imaging:study-list", kwargs={"public_id": world.patient.public_id})
    )
    assert listing.status_code == 200
    assert str(study.public_id).encode() in listing.content
    detail = member_client.get(
        reverse("oncology:patient-detail", kwargs={"public_id": world.patient.public_id})
    )
    assert f"#study-{study.public_id}".encode() in detail.content


# ---------------------------------------------------------------------------------------------
# API upload
# ---------------------------------------------------------------------------------------------


def _api_url(world: World) -> str:
    return reverse("api-dicom-upload", kwargs={"public_id": world.patient.public_id})


def test_integration_client_uploads_through_the_api(world: World, api_integration: APIClient):
    data = ct_bytes(patient_id=world.patient.mrn)
    response = api_integration.post(
        _api_url(world),
        {"files": [_file("a.dcm", data), _file("a2.dcm", data)]},
        format="multipart",
    )
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["stored", "duplicate"]
    assert body["counts"] == {"stored": 1, "duplicate": 1, "unmatched": 0, "rejected": 0}
    assert body["results"][0]["study_public_id"] == str(Study.objects.get().public_id)


def test_api_upload_personas(world: World, api_member, api_foreign_integration) -> None:
    data = ct_bytes(patient_id=world.patient.mrn)
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)

    def post(client: APIClient) -> int:
        return client.post(
            _api_url(world), {"files": [_file("a.dcm", data)]}, format="multipart"
        ).status_code

    assert post(outsider) == 404
    assert post(api_foreign_integration) == 404
    assert post(APIClient()) == 401
    assert not Instance.objects.exists()
    assert post(api_member) == 200
    assert Instance.objects.count() == 1


def test_api_upload_without_files_is_a_validation_error(world, api_integration):
    response = api_integration.post(_api_url(world), {}, format="multipart")
    assert response.status_code == 400
    assert "files" in response.json()["error"]["fields"]


def _raw(client: APIClient, world: World, data: bytes, **headers: str):
    return client.generic(
        "POST", _api_url(world), data, content_type="application/dicom", **headers
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the one-statement insert (and its audit) is PostgreSQL's; SQLite takes the ORM path",
)
def test_one_file_as_an_application_dicom_body(world: World, api_integration: APIClient):
    """One DICOM file as the whole body (as Orthanc's REST POST /instances takes it): stored,
    named after Content-Disposition, one CREATE event for the request."""
    study, series = generate_uid(), generate_uid()
    first = _raw(
        api_integration,
        world,
        ct_bytes(patient_id=world.patient.mrn, study_uid=study, series_uid=series),
    )
    assert first.status_code == 200, first.content
    assert first.json()["results"][0]["filename"] == "upload.dcm"
    before = AuditEvent.objects.filter(patient_id=world.patient.pk).count()
    with CaptureQueriesContext(connection) as queries:
        response = _raw(
            api_integration,
            world,
            ct_bytes(patient_id=world.patient.mrn, study_uid=study, series_uid=series),
            HTTP_CONTENT_DISPOSITION='attachment; filename="../CT0002.dcm"',
        )
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"stored": 1, "duplicate": 0, "unmatched": 0, "rejected": 0}
    assert body["results"][0]["filename"] == "CT0002.dcm"
    assert Instance.objects.count() == 2
    events = AuditEvent.objects.filter(patient_id=world.patient.pk).order_by("id")
    assert events.count() == before + 1
    event = events.last()
    assert (event.action, event.object_id) == ("create", body["results"][0]["study_public_id"])
    assert event.detail == {"format": "dicom:api", "count": 1, "result": [event.object_id]}
    # The request's writes: the instance, its count and its audit event in one statement.
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("INSERT", "UPDATE", "WITH", "DELETE"))
    ]
    assert len(writes) == 1, writes
    assert '"core_auditevent"' in writes[0]
    assert '"imaging_instance"' in writes[0]


def test_application_dicom_body_personas_and_bad_bodies(
    world: World, api_integration: APIClient, settings
) -> None:
    data = ct_bytes(patient_id=world.patient.mrn)
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    assert _raw(outsider, world, data).status_code == 404
    assert _raw(APIClient(), world, data).status_code == 401
    assert not Instance.objects.exists()
    assert _raw(api_integration, world, b"").status_code == 400
    rejected = _raw(api_integration, world, b"hello")
    assert rejected.status_code == 200
    assert rejected.json()["counts"]["rejected"] == 1
    assert AuditEvent.objects.filter(patient_id=world.patient.pk, action="view").count() == 1
    settings.IMAGING_MAX_UPLOAD_BYTES = len(data) - 1
    assert _raw(api_integration, world, data).status_code == 413
    assert not Instance.objects.exists()


def _media_files() -> list[Path]:
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the one-statement insert (and its audit) is PostgreSQL's; SQLite takes the ORM path",
)
@pytest.mark.django_db(transaction=True)
def test_a_one_file_upload_commits_without_a_request_transaction(
    world: World, api_integration: APIClient, monkeypatch
) -> None:
    """One plain file: no BEGIN/COMMIT around the request; the instance, its count and its
    audit event are one committed statement (a new series: one transaction of the batch, with
    its event). Several files keep the request transaction. A failing statement leaves
    nothing: no row, no event, no file."""
    from imaging.services import ingest_sql

    study, series = generate_uid(), generate_uid()

    def one() -> bytes:
        return ct_bytes(patient_id=world.patient.mrn, study_uid=study, series_uid=series)

    events = AuditEvent.objects.filter(patient_id=world.patient.pk, object_type="dicom_study")
    assert _raw(api_integration, world, one()).json()["counts"]["stored"] == 1  # the ORM path
    assert events.count() == 1
    with CaptureQueriesContext(connection) as queries:
        response = _raw(api_integration, world, one())
    assert response.json()["counts"]["stored"] == 1
    sql = [q["sql"] for q in queries.captured_queries]
    assert "BEGIN" not in sql, sql
    assert "COMMIT" not in sql, sql
    assert len(sql) == 3, sql  # token, patient access, the statement
    assert events.count() == 2
    assert Instance.objects.count() == 2

    files = len(_media_files())

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ingest_sql, "instance_insert_into_series", broken)
    with pytest.raises(RuntimeError):
        _raw(api_integration, world, one())
    assert Instance.objects.count() == 2
    assert events.count() == 2
    assert len(_media_files()) == files

    monkeypatch.undo()
    two = [_file(f"{i}.dcm", ct_bytes(patient_id=world.patient.mrn)) for i in range(2)]
    with CaptureQueriesContext(connection) as queries:
        response = api_integration.post(_api_url(world), {"files": two}, format="multipart")
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert sql.count("BEGIN") == 1
    assert sql[-1] == "COMMIT"


def test_a_zip_as_the_application_dicom_body_is_expanded(world, api_integration) -> None:
    entries = {f"{i}.dcm": ct_bytes(patient_id=world.patient.mrn) for i in range(2)}
    response = _raw(api_integration, world, zip_of(entries))
    assert response.status_code == 200
    assert response.json()["counts"]["stored"] == 2


# ---------------------------------------------------------------------------------------------
# Unmatched queue pages
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def manager_client(world: World) -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.DATA_MANAGER, institution=world.institution))
    return client


@pytest.fixture
def held_entry(world: World) -> UnmatchedStudy:
    study = generate_uid()
    for _ in range(2):
        dicom_ingest(
            actor=None,
            institution=world.institution,
            data=ct_bytes(patient_id="LATE-42", study_uid=study),
            filename="f",
            channel="cstore",
        )
    return UnmatchedStudy.objects.get()


def test_data_manager_sees_the_queue_with_the_patient_id_as_sent(
    world: World, manager_client: Client, held_entry: UnmatchedStudy
) -> None:
    page = manager_client.get(reverse("imaging:queue"))
    assert page.status_code == 200
    assert b"LATE-42" in page.content
    assert str(held_entry.public_id).encode() in page.content


def test_clinicians_and_other_institutions_do_not_see_the_queue(
    world: World, member_client: Client, held_entry: UnmatchedStudy
) -> None:
    assert member_client.get(reverse("imaging:queue")).status_code == 403
    foreign = Client()
    foreign.force_login(UserFactory(role=Role.DATA_MANAGER))  # another institution
    assert b"LATE-42" not in foreign.get(reverse("imaging:queue")).content
    url = reverse("imaging:queue-resolve", kwargs={"entry_id": held_entry.public_id})
    assert foreign.get(url).status_code == 404
    assert member_client.get(url).status_code == 403


def test_data_manager_resolves_an_entry_by_mrn_search(
    world: World, manager_client: Client, held_entry: UnmatchedStudy
) -> None:
    patient = PatientFactory(institution=world.institution, mrn="LATE-42", teams=[world.team])
    url = reverse("imaging:queue-resolve", kwargs={"entry_id": held_entry.public_id})
    searched = manager_client.post(url, {"action": "search", "mrn": "LATE-42"})
    assert searched.status_code == 302
    assert "LATE-42" not in searched["Location"]
    page = manager_client.get(url)
    assert page.context["candidate"] == patient
    before = AuditEvent.objects.count()
    done = manager_client.post(url, {"action": "resolve", "patient": str(patient.public_id)})
    assert done.status_code == 302
    assert AuditEvent.objects.count() == before + 1
    held_entry.refresh_from_db()
    assert held_entry.status == "resolved"
    assert Instance.objects.filter(series__study__patient=patient).count() == 2
    assert b"LATE-42" not in manager_client.get(reverse("imaging:queue")).content


def test_resolving_without_a_search_changes_nothing(
    world: World, manager_client: Client, held_entry: UnmatchedStudy
) -> None:
    url = reverse("imaging:queue-resolve", kwargs={"entry_id": held_entry.public_id})
    response = manager_client.post(
        url, {"action": "resolve", "patient": str(world.patient.public_id)}
    )
    assert response.status_code == 302
    held_entry.refresh_from_db()
    assert held_entry.status == "open"
    assert not Instance.objects.exists()


def _store_studies(world: World, n: int) -> None:
    for _ in range(n):
        dicom_ingest(
            actor=None,
            institution=world.institution,
            data=ct_bytes(patient_id=world.patient.mrn),
            filename="a.dcm",
            channel="api",
        )


def test_the_study_list_costs_the_same_queries_for_two_studies_or_six(
    world: World, member_client: Client, django_assert_num_queries
) -> None:
    url = reverse("imaging:study-list", kwargs={"public_id": world.patient.public_id})
    _store_studies(world, 2)
    member_client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as two:
        assert member_client.get(url).status_code == 200
    _store_studies(world, 4)
    with django_assert_num_queries(len(two)):
        assert member_client.get(url).content.count(b'id="study-') == 6


def test_the_queue_costs_the_same_queries_for_one_entry_or_four(
    world: World, manager_client: Client, django_assert_num_queries
) -> None:
    def hold() -> None:
        dicom_ingest(
            actor=None,
            institution=world.institution,
            data=ct_bytes(patient_id="NOBODY"),
            filename="f",
            channel="api",
        )

    hold()
    manager_client.get(reverse("imaging:queue"))
    with CaptureQueriesContext(connection) as one:
        manager_client.get(reverse("imaging:queue"))
    for _ in range(3):
        hold()
    with django_assert_num_queries(len(one)):
        assert manager_client.get(reverse("imaging:queue")).content.count(b"NOBODY") == 4
