"""core.row_insert: rows written by COPY read back as the ORM would have written them."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.audit import audit_record_many
from core.models import AuditAction, AuditEvent
from core.row_insert import insert_rows
from oncology.models import Diagnosis, Patient, SystemicTherapy

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)


def _patient_row(world, mrn: str) -> dict:
    return {
        "institution_id": world.institution.pk,
        "mrn": mrn,
        "given_name": "Ada",
        "family_name": "Synthetic",
        "sex": "female",
        "birth_date": dt.date(1958, 4, 11),
    }


def test_rows_get_their_ids_and_the_model_defaults(world):
    rows = [_patient_row(world, "SYN-R1"), _patient_row(world, "SYN-R2")]

    insert_rows(Patient, rows, now=NOW, with_ids=True)

    for row in rows:
        stored = Patient.objects.get(pk=row["id"])
        assert stored.mrn == row["mrn"]
        assert stored.public_id == row["public_id"]
        assert isinstance(stored.public_id, uuid.UUID)
        assert re.fullmatch(r"R-[A-Z2-9]{10}", stored.research_id)
        assert stored.smoking_status == "unknown"
        assert stored.vital_status == "alive"
        assert stored.smoking_pack_years is None
        assert stored.is_synthetic is False
        if connection.vendor == "postgresql":  # bulk_create elsewhere stamps its own time
            assert stored.created_at == NOW
            assert stored.updated_at == NOW
    assert rows[0]["public_id"] != rows[1]["public_id"]


def test_json_values_and_foreign_keys_round_trip(world):
    patient = [_patient_row(world, "SYN-R3")]
    insert_rows(Patient, patient, now=NOW, with_ids=True)
    diagnosis = [
        {
            "patient_id": patient[0]["id"],
            "external_id": "dx-1",
            "primary_site": "C34.1",
            "morphology": "8140/3",
            "diagnosis_date": dt.date(2023, 2, 14),
        }
    ]
    insert_rows(Diagnosis, diagnosis, now=NOW, with_ids=True)
    drugs = [{"name": "cisplatin", "dose": 75.0, "unit": "mg/m2"}, {"name": "pemetrexed"}]
    therapy = {
        "patient_id": patient[0]["id"],
        "diagnosis_id": diagnosis[0]["id"],
        "external_id": "sys-1",
        "regimen": "cisplatin-pemetrexed",
        "category": "chemotherapy",
        "drugs": drugs,
        "cycles": 4,
        "start_date": dt.date(2023, 3, 1),
    }

    insert_rows(SystemicTherapy, [therapy], now=NOW)

    stored = SystemicTherapy.objects.get(external_id="sys-1")
    assert stored.drugs == drugs
    assert stored.cycles == 4
    assert stored.end_date is None
    assert stored.intent == "curative"
    assert stored.diagnosis == Diagnosis.objects.get(external_id="dx-1")
    assert stored.patient.mrn == "SYN-R3"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_postgresql_writes_by_copy_not_by_insert(world):
    rows = [_patient_row(world, f"SYN-C{i}") for i in range(5)]

    with CaptureQueriesContext(connection) as queries:
        insert_rows(Patient, rows, now=NOW, with_ids=True)

    sql = [q["sql"] for q in queries.captured_queries]
    assert not any(s.startswith("INSERT") for s in sql), sql
    assert len(sql) == 1  # the ids from the sequence; COPY is not a logged query
    assert Patient.objects.filter(mrn__startswith="SYN-C").count() == 5


def test_a_unique_conflict_is_a_django_integrity_error_and_rolls_back(world):
    insert_rows(Patient, [_patient_row(world, "SYN-U1")], now=NOW)

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(
            Patient, [_patient_row(world, "SYN-U2"), _patient_row(world, "SYN-U1")], now=NOW
        )

    assert list(Patient.objects.filter(mrn__startswith="SYN-U").values_list("mrn", flat=True)) == [
        "SYN-U1"
    ]


def test_audit_record_many_writes_one_complete_event_per_item(world):
    before = timezone.now()

    count = audit_record_many(
        actor=world.integration,
        events=[
            {
                "action": AuditAction.CREATE,
                "object_type": "patient",
                "object_id": f"p{i}",
                "patient_id": 100 + i,
                "institution_id": world.institution.pk,
                "detail": {"fields": ["mrn", "labs"]},
            }
            for i in range(3)
        ],
    )

    assert count == 3
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.object_id, e.patient_id) for e in events] == [("p0", 100), ("p1", 101), ("p2", 102)]
    for event in events:
        assert event.actor == world.integration
        assert event.actor_username == world.integration.username
        assert event.action == "create"
        assert event.institution_id == world.institution.pk
        assert event.detail == {"fields": ["mrn", "labs"]}
        assert event.occurred_at >= before


def test_audit_record_many_still_refuses_detail_that_could_carry_values(world):
    with pytest.raises(ValueError, match="not allowed"):
        audit_record_many(
            actor=None,
            events=[{"action": "view", "object_type": "patient", "detail": {"name": "Smith"}}],
        )
    assert not AuditEvent.objects.exists()
