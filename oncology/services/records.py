"""Single-record writes behind the clinical-record forms: create, update and delete one patient
or one sub-record, each validated by oncology.clinical and audited with exactly one event in the
caller's transaction (ATOMIC_REQUESTS for pages).

Bulk and idempotent writes from hospital systems live in oncology/services/sync.py; these
functions serve a person editing one thing at a time, so their errors are keyed by form field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.http import Http404
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditAction, User
from oncology.clinical.issues import errors_only
from oncology.clinical.record import validate_record_dates, validate_section
from oncology.models import (
    PATIENT_RECORD_FIELDS,
    RECORD_SECTIONS,
    CareTeam,
    Patient,
    PatientRecordModel,
)

# Fields a person never types: identity, ownership and bookkeeping.
_NOT_EDITABLE = {"id", "patient", "external_id", "created_at", "updated_at"}
PATIENT_FIELDS = PATIENT_RECORD_FIELDS
NON_FIELD = "__all__"
_FIELD_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)")
_ITEM = re.compile(r"^([a-z_]+)\[(\d+)\]\.?(.*)$")


def section_model(section: str) -> type[PatientRecordModel]:
    try:
        return RECORD_SECTIONS[section]
    except KeyError as exc:
        raise Http404("No such section") from exc


def editable_fields(section: str) -> list[str]:
    """The model fields of `section` that a form may set (FKs by their field name)."""
    model = section_model(section)
    return [
        f.name for f in model._meta.concrete_fields if f.name not in _NOT_EDITABLE and f.editable
    ]


def record_get(*, patient: Patient, section: str, pk: int) -> PatientRecordModel:
    """The sub-record `pk` of `section`, only if it belongs to `patient` (else Http404).

    The caller has already obtained `patient` through an access-checking selector; scoping the
    lookup to it is what stops a form from reaching another patient's record by its pk.
    """
    model = section_model(section)
    try:
        return model.objects.get(patient=patient, pk=pk)  # type: ignore[attr-defined]
    except model.DoesNotExist as exc:
        raise Http404("No such record") from exc


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    # Validators see foreign keys as ids: they are pure and never follow relations.
    return value.pk if isinstance(value, Model) else value


def _values_of(obj: Any, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        field = obj._meta.get_field(name)
        out[name] = getattr(obj, field.attname if field.is_relation else name)
    return out


def _load_record(patient: Patient) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    return {
        name: [
            (obj.pk, _values_of(obj, editable_fields(name)))
            for obj in model.objects.filter(patient=patient).order_by("pk")  # type: ignore[attr-defined]
        ]
        for name, model in RECORD_SECTIONS.items()
    }


def _with_change(
    loaded: dict[str, list[tuple[int, dict[str, Any]]]],
    section: str | None,
    record_pk: int | None,
    record_values: Mapping[str, Any] | None,
) -> tuple[dict[str, list[dict[str, Any]]], int | None]:
    """The loaded record with one sub-record replaced or appended; and that sub-record's index."""
    sections: dict[str, list[dict[str, Any]]] = {}
    index: int | None = None
    for name, rows in loaded.items():
        out: list[dict[str, Any]] = []
        for pk, values in rows:
            if name == section and pk == record_pk:
                index = len(out)
                out.append({**values, **(record_values or {})})
            else:
                out.append(dict(values))
        if name == section and record_pk is None and record_values is not None:
            index = len(out)
            out.append(dict(record_values))
        sections[name] = out
    return sections, index


def _sentence(message: str) -> str:
    # The library writes messages as clauses ("surgery date is after the date of death").
    return message[:1].upper() + message[1:]


def _issue_map(issues: list[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for issue in errors_only(issues):
        bucket = out.setdefault(str(issue.field), [])
        if _sentence(issue.message) not in bucket:
            bucket.append(_sentence(issue.message))
    return out


def _today() -> dt.date:
    return timezone.localdate()


def _field_key(path: str, allowed: set[str]) -> str:
    match = _FIELD_HEAD.match(path)
    if match and match.group(1) in allowed:
        return match.group(1)
    return NON_FIELD


def _date_fields(values: Mapping[str, Any]) -> list[str]:
    return [
        k for k, v in values.items() if isinstance(v, dt.date) and not isinstance(v, dt.datetime)
    ]


def record_issues(
    *,
    patient: Patient,
    section: str,
    values: Mapping[str, Any],
    record: PatientRecordModel | Patient | None = None,
    today: dt.date | None = None,
) -> dict[str, list[str]]:
    """Clinical problems the proposed change would leave, keyed by the form field they concern.

    `section` is "patient" or a key of RECORD_SECTIONS; `values` are the proposed field values
    (python values, as a form's cleaned_data). Checks the record on its own
    (validate_section) and against the rest of the patient's record (validate_record_dates).
    A date conflict that the change creates on another record (a death date now before a
    surgery) is reported on the changed date field; conflicts that existed before the change do
    not block it.
    """
    today = today or _today()
    allowed = set(values)
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        bucket = errors.setdefault(key, [])
        if message not in bucket:
            bucket.append(message)

    values = {k: _plain(v) for k, v in values.items()}
    for path, messages in _issue_map(validate_section(section, dict(values))).items():
        for message in messages:
            add(_field_key(path, allowed), message)

    loaded = _load_record(patient)
    patient_before = _values_of(patient, PATIENT_FIELDS)
    before_sections, _ = _with_change(loaded, None, None, None)
    if section == "patient":
        patient_after = {**patient_before, **values}
        after_sections, own_index = before_sections, None
        own_prefix = None
    else:
        patient_after = patient_before
        after_sections, own_index = _with_change(
            loaded, section, record.pk if record is not None else None, values
        )
        own_prefix = f"{section}[{own_index}]"
    before_issues = _issue_map(validate_record_dates(patient_before, before_sections, today))
    after_issues = _issue_map(validate_record_dates(patient_after, after_sections, today))
    changed_dates = [
        name
        for name in _date_fields(values)
        if record is None or getattr(record, name, None) != values[name]
    ]
    for path, messages in after_issues.items():
        own: str | None = None
        if own_prefix is None and "[" not in path and section == "patient":
            own = path  # a patient field
        elif own_prefix is not None and path.startswith(own_prefix):
            own = path[len(own_prefix) :].lstrip(".")
        if own is not None:
            for message in messages:
                add(_field_key(own, allowed), message)
            continue
        # Another record's problem: block only if this change introduced it.
        new = [m for m in messages if m not in before_issues.get(path, [])]
        if not new:
            continue
        target = changed_dates[0] if len(changed_dates) == 1 else NON_FIELD
        for message in new:
            add(target, message)
    return errors


def record_warnings(*, section: str, values: Mapping[str, Any]) -> list[str]:
    """Unusual but possible values worth a second look (a rare histology for the site).

    They never block a save; the page shows them after it.
    """
    plain = {k: _plain(v) for k, v in values.items()}
    issues = validate_section(section, plain, include_warnings=True)
    return [_sentence(i.message) for i in issues if i.severity == "warning"]


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _require_editor(user: User) -> None:
    if not user.can_edit_record:
        raise PermissionDenied("This role cannot change the clinical record.")


def _changed(obj: Any, values: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, value in values.items() if getattr(obj, name) != value)


def _check_model(obj: Any, exclude: set[str]) -> None:
    # Field rules (choices, lengths) and constraints (one comorbidity of a kind per patient)
    # that the form could not check because it never sees `patient`.
    errors: dict[str, list[str]] = {}
    for check in (
        lambda: obj.clean_fields(exclude=exclude),
        obj.validate_unique,
        obj.validate_constraints,
    ):
        try:
            check()
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(
                    m for m in messages if m not in errors.get(key, [])
                )
    _raise_if(errors)


# ---------------------------------------------------------------------------------------------
# Patients
# ---------------------------------------------------------------------------------------------


def _check_mrn(patient: Patient) -> None:
    # Said on the field rather than as the model constraint's generic message. The message
    # names no patient: the other record may belong to a team this user cannot see.
    clash = Patient.objects.filter(institution_id=patient.institution_id, mrn=patient.mrn)
    if patient.pk:
        clash = clash.exclude(pk=patient.pk)
    if clash.exists():
        raise ValidationError({"mrn": ["This MRN is already registered at this institution."]})


def _set_fields(values: Mapping[str, Any]) -> list[str]:
    """Names of the fields a new record was given a value for."""
    return sorted(k for k, v in values.items() if v not in (None, "", [], {}))


def patient_create(
    *, user: User, care_team: CareTeam, values: Mapping[str, Any], today: dt.date | None = None
) -> Patient:
    """A new patient in `care_team`'s institution, visible to that team. One CREATE event."""
    _require_editor(user)
    if not care_team.members.filter(pk=user.pk).exists():
        raise PermissionDenied("Patients are created in one of your own care teams.")
    values = {k: v for k, v in values.items() if k in PATIENT_FIELDS}
    errors: dict[str, list[str]] = {}
    for path, messages in _issue_map(validate_section("patient", dict(values))).items():
        errors.setdefault(_field_key(path, set(values)), []).extend(messages)
    # A new patient has no other records, but its own dates may still be in the future.
    for path, messages in _issue_map(
        validate_record_dates(dict(values), {}, today or _today())
    ).items():
        errors.setdefault(_field_key(path, set(values)), []).extend(messages)
    _raise_if(errors)
    patient = Patient(institution_id=care_team.institution_id, **values)
    _check_mrn(patient)
    _check_model(patient, exclude={"research_id", "public_id"})
    patient.save()
    patient.care_teams.add(care_team)
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        object_type="patient",
        object_id=patient.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"fields": _set_fields(values)},
    )
    return patient


def patient_update(
    *, user: User, patient: Patient, values: Mapping[str, Any], today: dt.date | None = None
) -> Patient:
    """Change demographic and vital-status fields of `patient`. One UPDATE event."""
    _require_editor(user)
    values = {k: v for k, v in values.items() if k in PATIENT_FIELDS}
    _raise_if(
        record_issues(
            patient=patient, section="patient", values=values, record=patient, today=today
        )
    )
    changed = _changed(patient, values)
    for name, value in values.items():
        setattr(patient, name, value)
    _check_mrn(patient)
    _check_model(patient, exclude={"research_id", "public_id"})
    patient.save()
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        object_type="patient",
        object_id=patient.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"fields": changed},
    )
    return patient


# ---------------------------------------------------------------------------------------------
# Sub-records
# ---------------------------------------------------------------------------------------------


def _clean_values(section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    fields = set(editable_fields(section))
    return {k: v for k, v in values.items() if k in fields}


def _own_diagnosis(patient: Patient, values: Mapping[str, Any]) -> None:
    # A treatment or biomarker may only point at a diagnosis of the same patient.
    diagnosis = values.get("diagnosis")
    if diagnosis is not None and diagnosis.patient_id != patient.pk:
        raise ValidationError({"diagnosis": ["Choose a diagnosis of this patient."]})


def _save(obj: PatientRecordModel) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:  # a concurrent write won the unique constraint
        raise ValidationError({NON_FIELD: ["This record conflicts with an existing one."]}) from exc


def _audit_record_write(
    user: User, action: AuditAction, obj: PatientRecordModel, patient: Patient, fields: list[str]
) -> None:
    audit_record(
        actor=user,
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"fields": fields},
    )


def record_create(
    *,
    user: User,
    patient: Patient,
    section: str,
    values: Mapping[str, Any],
    today: dt.date | None = None,
) -> PatientRecordModel:
    """Add one sub-record of `section` to `patient`. One CREATE event."""
    _require_editor(user)
    model = section_model(section)
    values = _clean_values(section, values)
    _own_diagnosis(patient, values)
    _raise_if(record_issues(patient=patient, section=section, values=values, today=today))
    obj = model(patient=patient, **values)
    _check_model(obj, exclude={"drugs"})
    _save(obj)
    _audit_record_write(user, AuditAction.CREATE, obj, patient, _set_fields(values))
    return obj


def record_update(
    *,
    user: User,
    patient: Patient,
    section: str,
    record: PatientRecordModel,
    values: Mapping[str, Any],
    today: dt.date | None = None,
) -> PatientRecordModel:
    """Change one sub-record of `patient`. One UPDATE event naming the changed fields."""
    _require_editor(user)
    if record.patient_id != patient.pk or not isinstance(record, section_model(section)):
        raise Http404("No such record")
    values = _clean_values(section, values)
    _own_diagnosis(patient, values)
    _raise_if(
        record_issues(patient=patient, section=section, values=values, record=record, today=today)
    )
    changed = _changed(record, values)
    for name, value in values.items():
        setattr(record, name, value)
    _check_model(record, exclude={"drugs"})
    _save(record)
    _audit_record_write(user, AuditAction.UPDATE, record, patient, changed)
    return record


def record_delete(
    *, user: User, patient: Patient, section: str, record: PatientRecordModel
) -> None:
    """Remove one sub-record of `patient`. One DELETE event."""
    _require_editor(user)
    if record.patient_id != patient.pk or not isinstance(record, section_model(section)):
        raise Http404("No such record")
    pk = record.pk
    record.delete()
    record.pk = pk
    _audit_record_write(user, AuditAction.DELETE, record, patient, [])
