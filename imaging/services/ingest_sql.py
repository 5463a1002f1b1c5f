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
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from imaging.models import HeldInstance, Instance, Series

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
