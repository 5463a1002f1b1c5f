"""Idempotent upsert of whole patient records from hospital systems (the sync API, imports).

A record is keyed by (institution, MRN); its sub-records by their `external_id` (comorbidities by
their condition); a sub-record entered in the web app (no external id) also by its alias
"oncoboard-<section>-<id>" (web_item_id, what the FHIR export names it). Sending the same payload
twice changes nothing the second time. What a payload leaves out is left alone: an absent patient
field or section keeps its stored value, and stored sub-records missing from a section's list are
kept (deletion is out of scope for sync v1).

Each record is validated in full before anything is written (types by the payload serializers,
codes, staging, ranges and cross-record dates by oncology.clinical against the merged record:
what is stored plus the payload), and a record with any error writes nothing. A bulk call
validates every record, loads what is stored for the whole batch in a few queries, and writes
all valid records in one savepoint: new rows by COPY on PostgreSQL (core/row_insert.py), changed
rows by bulk updates, one audit event per record; if the database refuses that
(a concurrent writer won a unique constraint), it retries record by record, each in its own
savepoint, so one record's conflict never costs the others.
"""

from __future__ import annotations

import gc
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.utils import timezone
from rest_framework import serializers

from core.api.errors import flatten_errors
from core.audit import audit_record_many
from core.models import AuditAction, User
from core.row_insert import insert_rows
from oncology.clinical.record import validate_record_dates, validate_section
from oncology.models import (
    RECORD_SECTIONS,
    CareTeam,
    Institution,
    Patient,
    PatientRecordModel,
)
from oncology.selectors import patient_visible_queryset
from oncology.services.payload import (
    DIAGNOSIS_LINKED,
    PATIENT_FIELDS,
    PATIENT_REQUIRED_ON_CREATE,
    RecordCleaner,
    item_key,
    section_fields,
)

Status = Literal["created", "updated", "unchanged", "error"]
ErrorKind = Literal["", "invalid", "forbidden", "conflict"]

_SECTION_FIELDS = {section: section_fields(section) for section in RECORD_SECTIONS}
# What is read of a stored sub-record: plain values, not model instances, because a sync
# mostly finds items unchanged and instances cost more than comparing a few values.
_STORED_COLUMNS = {
    section: (
        "pk",
        "patient_id",
        "external_id",
        *fields,
        *(("diagnosis_id",) if section in DIAGNOSIS_LINKED else ()),
    )
    for section, fields in _SECTION_FIELDS.items()
}
StoredItem = dict[str, Any]
_ISSUE_PATH = re.compile(r"^([a-z_]+)\[(\d+)\](.*)$")


@dataclass
class RecordResult:
    """The outcome for one record of a call, in input order.

    `errors` maps a field path in the payload ("diagnoses[0].clinical_t", "labs[3].value") to
    messages; it is empty unless status is "error". `error_kind` tells the API which status code
    a single-record call gets: "invalid" (400), "forbidden" (403), "conflict" (409).
    """

    index: int
    status: Status
    patient_public_id: uuid.UUID | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    error_kind: ErrorKind = ""


class BulkTooLarge(ValueError):
    """More records in one call than settings.API_BULK_MAX_RECORDS."""


def patient_record_upsert(
    *, actor: User, institution: Institution, record: Mapping[str, Any]
) -> RecordResult:
    """Create or update one patient record. See patient_records_bulk_upsert."""
    return patient_records_bulk_upsert(actor=actor, institution=institution, records=[record])[0]


def patient_records_bulk_upsert(
    *, actor: User, institution: Institution, records: Sequence[Mapping[str, Any]]
) -> list[RecordResult]:
    """Create or update each record of `records` in `institution`, one result per record.

    Raises PermissionDenied when `actor` may not write clinical records of `institution` at all,
    BulkTooLarge past settings.API_BULK_MAX_RECORDS. Everything record-specific (invalid
    fields, a patient the actor may not see, a conflict) is that record's error result. Writes
    exactly one audit event per record written or found unchanged, in the caller's transaction.
    """
    if not actor.can_edit_record:
        raise PermissionDenied("This role cannot change the clinical record.")
    if actor.institution_id != institution.pk:
        raise PermissionDenied("Records are written into your own institution only.")
    if len(records) > settings.API_BULK_MAX_RECORDS:
        raise BulkTooLarge(f"At most {settings.API_BULK_MAX_RECORDS} records per call.")
    batch = _Batch(actor=actor, institution=institution)
    with cyclic_gc_paused():
        return batch.run(records)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector for one call (the bulk API view holds it over parsing too).

    A 1,000-record batch allocates ~100,000 dicts and lists (payload, plans, rows), none of them
    in reference cycles, so every few hundred allocations the collector walked them for nothing
    and now and then the whole heap of the process: ~30 % of a batch's CPU time, measured.
    Reference counting still frees everything as usual; cycles wait until the call returns.
    The switch is per process: a call that finds it off (another thread pausing it) leaves it
    to that thread to switch back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---------------------------------------------------------------------------------------------
# Planning: validate and diff against what is stored, without writing
# ---------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What one valid record will write. Plain data, so a failed batch can be replayed."""

    index: int
    patient: Patient | None  # stored patient, None when this record creates it
    patient_values: dict[str, Any]  # fields to set (all given fields when creating)
    team_ids: set[int] | None  # the new care-team set, None when unchanged
    # section -> (values incl. external_id, external id of the diagnosis it belongs to)
    creates: dict[str, list[tuple[dict[str, Any], str | None]]]
    updates: dict[str, list[tuple[StoredItem, dict[str, Any], str | None]]]
    changed: list[str]  # names of the patient fields and sections that change
    stored_diagnoses: dict[str, int]  # external id -> pk of the stored diagnoses

    @property
    def status(self) -> Status:
        if self.patient is None:
            return "created"
        return "updated" if self.changed else "unchanged"


class _RecordError(Exception):
    def __init__(self, errors: dict[str, list[str]], kind: ErrorKind = "invalid") -> None:
        super().__init__("record rejected")
        self.errors = errors
        self.kind = kind


@dataclass
class _Stored:
    """What the database holds for the batch's existing patients."""

    patients: dict[str, Patient] = field(default_factory=dict)  # by MRN
    team_ids: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    sections: dict[int, dict[str, list[StoredItem]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    visible: set[int] = field(default_factory=set)


class _Batch:
    def __init__(self, *, actor: User, institution: Institution) -> None:
        self.actor = actor
        self.institution = institution
        self.today = timezone.localdate()
        self.integration = actor.is_integration_client
        self.teams_by_code = dict(
            CareTeam.objects.filter(institution=institution).values_list("code", "pk")
        )
        self.actor_team_ids: set[int] = (
            set()
            if self.integration
            else set(actor.care_teams.filter(institution=institution).values_list("pk", flat=True))
        )

    def run(self, records: Sequence[Mapping[str, Any]]) -> list[RecordResult]:
        results: list[RecordResult | None] = [None] * len(records)
        cleaned: dict[int, dict[str, Any]] = {}
        cleaner = RecordCleaner()
        first_by_mrn: dict[str, int] = {}
        for i, raw in enumerate(records):
            try:
                data = cleaner.clean(raw)
            except serializers.ValidationError as exc:
                results[i] = _error(i, flatten_errors(exc.detail))
                continue
            if data["mrn"] in first_by_mrn:
                message = f"The same MRN is already in record {first_by_mrn[data['mrn']]}."
                results[i] = _error(i, {"mrn": [message]})
                continue
            first_by_mrn[data["mrn"]] = i
            cleaned[i] = data

        stored = self._load(cleaned.values())
        plans: list[_Plan] = []
        for i, data in cleaned.items():
            try:
                plans.append(self._plan(i, data, stored))
            except _RecordError as exc:
                results[i] = _error(i, exc.errors, exc.kind)

        for plan, outcome in self._write_all(plans):
            results[plan.index] = outcome
        return [r for r in results if r is not None]

    # -- loading ------------------------------------------------------------------------------

    def _load(self, records: Iterable[Mapping[str, Any]]) -> _Stored:
        stored = _Stored()
        mrns = [r["mrn"] for r in records]
        for start in range(0, len(mrns), 1000):
            for p in Patient.objects.filter(
                institution=self.institution, mrn__in=mrns[start : start + 1000]
            ):
                stored.patients[p.mrn] = p
        ids = [p.pk for p in stored.patients.values()]
        if not ids:
            return stored
        links = Patient.care_teams.through.objects.filter(patient_id__in=ids)
        for patient_id, team_id in links.values_list("patient_id", "careteam_id"):
            stored.team_ids[patient_id].add(team_id)
        for section, model in RECORD_SECTIONS.items():
            columns = _STORED_COLUMNS[section]
            rows = model.objects.filter(patient_id__in=ids).order_by("pk")  # type: ignore[attr-defined]
            for row in rows.values_list(*columns):
                item = dict(zip(columns, row, strict=True))
                stored.sections[item["patient_id"]][section].append(item)
        if self.integration:
            stored.visible = set(ids)
        else:
            visible = patient_visible_queryset(user=self.actor).filter(pk__in=ids)
            stored.visible = set(visible.values_list("pk", flat=True))
        return stored

    # -- one record ------------------------------------------------------------------------------

    def _plan(self, index: int, data: Mapping[str, Any], stored: _Stored) -> _Plan:
        patient = stored.patients.get(data["mrn"])
        errors: dict[str, list[str]] = defaultdict(list)
        if patient is not None and patient.pk not in stored.visible:
            raise _RecordError(
                {"mrn": ["A patient with this MRN exists outside your care teams."]}, "forbidden"
            )
        if patient is None:
            for name in PATIENT_REQUIRED_ON_CREATE:
                if name not in data:
                    errors[name].append("This field is required to create a patient.")

        stored_teams = stored.team_ids.get(patient.pk, set()) if patient else set()
        team_ids = self._team_ids(data, patient is None, errors)

        stored_sections = stored.sections.get(patient.pk, {}) if patient else {}
        creates: dict[str, list[tuple[dict[str, Any], str | None]]] = {}
        updates: dict[str, list[tuple[StoredItem, dict[str, Any], str | None]]] = {}
        changed: list[str] = []

        patient_values = {k: data[k] for k in PATIENT_FIELDS if k in data}
        if patient is not None:
            patient_values = {k: v for k, v in patient_values.items() if getattr(patient, k) != v}
            changed.extend(patient_values)
        if team_ids is not None and team_ids != stored_teams:
            changed.append("care_teams")
        else:
            team_ids = None

        diagnosis_ext = {d["pk"]: d["external_id"] for d in stored_sections.get("diagnoses", [])}
        # A diagnosis entered in the web app (no external id) is named by its export alias.
        diagnosis_alias = {
            web_item_id("diagnoses", pk): pk for pk, e in diagnosis_ext.items() if e is None
        }
        known_diagnoses = {e for e in diagnosis_ext.values() if e is not None}
        known_diagnoses.update(diagnosis_alias)
        known_diagnoses.update(d["external_id"] for d in data.get("diagnoses", []))

        for section in RECORD_SECTIONS:
            items = data.get(section)
            if items is None:
                continue
            by_key = _stored_by_key(section, stored_sections.get(section, []))
            seen: set[Any] = set()
            seen_external: set[str] = set()
            stored_conditions = {
                o["external_id"]: o.get("condition") for o in stored_sections.get(section, [])
            }
            for i, item in enumerate(items):
                path = f"{section}[{i}]"
                key = item_key(section, item)
                key_name = "condition" if section == "comorbidities" else "external_id"
                if key in seen:
                    errors[f"{path}.{key_name}"].append(f"Duplicate {key_name} in this section.")
                    continue
                seen.add(key)
                # Comorbidities are keyed by condition, yet their optional external ids are
                # unique per patient too.
                external_id = item["external_id"]
                if key_name == "condition" and external_id is not None:
                    if external_id in seen_external:
                        errors[f"{path}.external_id"].append(
                            "Duplicate external_id in this section."
                        )
                    elif stored_conditions.get(external_id, key) != key:
                        errors[f"{path}.external_id"].append(
                            "This external_id belongs to another stored comorbidity."
                        )
                    seen_external.add(external_id)
                values = {name: item[name] for name in _SECTION_FIELDS[section]}
                values["external_id"] = external_id
                ref = item.get("diagnosis_external_id")
                if section in DIAGNOSIS_LINKED and ref is not None and ref not in known_diagnoses:
                    errors[f"{path}.diagnosis_external_id"].append(
                        "No diagnosis with this external_id in the record."
                    )
                for issue in validate_section(section, _clinical_values(section, values, ref)):
                    errors[f"{path}.{issue.field}"].append(str(issue.message))
                old = by_key.get(key)
                if old is None:
                    creates.setdefault(section, []).append((values, ref))
                    continue
                if key_name == "external_id" and old["external_id"] is None:
                    # Matched by its alias: the item stays one entered in the web app.
                    values["external_id"] = None
                stored_ref = diagnosis_ext.get(old.get("diagnosis_id"))
                same_ref = stored_ref == ref or (
                    ref in diagnosis_alias and diagnosis_alias[ref] == old.get("diagnosis_id")
                )
                if any(old[k] != v for k, v in values.items()) or not same_ref:
                    updates.setdefault(section, []).append((old, values, ref))
            if section in creates or section in updates:
                changed.append(section)

        stored_patient = {k: getattr(patient, k) for k in PATIENT_FIELDS} if patient else {}
        merged_patient = dict(stored_patient)
        merged_patient.update({k: data[k] for k in PATIENT_FIELDS if k in data})
        for issue in validate_section("patient", _without_keys(merged_patient, {"mrn"})):
            errors[str(issue.field)].append(str(issue.message))
        if not errors:
            self._check_dates(
                data, stored_patient, merged_patient, stored_sections, diagnosis_ext, errors
            )
        if errors:
            raise _RecordError(dict(errors))
        return _Plan(
            index=index,
            patient=patient,
            patient_values=patient_values,
            team_ids=team_ids,
            creates=creates,
            updates=updates,
            changed=changed,
            stored_diagnoses={
                **diagnosis_alias,
                **{e: pk for pk, e in diagnosis_ext.items() if e is not None},
            },
        )

    def _team_ids(
        self, data: Mapping[str, Any], creating: bool, errors: dict[str, list[str]]
    ) -> set[int] | None:
        codes = data.get("care_teams")
        if codes is None:
            if creating and not self.integration:
                errors["care_teams"].append("Name at least one of your care teams.")
            return None
        team_ids: set[int] = set()
        for i, code in enumerate(codes):
            if code not in self.teams_by_code:
                errors[f"care_teams[{i}]"].append(f"Unknown care team code {code!r}.")
            else:
                team_ids.add(self.teams_by_code[code])
        # A person may not create a patient they cannot see, nor hand one away entirely.
        if not self.integration and not (team_ids & self.actor_team_ids):
            errors["care_teams"].append("Name at least one of your care teams.")
        return team_ids

    def _check_dates(
        self,
        data: Mapping[str, Any],
        stored_patient: dict[str, Any],
        merged_patient: dict[str, Any],
        stored_sections: Mapping[str, list[StoredItem]],
        diagnosis_ext: Mapping[int, str | None],
        errors: dict[str, list[str]],
    ) -> None:
        """Cross-record dates on the merged record. Payload items keep their payload index;
        stored items that the payload leaves alone follow them and are reported by their
        external id. A problem among stored items alone that existed before does not block."""
        merged: dict[str, list[dict[str, Any]]] = {}
        before: dict[str, list[dict[str, Any]]] = {}
        before_labels: dict[str, list[str]] = {}  # every stored item, in stored order
        kept_labels: dict[str, list[str]] = {}  # the stored items the payload leaves alone
        for section in RECORD_SECTIONS:
            items = data.get(section, [])
            keys = {item_key(section, it) for it in items}
            rows = [_clinical_values(section, it, it.get("diagnosis_external_id")) for it in items]
            before[section], before_labels[section], kept_labels[section] = [], [], []
            for kept in stored_sections.get(section, []):
                values = _stored_clinical_values(section, kept, diagnosis_ext)
                label = f"{section}[external_id={kept['external_id'] or kept['pk']}]"
                before[section].append(values)
                before_labels[section].append(label)
                if _stored_key(section, kept) not in keys:
                    rows.append(values)
                    kept_labels[section].append(label)
            merged[section] = rows
        old: set[tuple[str, str]] | None = None
        for issue in validate_record_dates(merged_patient, merged, self.today):
            path = str(issue.field)
            match = _ISSUE_PATH.match(path)
            if match:
                section, position, rest = match.group(1), int(match.group(2)), match.group(3)
                count = len(data.get(section, []))
                if position >= count:
                    path = kept_labels[section][position - count] + rest
                    if old is None:
                        old = _labelled_issues(
                            validate_record_dates(stored_patient, before, self.today),
                            before_labels,
                        )
                    if (path, str(issue.message)) in old:
                        continue
            errors[path].append(str(issue.message))

    # -- writing -------------------------------------------------------------------------------

    def _write_all(self, plans: list[_Plan]) -> list[tuple[_Plan, RecordResult]]:
        if not plans:
            return []
        try:
            with transaction.atomic():
                return self._write(plans)
        except DatabaseError:
            pass
        # Replay one by one, so the records that can be stored are.
        out: list[tuple[_Plan, RecordResult]] = []
        for plan in plans:
            try:
                with transaction.atomic():
                    out.extend(self._write([plan]))
            except DatabaseError:
                message = "The record conflicts with a concurrent change; send it again."
                out.append((plan, _error(plan.index, {"mrn": [message]}, "conflict")))
        return out

    def _write(self, plans: list[_Plan]) -> list[tuple[_Plan, RecordResult]]:
        now = timezone.now()
        # New patients and sub-records are plain rows (attname -> value) written by COPY on
        # PostgreSQL; ids of the rows others point at come back in the rows.
        new_patients = {
            id(plan): {"institution_id": self.institution.pk, **plan.patient_values}
            for plan in plans
            if plan.patient is None
        }
        insert_rows(Patient, list(new_patients.values()), now=now, with_ids=True)
        # (pk, public_id) of each plan's patient, stored or new.
        patient_of: dict[int, tuple[int, uuid.UUID]] = {}
        for plan in plans:
            if plan.patient is not None:
                patient_of[id(plan)] = (plan.patient.pk, plan.patient.public_id)
            else:
                row = new_patients[id(plan)]
                patient_of[id(plan)] = (row["id"], row["public_id"])
        changed_patients = []
        for plan in plans:
            if plan.patient is not None and plan.changed:
                for name, value in plan.patient_values.items():
                    setattr(plan.patient, name, value)
                plan.patient.updated_at = now
                changed_patients.append(plan.patient)
        if changed_patients:
            Patient.objects.bulk_update(
                changed_patients, [*PATIENT_FIELDS, "updated_at"], batch_size=500
            )

        through = Patient.care_teams.through
        team_plans = [plan for plan in plans if plan.team_ids is not None]
        stored_team_plans = [plan.patient.pk for plan in team_plans if plan.patient is not None]
        if stored_team_plans:
            through.objects.filter(patient_id__in=stored_team_plans).delete()
        insert_rows(
            through,
            [
                {"patient_id": patient_of[id(plan)][0], "careteam_id": team_id}
                for plan in team_plans
                for team_id in sorted(plan.team_ids or ())
            ],
            now=now,
        )

        # Diagnoses come first in RECORD_SECTIONS, so the new ones have their pk by the time
        # the sections that point at them are built.
        diagnosis_pks = {id(plan): dict(plan.stored_diagnoses) for plan in plans}
        for section, model in RECORD_SECTIONS.items():
            linked = section in DIAGNOSIS_LINKED
            new_rows: list[dict[str, Any]] = []
            new_row_plans: list[int] = []
            changed_rows: list[PatientRecordModel] = []
            for plan in plans:
                patient_id = patient_of[id(plan)][0]
                pks = diagnosis_pks[id(plan)]
                for values, ref in plan.creates.get(section, ()):
                    row = {"patient_id": patient_id, **values}
                    if linked:
                        row["diagnosis_id"] = pks.get(ref) if ref else None
                    new_rows.append(row)
                    new_row_plans.append(id(plan))
                for old, values, ref in plan.updates.get(section, ()):
                    obj = model(pk=old["pk"], patient_id=old["patient_id"], **values)  # type: ignore[misc]
                    if linked:
                        obj.diagnosis_id = pks.get(ref) if ref else None  # type: ignore[attr-defined]
                    obj.updated_at = now
                    changed_rows.append(obj)
            if changed_rows:
                fields = [*_SECTION_FIELDS[section], "external_id", "updated_at"]
                if section in DIAGNOSIS_LINKED:
                    fields.append("diagnosis")
                model.objects.bulk_update(changed_rows, fields, batch_size=500)  # type: ignore[attr-defined]
            is_diagnoses = section == "diagnoses"
            insert_rows(model, new_rows, now=now, with_ids=is_diagnoses)
            if is_diagnoses:
                for row, plan_id in zip(new_rows, new_row_plans, strict=True):
                    if row["external_id"]:
                        diagnosis_pks[plan_id][row["external_id"]] = row["id"]

        audit_record_many(
            actor=self.actor,
            events=[
                {
                    "action": _AUDIT_ACTION[plan.status],
                    "object_type": "patient",
                    "object_id": patient_of[id(plan)][1],
                    "patient_id": patient_of[id(plan)][0],
                    "institution_id": self.institution.pk,
                    "detail": {"fields": plan.changed},
                }
                for plan in plans
            ],
        )
        return [
            (
                plan,
                RecordResult(
                    index=plan.index,
                    status=plan.status,
                    patient_public_id=patient_of[id(plan)][1],
                ),
            )
            for plan in plans
        ]


_AUDIT_ACTION = {
    "created": AuditAction.CREATE,
    "updated": AuditAction.UPDATE,
    "unchanged": AuditAction.SYNC_UNCHANGED,
}


def web_item_id(section: str, pk: int) -> str:
    """The identifier an item entered in the web app (no external id) is exported under
    ("oncoboard-labs-42"), and by which a payload that carries it back matches that item."""
    return f"oncoboard-{section}-{pk}"


def _stored_key(section: str, item: Mapping[str, Any]) -> Any:
    if section != "comorbidities" and item["external_id"] is None:
        return web_item_id(section, item["pk"])
    return item_key(section, item)


def _stored_by_key(section: str, items: Iterable[StoredItem]) -> dict[Any, StoredItem]:
    """Stored items by their key; an item without an external id also by its alias, which a
    real external id of the same spelling outranks."""
    items = list(items)
    out = {_stored_key(section, o): o for o in items if o["external_id"] is None}
    out.update({item_key(section, o): o for o in items if o["external_id"] is not None})
    if section == "comorbidities":
        out = {item_key(section, o): o for o in items}
    return out


def _error(index: int, errors: dict[str, list[str]], kind: ErrorKind = "invalid") -> RecordResult:
    return RecordResult(
        index=index, status="error", patient_public_id=None, errors=errors, error_kind=kind
    )


def _without_keys(values: Mapping[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in keys}


def _clinical_values(section: str, values: Mapping[str, Any], ref: str | None) -> dict[str, Any]:
    # The clinical library sees the model's fields; a diagnosis link is named by its external
    # id, which identifies it within the merged record whether it is stored or new.
    out = {name: values[name] for name in _SECTION_FIELDS[section]}
    if section in DIAGNOSIS_LINKED:
        out["diagnosis"] = ref
    return out


def _stored_clinical_values(
    section: str, old: StoredItem, diagnosis_ext: Mapping[int, str | None]
) -> dict[str, Any]:
    out = {name: old[name] for name in _SECTION_FIELDS[section]}
    if section in DIAGNOSIS_LINKED:
        out["diagnosis"] = diagnosis_ext.get(old["diagnosis_id"])
    return out


def _labelled_issues(
    issues: Iterable[Any], labels: Mapping[str, list[str]]
) -> set[tuple[str, str]]:
    out = set()
    for issue in issues:
        match = _ISSUE_PATH.match(str(issue.field))
        if match and match.group(1) in labels:
            section, position, rest = match.group(1), int(match.group(2)), match.group(3)
            if position < len(labels[section]):
                out.add((labels[section][position] + rest, str(issue.message)))
    return out
