"""DICOMweb STOW-RS: the multipart/related request, the DICOM JSON store response with its
status codes (200, 202, 409), personas, and a real DICOMweb client against a live server."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pydicom
import pytest
from django.urls import reverse
from pydicom.uid import generate_uid
from rest_framework.test import APIClient

from core.models import AuditEvent
from imaging.api.stow import StowRequestError, parse_multipart_related
from imaging.models import Instance, UnmatchedStudy
from tests.conftest import World
from tests.imaging.test_app_ingest import ct_bytes

STOW = "/api/v1/dicomweb/studies"
REFERENCED, FAILED, RETRIEVE, REASON = "00081199", "00081198", "00081190", "00081197"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def multipart(parts: list[bytes], boundary: str = "", part_type: str = "application/dicom"):
    boundary = boundary or uuid.uuid4().hex
    head = f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode()
    body = b"".join(head + data + b"\r\n" for data in parts) + f"--{boundary}--\r\n".encode()
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    return body, content_type


def stow(client: APIClient, parts: list[bytes], url: str = STOW, **kwargs):
    body, content_type = multipart(parts, **kwargs)
    return client.generic(
        "POST", url, body, content_type=content_type, HTTP_ACCEPT="application/dicom+json"
    )


def test_all_instances_stored_is_200_with_references_and_retrieve_urls(
    world: World, api_integration: APIClient
) -> None:
    study = generate_uid()
    parts = [ct_bytes(patient_id=world.patient.mrn, study_uid=study) for _ in range(3)]
    response = stow(api_integration, parts)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/dicom+json")
    body = response.json()
    assert FAILED not in body
    refs = body[REFERENCED]["Value"]
    assert len(refs) == 3
    assert refs[0]["00081150"]["Value"] == ["1.2.840.10008.5.1.4.1.1.2"]  # CT Image Storage
    assert refs[0][RETRIEVE]["Value"][0].endswith(
        f"/api/v1/dicomweb/studies/{study}/instances/{refs[0]['00081155']['Value'][0]}"
    )
    assert body[RETRIEVE]["Value"][0].endswith(f"/studies/{study}")
    assert Instance.objects.filter(series__study__patient=world.patient).count() == 3
    # One event for the patient touched, whatever the number of instances.
    assert AuditEvent.objects.filter(patient_id=world.patient.pk).count() == 1


def test_some_failed_is_202_with_the_failure_reason(world, api_integration) -> None:
    parts = [ct_bytes(patient_id=world.patient.mrn), b"not dicom"]
    response = stow(api_integration, parts)
    assert response.status_code == 202
    body = response.json()
    assert len(body[REFERENCED]["Value"]) == 1
    (failed,) = body[FAILED]["Value"]
    assert failed[REASON] == {"vr": "US", "Value": [0xC000]}


def test_all_failed_is_409(world, api_integration) -> None:
    response = stow(api_integration, [b"junk", ct_bytes(truncate_pixels=100)])
    assert response.status_code == 409
    assert len(response.json()[FAILED]["Value"]) == 2
    assert not Instance.objects.exists()


def test_an_instance_of_another_study_than_the_url_names_fails_as_not_matching(
    world, api_integration
) -> None:
    study = generate_uid()
    url = reverse("api-dicomweb-stow-study", kwargs={"study_uid": study})
    good = ct_bytes(patient_id=world.patient.mrn, study_uid=study)
    other = ct_bytes(patient_id=world.patient.mrn)
    response = stow(api_integration, [good, other], url=url)
    assert response.status_code == 202
    (failed,) = response.json()[FAILED]["Value"]
    assert failed[REASON]["Value"] == [0xA900]
    assert Instance.objects.count() == 1


def test_a_resent_instance_is_referenced_again_and_not_stored_twice(world, api_integration):
    data = ct_bytes(patient_id=world.patient.mrn)
    assert stow(api_integration, [data]).status_code == 200
    again = stow(api_integration, [data])
    assert again.status_code == 200
    assert len(again.json()[REFERENCED]["Value"]) == 1
    assert Instance.objects.count() == 1


def test_an_unknown_patient_is_held_for_the_data_manager(world, api_integration) -> None:
    response = stow(api_integration, [ct_bytes(patient_id="NOT-YET")])
    assert response.status_code == 200
    assert UnmatchedStudy.objects.get().institution == world.institution


def test_another_institutions_system_cannot_file_into_this_institutions_patient(
    world, api_foreign_integration
) -> None:
    response = stow(api_foreign_integration, [ct_bytes(patient_id=world.patient.mrn)])
    assert response.status_code == 200
    assert not Instance.objects.exists()
    assert UnmatchedStudy.objects.get().institution != world.institution


def test_only_integration_clients_use_stow(world, api_member) -> None:
    assert stow(api_member, [ct_bytes(patient_id=world.patient.mrn)]).status_code == 403
    assert stow(APIClient(), [ct_bytes(patient_id=world.patient.mrn)]).status_code == 401
    assert not Instance.objects.exists()


def test_the_metadata_form_and_other_media_types_are_415(world, api_integration) -> None:
    body, _ = multipart([b"{}"])
    response = api_integration.generic(
        "POST",
        STOW,
        body,
        content_type='multipart/related; type="application/dicom+json"; boundary=x',
    )
    assert response.status_code == 415
    plain = api_integration.generic("POST", STOW, b"{}", content_type="application/json")
    assert plain.status_code == 415


def test_a_body_without_its_boundary_is_400(world, api_integration) -> None:
    response = api_integration.generic(
        "POST",
        STOW,
        b"garbage",
        content_type='multipart/related; type="application/dicom"; boundary=abc',
    )
    assert response.status_code == 400


def test_an_oversize_body_is_413(world, api_integration, settings) -> None:
    settings.IMAGING_MAX_UPLOAD_BYTES = 1000
    assert stow(api_integration, [ct_bytes(patient_id=world.patient.mrn)]).status_code == 413
    assert not Instance.objects.exists()


def test_a_body_with_no_parts_is_400(world, api_integration) -> None:
    body, content_type = multipart([])
    response = api_integration.generic("POST", STOW, body, content_type=content_type)
    assert response.status_code == 400


def test_the_parser_keeps_part_bytes_exactly() -> None:
    data = [b"\r\n--not-the-boundary\r\n\x00\xff", b"second"]
    body, content_type = multipart(data, boundary="b0undary")
    assert [p.data for p in parse_multipart_related(content_type, body)] == data
    with pytest.raises(StowRequestError):
        parse_multipart_related(content_type, body[:-20])


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_stores_a_series_through_the_live_server(world, live_server) -> None:
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    # No keep-alive: a connection left open would be closed by the server thread after the
    # test's shared SQLite connection is gone.
    session.headers["Connection"] = "close"
    client = DICOMwebClient(
        url=f"{live_server.url}/api/v1/dicomweb",
        session=session,
        headers={"Authorization": f"Token {world.integration_token}"},
        chunk_size=10**9,  # the test server reads Content-Length, not chunked bodies
    )
    study = generate_uid()
    datasets = [
        pydicom.dcmread(io.BytesIO(ct_bytes(patient_id=world.patient.mrn, study_uid=study)))
        for _ in range(2)
    ]
    with session:
        response = client.store_instances(datasets)
    assert len(response.ReferencedSOPSequence) == 2
    assert "FailedSOPSequence" not in response
    assert Instance.objects.filter(series__study__study_instance_uid=study).count() == 2


def test_an_unexpected_error_mid_request_leaves_no_file_behind(
    world, api_integration, settings, monkeypatch
) -> None:
    from imaging.services import ingest as ingest_module

    real = ingest_module.IngestBatch._index
    calls = {"n": 0}

    def fail_second(self, items):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("bug")
        return real(self, items)

    # Index each instance on its own, so that the first is indexed (rows and file written)
    # before the second fails.
    monkeypatch.setattr(ingest_module, "BATCH_INSTANCES", 1)
    monkeypatch.setattr(ingest_module.IngestBatch, "_index", fail_second)
    parts = [ct_bytes(patient_id=world.patient.mrn) for _ in range(2)]
    with pytest.raises(RuntimeError):
        stow(api_integration, parts)
    # The request's transaction rolls the first instance's rows back; its file goes with them.
    assert not Instance.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
