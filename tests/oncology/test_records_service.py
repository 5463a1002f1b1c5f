"""oncology.services.records: one validated, audited write per call, never across patients."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from core.models import AuditEvent, Role
from oncology import models as m
from oncology.services import records
from tests.conftest import World
from tests.factories import PatientFactory, UserFactory
from tests.oncology.test_views import make_full_record

TODAY = dt.date(2025, 1, 15)


def _surgery_values(**changes: Any) -> dict[str, Any]:
    values = {
        "procedure": "Wedge resection",
        "performed_on": dt.date(2021, 4, 1),
        "intent": "curative",
        "margin_status": "R0",
        "diagnosis": None,
    }
    values.update(changes)
    return values


def test_record_create_saves_and_writes_one_create_event(world: World) -> None:
    surgery = records.record_create(
        user=world.member,
        patient=world.patient,
        section="surgeries",
        values=_surgery_values(),
        today=TODAY,
    )
    assert surgery.patient_id == world.patient.pk
    (event,) = AuditEvent.objects.all()
    assert (event.action, event.object_type, event.object_id, event.patient_id) == (
        "create",
        "surgery",
        str(surgery.pk),
        world.patient.pk,
    )
    assert event.actor == world.member
    assert event.detail == {"fields": ["intent", "margin_status", "performed_on", "procedure"]}


def test_record_update_names_only_the_changed_fields(world: World) -> None:
    surgery = records.record_create(
        user=world.member, patient=world.patient, section="surgeries", values=_surgery_values()
    )
    records.record_update(
        user=world.member,
        patient=world.patient,
        section="surgeries",
        record=m.Surgery.objects.get(pk=surgery.pk),
        values=_surgery_values(margin_status="R1"),
        today=TODAY,
    )
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    assert (event.action, event.detail) == ("update", {"fields": ["margin_status"]})
    assert m.Surgery.objects.get(pk=surgery.pk).margin_status == "R1"


def test_invalid_values_raise_field_errors_and_write_nothing(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        records.record_create(
            user=world.member,
            patient=world.patient,
            section="surgeries",
            values=_surgery_values(performed_on=dt.date(1950, 1, 1)),
            today=TODAY,
        )
    assert info.value.message_dict == {"performed_on": ["Surgery date is before the date of birth"]}
    assert not m.Surgery.objects.exists()
    assert not AuditEvent.objects.exists()


def test_future_dates_are_refused(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        records.record_create(
            user=world.member,
            patient=world.patient,
            section="surgeries",
            values=_surgery_values(performed_on=dt.date(2025, 2, 1)),
            today=TODAY,
        )
    assert info.value.message_dict == {"performed_on": ["Surgery date is in the future"]}


def test_a_record_of_another_patient_cannot_be_read_updated_or_deleted(world: World) -> None:
    other = PatientFactory(institution=world.institution, teams=[world.team])
    foreign = make_full_record(other)["surgeries"]
    with pytest.raises(Http404):
        records.record_get(patient=world.patient, section="surgeries", pk=foreign.pk)
    with pytest.raises(Http404):
        records.record_update(
            user=world.member,
            patient=world.patient,
            section="surgeries",
            record=foreign,
            values=_surgery_values(),
        )
    with pytest.raises(Http404):
        records.record_delete(
            user=world.member, patient=world.patient, section="surgeries", record=foreign
        )
    assert m.Surgery.objects.filter(pk=foreign.pk, patient=other).exists()
    assert not AuditEvent.objects.exists()


def test_a_record_of_the_wrong_section_is_refused(world: World) -> None:
    diagnosis = world.patient.diagnoses.get()
    with pytest.raises(Http404):
        records.record_delete(
            user=world.member, patient=world.patient, section="surgeries", record=diagnosis
        )
    assert m.Diagnosis.objects.filter(pk=diagnosis.pk).exists()


def test_a_diagnosis_of_another_patient_cannot_be_linked(world: World) -> None:
    other = PatientFactory(institution=world.institution, teams=[world.team])
    foreign_diagnosis = make_full_record(other)["diagnoses"]
    with pytest.raises(ValidationError) as info:
        records.record_create(
            user=world.member,
            patient=world.patient,
            section="surgeries",
            values=_surgery_values(diagnosis=foreign_diagnosis),
        )
    assert "diagnosis" in info.value.message_dict


def test_read_only_roles_cannot_write(world: World) -> None:
    admin = UserFactory(role=Role.ADMINISTRATOR, institution=world.institution, teams=[world.team])
    with pytest.raises(PermissionDenied):
        records.record_create(
            user=admin, patient=world.patient, section="surgeries", values=_surgery_values()
        )
    with pytest.raises(PermissionDenied):
        records.patient_update(user=admin, patient=world.patient, values={"given_name": "X"})
    assert not AuditEvent.objects.exists()


def test_unknown_section_is_404(world: World) -> None:
    with pytest.raises(Http404):
        records.record_create(
            user=world.member, patient=world.patient, section="prescriptions", values={}
        )


def test_patient_create_only_in_a_team_of_the_user(world: World) -> None:
    values = {
        "given_name": "Ada",
        "family_name": "New",
        "mrn": "N-1",
        "sex": "female",
        "birth_date": dt.date(1950, 1, 1),
    }
    with pytest.raises(PermissionDenied):
        records.patient_create(user=world.member, care_team=world.other_team, values=values)
    patient = records.patient_create(user=world.member, care_team=world.team, values=values)
    assert list(patient.care_teams.all()) == [world.team]
    (event,) = AuditEvent.objects.all()
    assert (event.action, event.patient_id) == ("create", patient.pk)
    assert "Ada" not in str(event.detail)


def test_patient_create_refuses_a_birth_date_in_the_future(world: World) -> None:
    values = {
        "given_name": "Ada",
        "family_name": "New",
        "mrn": "N-2",
        "sex": "female",
        "birth_date": dt.date(2030, 1, 1),
    }
    with pytest.raises(ValidationError) as info:
        records.patient_create(user=world.member, care_team=world.team, values=values, today=TODAY)
    assert info.value.message_dict == {"birth_date": ["Date of birth is in the future"]}


def test_record_delete_writes_one_delete_event_with_the_old_pk(world: World) -> None:
    surgery = make_full_record(world.patient)["surgeries"]
    pk = surgery.pk
    records.record_delete(
        user=world.member, patient=world.patient, section="surgeries", record=surgery
    )
    assert not m.Surgery.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    assert (event.action, event.object_type, event.object_id) == ("delete", "surgery", str(pk))


@pytest.mark.django_db(transaction=True)
def test_the_event_rolls_back_with_the_write() -> None:
    # The event is written in the caller's transaction: an access that fails leaves no trace
    # and no record (pages run inside ATOMIC_REQUESTS).
    from tests.factories import CareTeamFactory, InstitutionFactory

    inst = InstitutionFactory(code="rb")
    team = CareTeamFactory(institution=inst)
    user = UserFactory(institution=inst, teams=[team])
    patient = PatientFactory(institution=inst, teams=[team])

    def failing_request() -> None:
        with transaction.atomic():
            records.record_create(
                user=user, patient=patient, section="surgeries", values=_surgery_values()
            )
            raise RuntimeError("the request failed after the write")

    with pytest.raises(RuntimeError):
        failing_request()
    assert not m.Surgery.objects.exists()
    assert not AuditEvent.objects.exists()
