"""Inserting many new rows of one model fast: PostgreSQL COPY, bulk_create elsewhere.

Used where thousands of rows are written per call: the record sync's create path (~9 rows a
record) and the audit events of bulk operations (one a patient). Django's bulk_create spends
most of its time preparing every value through its field machinery and psycopg's array
adaptation; COPY takes the plain Python values as they are. Rows that others must point at
(patients, diagnoses) get their ids from the table's own sequence first, in one query, so COPY
needs no RETURNING.

Like bulk_create, nothing here calls save() or sends signals. A field the row leaves out takes
the model's default; created_at/updated_at style fields (auto_now, auto_now_add) take `now`
(bulk_create, off PostgreSQL, stamps its own time).
Errors surface as django.db errors (IntegrityError for a unique conflict), as from any query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models


def _fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def complete_rows(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, now: datetime
) -> None:
    """Fill in, in place, every concrete field a row leaves out (keyed by attname)."""
    missing_cache: dict[frozenset[str], list[models.Field]] = {}
    fields = _fields(model)
    for row in rows:
        key = frozenset(row)
        missing = missing_cache.get(key)
        if missing is None:
            missing = missing_cache[key] = [f for f in fields if f.attname not in row]
        for f in missing:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                row[f.attname] = now
            else:
                row[f.attname] = f.get_default()


def insert_rows(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    now: datetime,
    with_ids: bool = False,
) -> None:
    """Insert `rows` (attname -> value) as new rows of `model`, completing them first.

    With `with_ids`, each row gets its primary key under the pk's attname ("id"), as
    bulk_create sets it on PostgreSQL. Run it inside a transaction: a failure leaves the rows
    it sent half-written.
    """
    if not rows:
        return
    complete_rows(model, rows, now=now)
    if connection.vendor != "postgresql":
        objs = [model(**row) for row in rows]
        model.objects.bulk_create(objs, batch_size=1000)  # type: ignore[attr-defined]
        if with_ids:
            for row, obj in zip(rows, objs, strict=True):
                row[obj._meta.pk.attname] = obj.pk
        return
    _copy(model, rows, with_ids=with_ids)


def _copy(model: type[models.Model], rows: Sequence[dict[str, Any]], *, with_ids: bool) -> None:
    from psycopg.types.json import Jsonb

    fields = _fields(model)
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None  # noqa: S101 - every concrete model has one
    pk_column, pk_attname = str(pk.column), pk.attname
    qn = connection.ops.quote_name
    json_positions = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    attnames = [f.attname for f in fields]
    columns = [str(f.column) for f in fields]
    with connection.cursor() as cursor:
        if with_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [qn(table), pk_column, len(rows)],
            )
            for row, (value,) in zip(rows, cursor.fetchall(), strict=True):
                row[pk_attname] = value
            attnames.insert(0, pk_attname)
            columns.insert(0, pk_column)
            json_positions = [i + 1 for i in json_positions]
        sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        # Django's cursor wrapper translates errors for execute() only; COPY goes to psycopg's
        # own cursor, so translate here: a unique conflict must reach the caller as the
        # IntegrityError its fallback handles.
        with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for row in rows:
                values = [row[name] for name in attnames]
                for i in json_positions:
                    if values[i] is not None:  # None is SQL NULL, as Django stores it
                        values[i] = Jsonb(values[i])
                copy.write_row(values)
