"""The canonical patient-record payload: its types (DRF serializers) and its rendering.

One JSON object per patient, shared by the sync API, CSV import and the demo cohort:

    {"mrn", "given_name", "family_name", "sex", "birth_date", "care_teams": [codes],
     "smoking_status", "smoking_pack_years", "vital_status", "death_date", "last_contact_date",
     "diagnoses": [...], "biomarkers": [...], ... one list per key of RECORD_SECTIONS}

Each section item carries the model's fields by name plus "external_id" (the hospital system's
key, required except for comorbidities, which are keyed by "condition"); items that belong to a
diagnosis name it by "diagnosis_external_id". An item is the whole sub-record: an optional field
left out takes its default, so resending the same item is a no-op and an edited item replaces
the stored one.

The serializers check types, lengths, choices and presence only; codes, staging, ranges and
dates across records are oncology.clinical's job. Unknown keys are errors at every level, so a
misspelt field is reported instead of silently ignored.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models
from rest_framework import serializers

from oncology.models import (
    PATIENT_RECORD_FIELDS,
    RECORD_SECTIONS,
    Diagnosis,
    Patient,
    PatientRecordModel,
)

# Patient fields a payload may set, besides "care_teams" and the sections.
PATIENT_FIELDS = PATIENT_RECORD_FIELDS
# Required when the payload creates a patient; on update every field but "mrn" is optional and
# an absent one is left as stored.
PATIENT_REQUIRED_ON_CREATE = ("given_name", "family_name", "sex", "birth_date")

# Sections whose items may belong to a diagnosis (a `diagnosis` foreign key on the model).
DIAGNOSIS_LINKED = tuple(
    name
    for name, model in RECORD_SECTIONS.items()
    if any(f.name == "diagnosis" for f in model._meta.concrete_fields)
)
_BOOKKEEPING = {"id", "patient", "diagnosis", "external_id", "created_at", "updated_at"}


def section_fields(section: str) -> list[str]:
    """The model fields an item of `section` carries (besides the external ids)."""
    model = RECORD_SECTIONS[section]
    return [f.name for f in model._meta.concrete_fields if f.name not in _BOOKKEEPING]


def item_key(section: str, item: Mapping[str, Any]) -> Any:
    """What identifies an item within its patient: its external id, or the condition for a
    comorbidity (one of each condition per patient)."""
    return item.get("condition") if section == "comorbidities" else item.get("external_id")


class StrictSerializer(serializers.Serializer):
    """A serializer that rejects keys it does not declare."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unknown = {str(key): ["Unknown field."] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class DrugSerializer(StrictSerializer):
    """One drug of a regimen, dose per administration (checked by oncology.clinical)."""

    name = serializers.CharField(max_length=100)
    dose = serializers.FloatField()
    unit = serializers.CharField(max_length=20)


def _serializer_field(field: models.Field) -> serializers.Field:
    """The DRF field for one model field: same type, length, choices and optionality."""
    kwargs: dict[str, Any] = {}
    if field.null:
        kwargs.update(required=False, allow_null=True, default=None)
    elif field.has_default():
        default = field.get_default()
        kwargs.update(required=False, default=getattr(default, "value", default))
    elif field.blank and isinstance(field, models.CharField):
        kwargs.update(required=False, default="")
    if isinstance(field, models.CharField):
        if field.blank:
            kwargs["allow_blank"] = True
        if field.choices:
            # The model's (value, label) pairs, so the API schema names one enum per choice set.
            return serializers.ChoiceField(choices=list(field.choices), **kwargs)
        return serializers.CharField(max_length=field.max_length, **kwargs)
    if isinstance(field, models.DateField):
        return serializers.DateField(**kwargs)
    if isinstance(field, models.FloatField):
        return serializers.FloatField(**kwargs)
    if isinstance(field, models.PositiveSmallIntegerField):
        return serializers.IntegerField(min_value=0, max_value=32767, **kwargs)
    if isinstance(field, models.JSONField) and field.name == "drugs":
        kwargs.pop("default", None)
        return serializers.ListField(child=DrugSerializer(), default=list, **kwargs)
    raise TypeError(f"no payload type for {field!r}")  # a new model field needs a mapping


def _model_field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # noqa: S101 - concrete fields only, by construction
    return field


def _section_serializer(section: str) -> type[StrictSerializer]:
    model = RECORD_SECTIONS[section]
    attrs: dict[str, Any] = {
        name: _serializer_field(_model_field(model, name)) for name in section_fields(section)
    }
    if section == "comorbidities":
        attrs["external_id"] = serializers.CharField(
            max_length=100, required=False, allow_null=True, default=None
        )
    else:
        attrs["external_id"] = serializers.CharField(max_length=100)
    if section in DIAGNOSIS_LINKED:
        attrs["diagnosis_external_id"] = serializers.CharField(
            max_length=100, required=False, allow_null=True, default=None
        )
    name = "".join(part.title() for part in section.split("_")) + "ItemSerializer"
    return type(name, (StrictSerializer,), attrs)


SECTION_SERIALIZERS: dict[str, type[StrictSerializer]] = {
    section: _section_serializer(section) for section in RECORD_SECTIONS
}


def _patient_field(name: str) -> serializers.Field:
    field = _serializer_field(_model_field(Patient, name))
    # Absent means "leave as stored", so no defaults at the top level.
    field.default = serializers.empty
    field.required = name == "mrn"
    return field


class PatientRecordSerializer(StrictSerializer):
    """The whole payload of one patient record (types only)."""

    care_teams = serializers.ListField(child=serializers.SlugField(max_length=40), required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = {name: _patient_field(name) for name in PATIENT_FIELDS}
        fields.update(super().get_fields())
        for section, serializer in SECTION_SERIALIZERS.items():
            fields[section] = serializer(many=True, required=False)
        return fields


# ---------------------------------------------------------------------------------------------
# Fast path
# ---------------------------------------------------------------------------------------------
#
# DRF spends ~1 ms validating a realistic record, as long as the whole sync target allows. The
# fast path below accepts only values that the serializers would accept unchanged or convert
# in one obvious way (an ISO date string, an int for a float); anything else (a missing
# required field, a numeric string, stray whitespace, non-ASCII text, an unknown key) sends the
# whole record to the serializers, which stay the one authority on what is valid and on every
# error message. Its rules are read off the serializer fields themselves, and a property test
# (tests/oncology/test_sync_payload.py) checks that both paths agree.

_REJECT = object()
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+\Z")


@dataclass(frozen=True)
class _Rule:
    name: str
    kind: str  # char, slug, choice, date, float, int, objects, slugs
    required: bool
    default: Any  # serializers.empty when absent means "leave out"
    allow_null: bool
    allow_blank: bool
    max_length: int | None = None
    choices: frozenset[str] = frozenset()
    min_value: int | None = None
    max_value: int | None = None
    children: tuple[_Rule, ...] = ()


def _rules(serializer: serializers.Serializer) -> tuple[_Rule, ...]:
    return tuple(_rule(name, f) for name, f in serializer.fields.items())


def _rule(name: str, f: serializers.Field) -> _Rule:
    common: dict[str, Any] = {
        "name": name,
        "required": f.required,
        "default": f.default,
        "allow_null": f.allow_null,
        "allow_blank": getattr(f, "allow_blank", False),
    }
    if isinstance(f, serializers.ListSerializer):
        return _Rule(kind="objects", children=_rules(f.child), **common)  # type: ignore[arg-type]
    if isinstance(f, serializers.ListField):
        if isinstance(f.child, serializers.Serializer):
            return _Rule(kind="objects", children=_rules(f.child), **common)
        child = _rule("", f.child)
        return _Rule(kind="slugs", max_length=child.max_length, **common)
    if isinstance(f, serializers.ChoiceField):
        choices = frozenset(str(c) for c in f.choices) | ({""} if f.allow_blank else set())
        return _Rule(kind="choice", choices=choices, **common)
    if isinstance(f, serializers.SlugField):
        return _Rule(kind="slug", max_length=f.max_length, **common)
    if isinstance(f, serializers.CharField):
        return _Rule(kind="char", max_length=f.max_length, **common)
    if isinstance(f, serializers.DateField):
        return _Rule(kind="date", **common)
    if isinstance(f, serializers.FloatField):
        return _Rule(kind="float", **common)
    if isinstance(f, serializers.IntegerField):
        return _Rule(kind="int", min_value=f.min_value, max_value=f.max_value, **common)
    raise TypeError(f"no fast rule for {f!r}")


def _plain_text(value: Any, max_length: int | None) -> bool:
    return (
        type(value) is str
        and (max_length is None or len(value) <= max_length)
        and value.isascii()
        and "\x00" not in value
        and value == value.strip()
    )


def _fast_value(rule: _Rule, value: Any) -> Any:
    if value is None:
        return None if rule.allow_null else _REJECT
    kind = rule.kind
    if kind == "choice":
        return value if type(value) is str and value in rule.choices else _REJECT
    if kind in ("char", "slug"):
        if not _plain_text(value, rule.max_length):
            return _REJECT
        if value == "":
            return "" if rule.allow_blank else _REJECT
        if kind == "slug" and not _SLUG.match(value):
            return _REJECT
        return value
    if kind == "date":
        if type(value) is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return _REJECT
        return _REJECT
    if kind == "float":
        if type(value) is float and math.isfinite(value):
            return value
        if type(value) is int and abs(value) < 2**53:  # exact as a float, no overflow
            return float(value)
        return _REJECT
    if kind == "int":
        if type(value) is not int:
            return _REJECT
        if rule.min_value is not None and value < rule.min_value:
            return _REJECT
        if rule.max_value is not None and value > rule.max_value:
            return _REJECT
        return value
    if kind == "slugs":
        if type(value) is not list:
            return _REJECT
        for code in value:
            if not _plain_text(code, rule.max_length) or not _SLUG.match(code):
                return _REJECT
        return list(value)
    if kind == "objects":
        if type(value) is not list:
            return _REJECT
        out = []
        for item in value:
            cleaned = _fast_object(rule.children, item)
            if cleaned is None:
                return _REJECT
            out.append(cleaned)
        return out
    return _REJECT


def _fast_object(rules: tuple[_Rule, ...], data: Any) -> dict[str, Any] | None:
    if type(data) is not dict or len(data) > len(rules):
        return None
    out: dict[str, Any] = {}
    seen = 0
    for rule in rules:
        if rule.name in data:
            seen += 1
            value = _fast_value(rule, data[rule.name])
            if value is _REJECT:
                return None
            out[rule.name] = value
        elif rule.required:
            return None
        elif rule.default is not serializers.empty:
            out[rule.name] = rule.default() if callable(rule.default) else rule.default
    return out if seen == len(data) else None  # an unknown key: let DRF name it


class RecordCleaner:
    """Validates payload records; build one per call and reuse it for every record."""

    def __init__(self) -> None:
        self.serializer = PatientRecordSerializer()
        self.rules = _rules(self.serializer)

    def clean(self, record: Any) -> dict[str, Any]:
        """The typed record, or serializers.ValidationError."""
        fast = _fast_object(self.rules, record)
        if fast is not None:
            return fast
        return self.serializer.run_validation(record)


# ---------------------------------------------------------------------------------------------
# Rendering a stored record in the same shape
# ---------------------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def record_item_payload(
    section: str, obj: PatientRecordModel, diagnosis_external_ids: Mapping[int, str | None]
) -> dict[str, Any]:
    item = {name: _json_value(getattr(obj, name)) for name in section_fields(section)}
    item["external_id"] = obj.external_id
    if section in DIAGNOSIS_LINKED:
        diagnosis_id = getattr(obj, "diagnosis_id", None)
        item["diagnosis_external_id"] = (
            diagnosis_external_ids.get(diagnosis_id) if diagnosis_id is not None else None
        )
    return item


def record_payload(patient: Patient) -> dict[str, Any]:
    """`patient`'s whole record in the canonical payload shape, plus its public ids.

    No access check and no audit: the caller obtained `patient` through a selector (which
    audited the view) or a write service (which audited the write). 13 queries.
    """
    body: dict[str, Any] = {
        "public_id": str(patient.public_id),
        "research_id": patient.research_id,
    }
    body.update({name: _json_value(getattr(patient, name)) for name in PATIENT_FIELDS})
    body["care_teams"] = sorted(patient.care_teams.values_list("code", flat=True))
    diagnoses = list(Diagnosis.objects.filter(patient=patient))
    diagnosis_external_ids = {d.pk: d.external_id for d in diagnoses}
    for section, model in RECORD_SECTIONS.items():
        rows = diagnoses if model is Diagnosis else model.objects.filter(patient=patient)  # type: ignore[attr-defined]
        body[section] = [record_item_payload(section, obj, diagnosis_external_ids) for obj in rows]
    return body
