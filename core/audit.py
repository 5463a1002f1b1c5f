"""Writing the audit trail. Callers pass identifiers, never values.

Every read or write of patient data records exactly one event, inside the transaction of the
access itself (ATOMIC_REQUESTS for pages and API, explicit atomic blocks in jobs), so an access
that rolls back leaves no event and an event never exists without its access.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from core.models import AuditAction, AuditEvent, User
from core.request_context import current_channel, current_request_id
from core.row_insert import insert_rows

_ALLOWED_DETAIL_KEYS = {"count", "fields", "result", "rows", "filters", "job", "format", "page"}


def _clean_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    # Detail is for counts and field names; refusing other keys keeps values (PHI) out by design.
    if not detail:
        return {}
    unknown = set(detail) - _ALLOWED_DETAIL_KEYS
    if unknown:
        raise ValueError(f"audit detail keys not allowed: {sorted(unknown)}")
    return dict(detail)


def _actor_fields(actor: User | None) -> dict[str, Any]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": None, "actor_username": "system"}
    return {"actor": actor, "actor_username": actor.get_username()}


def audit_record(
    *,
    actor: User | None,
    action: AuditAction | str,
    object_type: str,
    object_id: object = "",
    patient_id: int | None = None,
    institution_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        **_actor_fields(actor),
        action=str(action),
        object_type=object_type,
        object_id=str(object_id),
        patient_id=patient_id,
        institution_id=institution_id,
        request_id=current_request_id(),
        channel=current_channel(),
        detail=_clean_detail(detail),
    )


def audit_values(
    *,
    actor: User | None,
    action: AuditAction | str,
    object_type: str,
    object_id: object = "",
    patient_id: int | None = None,
    institution_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values, by field attname (`occurred_at` aside), of the event `audit_record`
    would write with these arguments, for a caller that writes the event in the same SQL
    statement as the access it describes (imaging/services/ingest_sql.py)."""
    actor_fields = _actor_fields(actor)
    return {
        "actor_id": actor_fields["actor"].pk if actor_fields["actor"] is not None else None,
        "actor_username": actor_fields["actor_username"],
        "action": str(action),
        "object_type": object_type,
        "object_id": str(object_id),
        "patient_id": patient_id,
        "institution_id": institution_id,
        "request_id": current_request_id(),
        "channel": current_channel(),
        "detail": _clean_detail(detail),
    }


def audit_record_many(
    *,
    actor: User | None,
    events: Iterable[Mapping[str, Any]],
) -> int:
    """One event per patient touched by a bulk operation, in one statement."""
    # Plain rows written by COPY on PostgreSQL: building and preparing model instances took
    # about as long as all the rest of a 1,000-record sync write (core/row_insert.py).
    actor_fields = _actor_fields(actor)
    base = {
        "actor_id": actor_fields["actor"].pk if actor_fields["actor"] is not None else None,
        "actor_username": actor_fields["actor_username"],
        "request_id": current_request_id(),
        "channel": current_channel(),
    }
    rows = [
        {
            **base,
            "action": str(e["action"]),
            "object_type": e["object_type"],
            "object_id": str(e.get("object_id", "")),
            "patient_id": e.get("patient_id"),
            "institution_id": e.get("institution_id"),
            "detail": _clean_detail(e.get("detail")),
        }
        for e in events
    ]
    insert_rows(AuditEvent, rows, now=timezone.now())
    return len(rows)
