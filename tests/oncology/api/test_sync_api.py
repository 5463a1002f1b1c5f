"""Record sync through HTTP: idempotency, per-record atomicity, audit, list and detail."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditAction, AuditEvent
from oncology.models import RECORD_SECTIONS, Patient
from tests.factories import DiagnosisFactory, PatientFactory
from tests.oncology.api.payloads import lung_record

pytestmark = pytest.mark.django_db

LIST = "/api/v1/patients/"
BULK = "/api/v1/patients/bulk/"


def _row_state() -> dict[str, list[tuple]]:
    state = {"patients": sorted(Patient.objects.values_list("pk", "updated_at"))}
    for section, model in RECORD_SECTIONS.items():
        state[section] = sorted(model.objects.values_list("pk", "updated_at"))
    return state


def test_the_same_bulk_payload_twice_changes_nothing_the_second_time(world, api_integration):
    records = [lung_record(i) for i in range(1, 21)]
    first = api_integration.post(BULK, {"records": records}, format="json")
    assert first.json()["summary"] == {"created": 20, "updated": 0, "unchanged": 0, "error": 0}
    state = _row_state()

    second = api_integration.post(BULK, {"records": records}, format="json")

    assert second.status_code == 200
    assert second.json()["summary"] == {"created": 0, "updated": 0, "unchanged": 20, "error": 0}
    assert [r["patient_public_id"] for r in second.json()["results"]] == [
        r["patient_public_id"] for r in first.json()["results"]
    ]
    assert _row_state() == state


def test_a_bulk_call_with_a_bad_record_stores_the_good_ones(world, api_integration):
    bad = lung_record(2)
    bad["diagnoses"][0]["diagnosis_date"] = "14/02/2023"
    records = [lung_record(1), bad, lung_record(3)]

    response = api_integration.post(BULK, {"records": records}, format="json")

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "created"]
    assert list(results[1]["errors"]) == ["diagnoses[0].diagnosis_date"]
    assert not Patient.objects.filter(mrn="SYN-000002").exists()
    assert Patient.objects.filter(mrn__in=["SYN-000001", "SYN-000003"]).count() == 2


def test_a_bulk_call_writes_one_audit_event_per_record_stored(world, api_integration):
    records = [lung_record(i) for i in range(1, 6)] + [{"mrn": "x"}]  # the last is invalid
    response = api_integration.post(BULK, {"records": records}, format="json")
    assert response.status_code == 200
    events = AuditEvent.objects.all()
    assert events.count() == 5
    assert {e.action for e in events} == {AuditAction.CREATE}
    assert {e.channel for e in events} == {"api"}
    assert len({e.patient_id for e in events}) == 5


def test_the_single_upsert_returns_201_then_200_with_the_stored_record(world, api_integration):
    created = api_integration.post(LIST, lung_record(1), format="json")
    again = api_integration.post(LIST, lung_record(1), format="json")

    assert created.status_code == 201
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    record = again.json()["record"]
    assert record["public_id"] == created.json()["patient_public_id"]
    assert record["labs"][0]["external_id"] == "lab-1"
    assert record["surgeries"][0]["diagnosis_external_id"] == "dx-1"
    assert AuditEvent.objects.count() == 2  # CREATE, SYNC_UNCHANGED: reading it back is not a VIEW


def test_the_detail_round_trips_into_an_unchanged_upsert(world, api_integration):
    public_id = api_integration.post(LIST, lung_record(1), format="json").json()[
        "patient_public_id"
    ]
    record = api_integration.get(f"/api/v1/patients/{public_id}/").json()
    del record["public_id"], record["research_id"]

    response = api_integration.post(LIST, record, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "unchanged"


def test_the_detail_writes_exactly_one_view_event(world, api_member):
    api_member.get(f"/api/v1/patients/{world.patient.public_id}/")
    events = list(AuditEvent.objects.all())
    assert [(e.action, e.patient_id) for e in events] == [(AuditAction.VIEW, world.patient.pk)]


def test_the_list_writes_one_list_event(world, api_member):
    api_member.get(LIST)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [AuditAction.LIST]


def test_the_list_query_count_does_not_grow_with_the_page(world, api_integration):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = api_integration.get(LIST)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few = count_queries()
    for _ in range(25):
        patient = PatientFactory(institution=world.institution, teams=[world.team])
        DiagnosisFactory(patient=patient)
        DiagnosisFactory(patient=patient, primary_site="C50.4", diagnosis_date=dt.date(2019, 1, 1))
    many = count_queries()

    assert many == few
    assert few <= 8  # token, savepoints, LIST audit insert, count, page, diagnoses


def test_the_list_summarises_the_earliest_diagnosis(world, api_integration):
    DiagnosisFactory(
        patient=world.patient, primary_site="C50.4", diagnosis_date=dt.date(2019, 1, 1)
    )
    row = api_integration.get(LIST).json()["results"][0]
    assert row["primary_diagnosis"]["primary_site"] == "C50.4"
    assert row["mrn"] == world.patient.mrn


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("vital_status=alive", {"A"}),
        ("vital_status=dead", {"B"}),
        ("primary_site=C34", {"A"}),
        ("primary_site=C50.4", {"B"}),
        ("site_group=lung", {"A"}),
        ("site_group=breast", {"B"}),
        ("site_group=liver", set()),
        ("updated_since=2100-01-01T00:00:00Z", set()),
        ("updated_since=2000-01-01T00:00:00", {"A", "B"}),  # naive: the server's time zone
        ("updated_since=2000-01-01", {"A", "B"}),
    ],
)
def test_the_list_filters(world, api_integration, query, expected):
    a = world.patient
    b = PatientFactory(institution=world.institution, family_name="Zed", vital_status="dead")
    DiagnosisFactory(patient=b, primary_site="C50.4")
    names = {str(a.public_id): "A", str(b.public_id): "B"}

    response = api_integration.get(f"{LIST}?{query}")

    assert response.status_code == 200
    assert {names[r["public_id"]] for r in response.json()["results"]} == expected


def test_an_invalid_filter_is_a_400_and_lists_nothing(world, api_integration):
    response = api_integration.get(f"{LIST}?vital_status=zombie")
    assert response.status_code == 400
    assert "vital_status" in response.json()["error"]["fields"]
    assert not AuditEvent.objects.exists()


def test_the_full_example_in_docs_api_md_is_accepted_and_round_trips(world, api_integration):
    # The guide's example is what integrators copy: it must stay a valid record.
    text = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    example = json.loads(re.search(r"```json\n(\{\n  \"mrn\".*?)\n```", text, re.S).group(1))

    created = api_integration.post(LIST, example, format="json")
    again = api_integration.post(LIST, example, format="json")

    assert created.status_code == 201, created.json()
    assert again.json()["status"] == "unchanged"
    record = created.json()["record"]
    assert all(len(record[section]) == len(example[section]) for section in RECORD_SECTIONS)
