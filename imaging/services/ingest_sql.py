"""One instance indexed in one statement, for the C-STORE door on PostgreSQL.

C-STORE answers each instance before the sender sends the next, so an association cannot share
one transaction between its instances; each is committed on its own before its response. The
ORM needs five round trips for that (duplicate check, BEGIN, INSERT, count UPDATE, COMMIT),
and on a busy server each round trip waits for the database process to be scheduled. This
statement does the same work in one: it inserts the row unless the SOP Instance UID is already
stored or held, bumps the series' instance count when it did, and, being one statement in
autocommit, is committed (or not at all) when it returns.

Used for one instance at a time (C-STORE, an upload of one file a request) when its patient,
study and series rows exist and nothing else (a new study or series, a new modality, an audit
event) must be written with it; the ORM path in imaging/services/ingest.py does everything
else, and batches of many instances (one INSERT for all).

`instance_insert_into_series` is the same statement for a batch that has not looked the
series up yet (an upload of one file a request: every request is a new batch): the series is
found inside the statement, with the conditions under which the batch would have taken the
one-statement path (same institution, study and patient, the modality already on the study),
so the request saves the series query and its ORM compilation. When no series meets them
nothing is written and the caller takes the ORM path.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from core.models import AuditEvent
from imaging.models import HeldInstance, Instance, Series, Study

_COLUMNS = (
    "sop_instance_uid",
    "sop_class_uid",
    "instance_number",
    "storage_name",
    "sha256",
    "size_bytes",
    "transfer_syntax",
    "rows",
    "columns",
    "frames",
    "image_position",
    "created_at",
    "series",
)


def available() -> bool:
    """On PostgreSQL (data-modifying WITH and ON CONFLICT). Inside a request's transaction the
    statement needs no savepoint: it raises no unique violation (ON CONFLICT DO NOTHING), and
    any other error fails the request, which rolls back."""
    return connection.vendor == "postgresql"


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise TypeError(f"{model.__name__}.{name} has no column")
    return column


@cache
def _statement() -> str:
    q = connection.ops.quote_name
    instance, held, series = (
        q(Instance._meta.db_table),
        q(HeldInstance._meta.db_table),
        q(Series._meta.db_table),
    )
    columns = [_column(Instance, name) for name in _COLUMNS]
    uid = q(_column(Instance, "sop_instance_uid"))
    series_id = q(_column(Instance, "series"))
    count = q(_column(Series, "instance_count"))
    values = ", ".join("%s::jsonb" if c == "image_position" else "%s" for c in columns)
    # Only quoted table and column names from the models go into the text; values are
    # parameters.
    return (
        f"WITH added AS ("  # noqa: S608
        f" INSERT INTO {instance} ({', '.join(q(c) for c in columns)})"
        f" SELECT {values}"
        f" WHERE NOT EXISTS (SELECT 1 FROM {held} WHERE {uid} = %s)"
        f" ON CONFLICT ({uid}) DO NOTHING RETURNING {series_id}"
        f"), counted AS ("
        f" UPDATE {series} SET {count} = {count} + 1"
        f" WHERE {q(_column(Series, 'id'))} IN (SELECT {series_id} FROM added)"
        f") SELECT (SELECT count(*) FROM added)"
    )


@dataclass(frozen=True)
class SeriesInsert:
    """What `instance_insert_into_series` found and did."""

    added: bool
    series_id: int
    series_modality: str
    study_id: int
    study_public_id: uuid.UUID


# The audit event's columns the caller gives (core.audit.audit_values), in statement order;
# occurred_at is the statement's, object_id and the detail's "result" the study's public id.
_AUDIT_COLUMNS = (
    "actor_id",
    "actor_username",
    "action",
    "object_type",
    "patient_id",
    "institution_id",
    "request_id",
    "channel",
)


@cache
def _statement_into_series(with_audit: bool) -> str:
    q = connection.ops.quote_name
    instance, held, series, study = (
        q(Instance._meta.db_table),
        q(HeldInstance._meta.db_table),
        q(Series._meta.db_table),
        q(Study._meta.db_table),
    )
    names = [name for name in _COLUMNS if name != "series"]
    columns = [_column(Instance, name) for name in names]
    uid = q(_column(Instance, "sop_instance_uid"))
    series_fk = q(_column(Instance, "series"))
    count = q(_column(Series, "instance_count"))
    values = ", ".join("%s::jsonb" if c == "image_position" else "%s" for c in columns)
    se_id, st_id = q(_column(Series, "id")), q(_column(Study, "id"))
    # Only quoted table and column names from the models go into the text; values are
    # parameters.
    return (
        f"WITH target AS ("  # noqa: S608
        f" SELECT se.{se_id} AS series_id, se.{q(_column(Series, 'modality'))} AS modality,"
        f" st.{st_id} AS study_id, st.{q(_column(Study, 'public_id'))} AS study_public_id"
        f" FROM {series} se JOIN {study} st ON st.{st_id} = se.{q(_column(Series, 'study'))}"
        f" WHERE se.{q(_column(Series, 'series_instance_uid'))} = %s"
        f" AND st.{q(_column(Study, 'study_instance_uid'))} = %s"
        f" AND st.{q(_column(Study, 'institution'))} = %s"
        f" AND st.{q(_column(Study, 'patient'))} = %s"
        f" AND st.{q(_column(Study, 'modalities'))} @> jsonb_build_array(%s::text)"
        f"), added AS ("
        f" INSERT INTO {instance} ({', '.join(q(c) for c in columns)}, {series_fk})"
        f" SELECT {values}, target.series_id FROM target"
        f" WHERE NOT EXISTS (SELECT 1 FROM {held} WHERE {uid} = %s)"
        f" ON CONFLICT ({uid}) DO NOTHING RETURNING {series_fk}"
        f"), counted AS ("
        f" UPDATE {series} SET {count} = {count} + 1"
        f" WHERE {se_id} IN (SELECT {series_fk} FROM added)"
        f"){_audit_cte() if with_audit else ''}"
        f" SELECT series_id, modality, study_id, study_public_id,"
        f" (SELECT count(*) FROM added) FROM target"
    )


def _audit_cte() -> str:
    q = connection.ops.quote_name
    audit = q(AuditEvent._meta.db_table)
    names = [*_AUDIT_COLUMNS, "occurred_at", "object_id", "detail"]
    # actor_id is the actor foreign key's column; the other names are the fields'.
    columns = ", ".join(q(_column(AuditEvent, "actor" if n == "actor_id" else n)) for n in names)
    given = ", ".join("%s" for _ in _AUDIT_COLUMNS)
    return (
        f", audited AS ("  # noqa: S608  (names from the model; values are parameters)
        f" INSERT INTO {audit} ({columns})"
        f" SELECT {given}, statement_timestamp(), target.study_public_id::text,"
        f" jsonb_set(%s::jsonb, '{{result}}', jsonb_build_array(target.study_public_id::text))"
        f" FROM target WHERE EXISTS (SELECT 1 FROM added))"
    )


def instance_insert_into_series(
    *,
    institution_id: int,
    patient_id: int,
    study_uid: str,
    series_uid: str,
    modality: str,
    fields: dict[str, Any],
    audit: dict[str, Any] | None = None,
) -> SeriesInsert | None:
    """Find the series `series_uid` of study `study_uid` of this institution and patient, whose
    study already lists `modality`, and insert the instance row into it (counted), in one
    committed statement; None, writing nothing, when no series meets those conditions (the
    caller's ORM path then creates or refuses what is missing). `added` is False, changing
    nothing, when the SOP Instance UID is already stored or held.

    `audit`: the event recording this instance (core.audit.audit_values, its "result" detail
    an empty list), written by the same statement when, and only when, the row is added, with
    the study's public id as object id and result."""
    values = {**fields, "created_at": timezone.now()}
    params = [
        json.dumps(values[name])
        if name == "image_position" and values[name] is not None
        else values[name]
        for name in _COLUMNS
        if name != "series"
    ]
    audit_params = []
    if audit is not None:
        audit_params = [audit[name] for name in _AUDIT_COLUMNS]
        audit_params.append(json.dumps(audit["detail"]))
    with connection.cursor() as cursor:
        cursor.execute(
            _statement_into_series(audit is not None),
            [
                series_uid,
                study_uid,
                institution_id,
                patient_id,
                modality,
                *params,
                fields["sop_instance_uid"],
                *audit_params,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    series_id, series_modality, study_id, study_public_id, added = row
    return SeriesInsert(
        added=bool(added),
        series_id=series_id,
        series_modality=series_modality,
        study_id=study_id,
        study_public_id=study_public_id,
    )


def instance_insert_counted(*, series_id: int, fields: dict[str, Any]) -> bool:
    """Insert the instance row (InstanceFields values) and count it on its series, in one
    committed statement; False, changing nothing, when its SOP Instance UID is already stored
    or held."""
    values = {**fields, "created_at": timezone.now(), "series": series_id}
    params = [
        json.dumps(values[name])
        if name == "image_position" and values[name] is not None
        else values[name]
        for name in _COLUMNS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [*params, fields["sop_instance_uid"]])
        (added,) = cursor.fetchone()
    return bool(added)
