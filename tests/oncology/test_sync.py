"""The record upsert service: validation before writing, idempotency, audit, access."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from core.models import AuditAction, AuditEvent, Role
from oncology.models import Diagnosis, LabResult, Patient, Surgery
from oncology.services import sync
from oncology.services.sync import (
    BulkTooLarge,
    patient_record_upsert,
    patient_records_bulk_upsert,
)
from tests.factories import UserFactory
from tests.oncology.api.payloads import lung_record

pytestmark = pytest.mark.django_db


def _upsert(world, record, actor=None):
    return patient_record_upsert(
        actor=actor or world.integration, institution=world.institution, record=record
    )


def test_a_new_record_creates_the_patient_with_every_section(world):
    result = _upsert(world, lung_record(1))

    assert result.status == "created"
    assert result.errors == {}
    patient = Patient.objects.get(public_id=result.patient_public_id)
    assert patient.institution == world.institution
    assert list(patient.care_teams.values_list("code", flat=True)) == ["thoracic"]
    assert patient.diagnoses.count() == 1
    assert LabResult.objects.filter(patient=patient).count() == 3
    surgery = Surgery.objects.get(patient=patient)
    assert surgery.diagnosis == Diagnosis.objects.get(patient=patient, external_id="dx-1")


def test_resending_the_same_record_is_unchanged_and_touches_no_row(world):
    first = _upsert(world, lung_record(1))
    patient = Patient.objects.get(public_id=first.patient_public_id)
    stamps = sorted(LabResult.objects.filter(patient=patient).values_list("updated_at", flat=True))

    second = _upsert(world, lung_record(1))

    assert second.status == "unchanged"
    assert second.patient_public_id == first.patient_public_id
    patient_after = Patient.objects.get(pk=patient.pk)
    assert patient_after.updated_at == patient.updated_at
    assert (
        sorted(LabResult.objects.filter(patient=patient).values_list("updated_at", flat=True))
        == stamps
    )


def test_a_changed_item_updates_only_that_item(world):
    record = lung_record(1)
    patient = Patient.objects.get(public_id=_upsert(world, record).patient_public_id)
    untouched = LabResult.objects.get(patient=patient, external_id="lab-2").updated_at
    record["labs"][0]["value"] = 12.4

    result = _upsert(world, record)

    assert result.status == "updated"
    assert LabResult.objects.get(patient=patient, external_id="lab-1").value == 12.4
    assert LabResult.objects.get(patient=patient, external_id="lab-2").updated_at == untouched
    event = AuditEvent.objects.filter(patient_id=patient.pk).order_by("-id").first()
    assert event.action == AuditAction.UPDATE
    assert event.detail == {"fields": ["labs"]}


def test_absent_sections_and_absent_items_are_left_as_stored(world):
    patient_id = _upsert(world, lung_record(1)).patient_public_id
    partial = {
        "mrn": lung_record(1)["mrn"],
        "labs": [lung_record(1)["labs"][0]],  # lab-2 and lab-3 not sent
    }

    result = _upsert(world, partial)

    assert result.status == "unchanged"
    patient = Patient.objects.get(public_id=patient_id)
    assert LabResult.objects.filter(patient=patient).count() == 3
    assert Surgery.objects.filter(patient=patient).count() == 1
    assert patient.given_name == "Ada"


def test_each_record_writes_exactly_one_audit_event_naming_changes_without_values(world):
    before = AuditEvent.objects.count()
    results = patient_records_bulk_upsert(
        actor=world.integration,
        institution=world.institution,
        records=[lung_record(1), lung_record(2)],
    )
    created = AuditEvent.objects.order_by("id")[before:]
    assert [e.action for e in created] == [AuditAction.CREATE, AuditAction.CREATE]
    assert {e.patient_id for e in created} == set(
        Patient.objects.filter(public_id__in=[r.patient_public_id for r in results]).values_list(
            "pk", flat=True
        )
    )
    assert "diagnoses" in created[0].detail["fields"]
    assert "SYN-000001" not in str(created[0].detail)

    patient_records_bulk_upsert(
        actor=world.integration, institution=world.institution, records=[lung_record(1)]
    )
    last = AuditEvent.objects.order_by("-id").first()
    assert last.action == AuditAction.SYNC_UNCHANGED
    assert AuditEvent.objects.count() == before + 3


def test_a_record_with_any_error_writes_nothing_and_names_the_field(world):
    record = lung_record(1)
    record["labs"][2]["valeu"] = 1  # typo: unknown key
    del record["labs"][1]["external_id"]
    before = (Patient.objects.count(), AuditEvent.objects.count())

    result = _upsert(world, record)

    assert result.status == "error"
    assert result.patient_public_id is None
    assert set(result.errors) == {"labs[2].valeu", "labs[1].external_id"}
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before


def test_one_bad_record_does_not_block_the_others_and_results_keep_input_order(world):
    bad = lung_record(2, sex="f")
    results = patient_records_bulk_upsert(
        actor=world.integration,
        institution=world.institution,
        records=[lung_record(1), bad, lung_record(3), "not an object"],
    )

    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [r.status for r in results] == ["created", "error", "created", "error"]
    assert "sex" in results[1].errors
    assert set(Patient.objects.filter(mrn__startswith="SYN-").values_list("mrn", flat=True)) == {
        "SYN-000001",
        "SYN-000003",
    }


def test_a_repeated_mrn_in_one_call_is_an_error_on_the_later_record(world):
    results = patient_records_bulk_upsert(
        actor=world.integration,
        institution=world.institution,
        records=[lung_record(1), lung_record(1, given_name="Other")],
    )

    assert [r.status for r in results] == ["created", "error"]
    assert "mrn" in results[1].errors
    assert Patient.objects.get(mrn="SYN-000001").given_name == "Ada"


def test_an_unknown_care_team_or_diagnosis_reference_is_an_error(world):
    record = lung_record(1, care_teams=["thoracic", "nope"])
    record["surgeries"][0]["diagnosis_external_id"] = "dx-missing"

    result = _upsert(world, record)

    assert result.status == "error"
    assert "care_teams[1]" in result.errors
    assert "surgeries[0].diagnosis_external_id" in result.errors


def test_a_care_team_of_another_institution_is_unknown(world):
    result = _upsert(world, lung_record(1, care_teams=["thoracic", "breast-south"]))
    assert "care_teams[1]" in result.errors


def test_a_creation_without_the_demographics_is_an_error(world):
    result = _upsert(world, {"mrn": "SYN-NEW", "care_teams": ["thoracic"]})

    assert result.status == "error"
    assert set(result.errors) == {"given_name", "family_name", "sex", "birth_date"}


def test_a_clinician_creates_only_within_their_own_care_teams(world):
    denied = _upsert(world, lung_record(1, care_teams=["breast"]), actor=world.member)
    missing = _upsert(world, {**lung_record(2), "care_teams": None}, actor=world.member)
    allowed = _upsert(world, lung_record(3), actor=world.member)

    assert denied.status == "error"
    assert "care_teams" in denied.errors
    assert missing.status == "error"
    assert allowed.status == "created"


def test_a_clinician_cannot_update_a_patient_outside_their_care_teams(world):
    _upsert(world, lung_record(1, care_teams=["breast"]))

    result = _upsert(world, lung_record(1, care_teams=["thoracic"]), actor=world.member)

    assert result.status == "error"
    assert result.error_kind == "forbidden"
    assert list(
        Patient.objects.get(mrn="SYN-000001").care_teams.values_list("code", flat=True)
    ) == ["breast"]


def test_the_integration_client_updates_any_patient_of_its_institution(world):
    _upsert(world, lung_record(1, care_teams=["breast"]), actor=world.outsider)

    result = _upsert(world, lung_record(1, given_name="Ann", care_teams=["breast"]))

    assert result.status == "updated"
    assert Patient.objects.get(mrn="SYN-000001").given_name == "Ann"


def test_a_role_that_cannot_edit_the_record_is_refused(world):
    admin = UserFactory(role=Role.ADMINISTRATOR, institution=world.institution)
    with pytest.raises(PermissionDenied):
        _upsert(world, lung_record(1), actor=admin)


def test_nobody_writes_into_another_institution(world):
    foreign = UserFactory(role=Role.INTEGRATION)
    with pytest.raises(PermissionDenied):
        _upsert(world, lung_record(1), actor=foreign)


@override_settings(API_BULK_MAX_RECORDS=2)
def test_more_records_than_the_cap_are_refused_whole(world):
    with pytest.raises(BulkTooLarge):
        patient_records_bulk_upsert(
            actor=world.integration,
            institution=world.institution,
            records=[lung_record(i) for i in range(3)],
        )
    assert not Patient.objects.filter(mrn__startswith="SYN-").exists()


def test_a_database_refusal_falls_back_to_one_savepoint_per_record(world, monkeypatch):
    real_write = sync._Batch._write

    def refuse_batches_and_record_two(self, plans):
        if len(plans) > 1 or plans[0].index == 1:
            raise DatabaseError("simulated unique violation")
        return real_write(self, plans)

    monkeypatch.setattr(sync._Batch, "_write", refuse_batches_and_record_two)
    results = patient_records_bulk_upsert(
        actor=world.integration,
        institution=world.institution,
        records=[lung_record(1), lung_record(2), lung_record(3)],
    )

    assert [r.status for r in results] == ["created", "error", "created"]
    assert results[1].error_kind == "conflict"
    assert not Patient.objects.filter(mrn="SYN-000002").exists()
    assert AuditEvent.objects.filter(action=AuditAction.CREATE).count() == 2


def test_a_stored_item_with_its_diagnosis_relinked_is_updated(world):
    record = lung_record(1)
    _upsert(world, record)
    record["diagnoses"].append(
        {
            "external_id": "dx-2",
            "primary_site": "C34.3",
            "morphology": "8070/3",
            "laterality": "left",
            "diagnosis_date": "2023-03-01",
        }
    )
    record["surgeries"][0]["diagnosis_external_id"] = "dx-2"

    result = _upsert(world, record)

    assert result.status == "updated"
    surgery = Surgery.objects.get(patient__mrn="SYN-000001")
    assert surgery.diagnosis.external_id == "dx-2"
    assert surgery.performed_on == dt.date(2023, 3, 20)


# --- clinical validation (oncology.clinical) on the merged record ------------------------------


@pytest.mark.parametrize(
    ("section", "field", "bad", "path"),
    [
        ("diagnoses", "primary_site", "C99.9", "diagnoses[0].primary_site"),
        ("diagnoses", "clinical_t", "T9", "diagnoses[0].clinical_t"),
        ("labs", "value", 900.0, "labs[0].value"),  # haemoglobin 900 g/dL is impossible
        ("labs", "code", "0000-0", "labs[0].code"),
    ],
)
def test_a_clinical_error_in_an_item_names_its_path_and_writes_nothing(
    world, section, field, bad, path
):
    record = lung_record(1)
    record[section][0][field] = bad

    result = _upsert(world, record)

    assert result.status == "error"
    assert path in result.errors
    assert not Patient.objects.filter(mrn="SYN-000001").exists()


def test_a_drug_dose_error_is_named_inside_the_regimen(world):
    record = lung_record(1)
    record["systemic_therapies"] = [
        {
            "external_id": "st-1",
            "regimen": "osimertinib",
            "category": "targeted",
            "drugs": [{"name": "osimertinib", "dose": -80, "unit": "mg"}],
            "start_date": "2023-04-01",
        }
    ]
    result = _upsert(world, record)
    assert "systemic_therapies[0].drugs[0].dose" in result.errors


def test_a_new_item_is_checked_against_the_stored_record(world):
    dead = lung_record(
        1, vital_status="dead", death_date="2024-06-03", last_contact_date="2024-06-03"
    )
    assert _upsert(world, dead).status == "created"
    late_visit = {"external_id": "fu-2", "visit_date": "2024-09-01", "disease_status": "ned"}

    result = _upsert(world, {"mrn": "SYN-000001", "follow_ups": [late_visit]})

    assert result.status == "error"
    assert "follow_ups[0].visit_date" in result.errors


def test_a_patient_change_that_contradicts_a_stored_item_names_the_stored_item(world):
    _upsert(world, lung_record(1))  # surgery sx-1 on 2023-03-20

    result = _upsert(
        world,
        {
            "mrn": "SYN-000001",
            "vital_status": "dead",
            "death_date": "2023-03-01",
            "last_contact_date": "2023-03-01",
        },
    )

    assert result.status == "error"
    assert "surgeries[external_id=sx-1].performed_on" in result.errors
    assert Patient.objects.get(mrn="SYN-000001").vital_status == "alive"


def test_a_real_unique_violation_costs_only_its_own_record(world, monkeypatch):
    # A concurrent call creates SYN-000002 between our read and our write: simulated by
    # hiding the stored patient from the batch's read, so the INSERT hits the unique constraint.
    _upsert(world, lung_record(2))
    real_load = sync._Batch._load

    def load_missing_the_concurrent_patient(self, records):
        stored = real_load(self, records)
        stored.patients.pop("SYN-000002", None)
        return stored

    monkeypatch.setattr(sync._Batch, "_load", load_missing_the_concurrent_patient)
    results = patient_records_bulk_upsert(
        actor=world.integration,
        institution=world.institution,
        records=[lung_record(1), lung_record(2, given_name="Race"), lung_record(3)],
    )

    assert [r.status for r in results] == ["created", "error", "created"]
    assert results[1].error_kind == "conflict"
    assert Patient.objects.get(mrn="SYN-000002").given_name == "Ada"
    assert Patient.objects.filter(mrn__in=["SYN-000001", "SYN-000003"]).count() == 2
    assert LabResult.objects.filter(patient__mrn="SYN-000001").count() == 3


def test_comorbidities_are_matched_by_condition_and_their_external_ids_stay_unique(world):
    record = lung_record(1, comorbidities=[{"condition": "chronic_pulmonary_disease"}])
    _upsert(world, record)
    record["comorbidities"] = [
        {"condition": "chronic_pulmonary_disease", "external_id": "c-1"},
        {"condition": "myocardial_infarction", "external_id": "c-1"},
    ]

    duplicate = _upsert(world, record)
    record["comorbidities"][1]["external_id"] = "c-2"
    fixed = _upsert(world, record)

    assert duplicate.status == "error"
    assert "comorbidities[1].external_id" in duplicate.errors
    assert fixed.status == "updated"
    patient = Patient.objects.get(mrn="SYN-000001")
    assert sorted(patient.comorbidities.values_list("condition", "external_id")) == [
        ("chronic_pulmonary_disease", "c-1"),
        ("myocardial_infarction", "c-2"),
    ]
    taken = _upsert(
        world,
        {"mrn": "SYN-000001", "comorbidities": [{"condition": "dementia", "external_id": "c-1"}]},
    )
    assert "comorbidities[0].external_id" in taken.errors


def test_a_bulk_create_costs_the_same_statements_for_2_or_20_records(world):
    # A batch reads and writes per table, never per record: the SQL it sends does not grow
    # with its records (on PostgreSQL new rows go by COPY, which is not a logged query).
    def statements(first: int, count: int) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            results = patient_records_bulk_upsert(
                actor=world.integration,
                institution=world.institution,
                records=[lung_record(i) for i in range(first, first + count)],
            )
        assert {r.status for r in results} == {"created"}
        return [q["sql"].split(" ", 1)[0] for q in queries.captured_queries]

    small = statements(1, 2)
    large = statements(100, 20)

    assert len(large) == len(small)
    assert Patient.objects.filter(mrn__startswith="SYN-").count() == 22
    assert AuditEvent.objects.filter(action=AuditAction.CREATE).count() == 22
    assert LabResult.objects.filter(patient__mrn="SYN-000119").count() == 3
    surgery = Surgery.objects.get(patient__mrn="SYN-000119")
    assert surgery.diagnosis == Diagnosis.objects.get(patient__mrn="SYN-000119")


def test_a_bulk_call_leaves_the_cycle_collector_as_it_found_it(world):
    import gc

    assert gc.isenabled()
    with pytest.raises(BulkTooLarge), override_settings(API_BULK_MAX_RECORDS=1):
        patient_records_bulk_upsert(
            actor=world.integration,
            institution=world.institution,
            records=[lung_record(1), lung_record(2)],
        )
    patient_records_bulk_upsert(
        actor=world.integration, institution=world.institution, records=[lung_record(1)]
    )
    assert gc.isenabled()
    gc.disable()
    try:
        with sync.cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the one who paused it first switches it back on
        with pytest.raises(RuntimeError), sync.cyclic_gc_paused():
            raise RuntimeError("boom")
        assert not gc.isenabled()
    finally:
        gc.enable()
    seen = []

    def fail_while_paused() -> None:
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError), sync.cyclic_gc_paused():
        fail_while_paused()
    assert seen == [False]
    assert gc.isenabled()
