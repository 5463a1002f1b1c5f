"""Bad input is a 4xx in the one error format, names the field, and writes nothing."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import override_settings

from core.api.throttling import ClientRateThrottle
from core.models import AuditEvent
from oncology.models import Patient
from tests.oncology.api.payloads import lung_record

pytestmark = pytest.mark.django_db

LIST = "/api/v1/patients/"
BULK = "/api/v1/patients/bulk/"


@pytest.fixture
def nothing_written(world):
    before = (Patient.objects.count(), AuditEvent.objects.count())
    yield
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["request_id"]
    return error


@pytest.mark.parametrize("path", [LIST, BULK])
def test_malformed_json_is_a_400(api_integration, nothing_written, path):
    response = api_integration.post(path, '{"mrn": "1",', content_type="application/json")
    assert _error(response, 400)["code"] == "malformed_request"


@pytest.mark.parametrize("path", [LIST, BULK])
def test_a_body_that_is_not_json_is_a_415(api_integration, nothing_written, path):
    response = api_integration.post(path, "mrn=1", content_type="text/plain")
    assert _error(response, 415)["code"] == "unsupported_media_type"


def test_a_json_list_instead_of_a_record_is_a_400(api_integration, nothing_written):
    response = api_integration.post(LIST, [lung_record(1)], format="json")
    assert "non_field_errors" in _error(response, 400)["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"birth_date": "not a date"}, "birth_date"),
        ({"sex": "F"}, "sex"),
        ({"smoking_pack_years": "many"}, "smoking_pack_years"),
        ({"care_teams": "thoracic"}, "care_teams"),
        ({"labs": {"code": "718-7"}}, "labs"),
        ({"nickname": "Addie"}, "nickname"),
        ({"care_teams": ["thoracic", "no-such-team"]}, "care_teams[1]"),
    ],
)
def test_a_wrong_type_unknown_key_or_unknown_code_is_a_400_naming_the_field(
    api_integration, nothing_written, change, field
):
    response = api_integration.post(LIST, lung_record(1, **change), format="json")
    error = _error(response, 400)
    assert error["code"] == "validation_error"
    assert field in error["fields"]


def test_nested_errors_name_the_item_and_its_field(api_integration, nothing_written):
    record = lung_record(1)
    record["labs"][1]["value"] = "high"
    record["surgeries"][0]["margin"] = "R0"
    record["diagnoses"][0]["laterality"] = "up"

    fields = _error(api_integration.post(LIST, record, format="json"), 400)["fields"]

    assert {"labs[1].value", "surgeries[0].margin", "diagnoses[0].laterality"} <= set(fields)


def test_error_messages_do_not_echo_patient_values(api_integration, nothing_written):
    record = lung_record(1, birth_date="1958-13-45")
    error = _error(api_integration.post(LIST, record, format="json"), 400)
    assert "1958-13-45" not in json.dumps(error)


@pytest.mark.parametrize(
    "body", [{}, {"records": "all"}, {"records": []}, {"records": [1], "extra": 1}]
)
def test_a_bad_bulk_envelope_is_a_400(api_integration, nothing_written, body):
    response = api_integration.post(BULK, body, format="json")
    assert _error(response, 400)["code"] == "validation_error"


@override_settings(API_BULK_MAX_RECORDS=3)
def test_more_bulk_records_than_the_cap_is_a_400_naming_records(api_integration, nothing_written):
    records = [lung_record(i) for i in range(4)]
    response = api_integration.post(BULK, {"records": records}, format="json")
    assert "records" in _error(response, 400)["fields"]


@pytest.mark.parametrize("path", [LIST, BULK])
def test_a_body_over_the_upload_limit_is_a_413_not_a_500(api_integration, nothing_written, path):
    body = {"records": [lung_record(i) for i in range(20)]} if path == BULK else lung_record(1)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = api_integration.post(path, body, format="json")
    assert _error(response, 413)["code"] == "payload_too_large"


def test_an_unknown_patient_id_is_a_404(api_integration):
    response = api_integration.get("/api/v1/patients/00000000-0000-0000-0000-000000000000/")
    assert _error(response, 404)["code"] == "not_found"


def test_throttling_answers_429_in_the_error_format(world, api_integration, monkeypatch):
    # The rate is read when the throttle class is defined, so the test overrides it there.
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "2/min"})
    cache.clear()
    try:
        codes = [api_integration.get("/api/v1/me/").status_code for _ in range(3)]
        response = api_integration.get("/api/v1/me/")
    finally:
        cache.clear()
    assert codes == [200, 200, 429]
    assert _error(response, 429)["code"] == "throttled"
    assert "Retry-After" in response


@pytest.mark.parametrize("path", [LIST, BULK])
def test_absurdly_nested_json_is_a_400_not_a_500(api_integration, nothing_written, path):
    body = "[" * 100_000 + "]" * 100_000
    response = api_integration.post(path, body, content_type="application/json")
    assert _error(response, 400)["code"] == "malformed_request"


def test_deeply_nested_but_parseable_values_are_a_400_naming_the_field(
    api_integration, nothing_written
):
    record = lung_record(1)
    record["labs"][0]["value"] = [[[[1]]]]
    response = api_integration.post(LIST, record, format="json")
    assert "labs[0].value" in _error(response, 400)["fields"]
