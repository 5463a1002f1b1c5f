"""Import of a FHIR R4 Bundle (transaction or collection) into the record: all or nothing.

The Bundle is validated with fhir.resources (each error with its path), mapped by the pure
oncology.fhir.imports to record payloads, one per Patient, and upserted by the sync service
(oncology.services.sync), which applies the clinical checks and is idempotent by identifier:
the Patient by its MRN, every other resource by its identifier (the item's external_id).
Any error anywhere writes nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db import transaction

from core.models import User
from oncology.fhir.imports import bundle_to_records, parse_bundle
from oncology.services.sync import BulkTooLarge, patient_records_bulk_upsert

_ITEM_PATH = re.compile(r"^([a-z_]+)\[(\d+)\]\.?(.*)$")


@dataclass
class FhirImportResult:
    """`errors` maps a path in the Bundle ("entry[3].resource.valueQuantity") to messages;
    `patients` lists, per Patient entry, its entry index, status and public id."""

    status: Literal["ok", "invalid", "forbidden", "conflict"]
    errors: dict[str, list[str]] = field(default_factory=dict)
    patients: list[dict[str, Any]] = field(default_factory=list)
    # path -> what was read but not stored (a secondary cancer's body site): told, not refused
    warnings: dict[str, list[str]] = field(default_factory=dict)


def fhir_bundle_import(*, actor: User, data: Any) -> FhirImportResult:
    """Validate, map and upsert the Bundle `data` into `actor`'s institution, atomically.

    Only integration clients (hospital systems) import FHIR: a Bundle names no care teams.
    Raises PermissionDenied otherwise.
    """
    if not actor.is_integration_client or actor.institution is None:
        raise PermissionDenied("FHIR import is for the institution's integration clients.")
    bundle, errors = parse_bundle(data)
    if bundle is None:
        return FhirImportResult(status="invalid", errors=errors)
    mapped = bundle_to_records(bundle)
    if mapped.errors:
        return FhirImportResult(status="invalid", errors=mapped.errors)
    if not mapped.records:
        return FhirImportResult(status="invalid", errors={"entry": ["The Bundle has no Patient."]})
    with transaction.atomic():
        try:
            results = patient_records_bulk_upsert(
                actor=actor, institution=actor.institution, records=mapped.records
            )
        except BulkTooLarge as exc:
            return FhirImportResult(status="invalid", errors={"entry": [str(exc)]})
        failed = [r for r in results if r.status == "error"]
        if failed:
            transaction.set_rollback(True)
            out: dict[str, list[str]] = {}
            kind = "invalid"
            for result in failed:
                if result.error_kind in ("forbidden", "conflict"):
                    kind = result.error_kind
                for path, messages in result.errors.items():
                    where = _bundle_path(mapped, result.index, path)
                    out.setdefault(where, []).extend(messages)
            return FhirImportResult(status=kind, errors=out)  # type: ignore[arg-type]
    return FhirImportResult(
        status="ok",
        warnings=mapped.warnings,
        patients=[
            {
                "entry": mapped.patient_entries[r.index],
                "status": r.status,
                "patient_public_id": str(r.patient_public_id)
                if isinstance(r.patient_public_id, uuid.UUID)
                else r.patient_public_id,
            }
            for r in results
        ],
    )


def _bundle_path(mapped: Any, index: int, path: str) -> str:
    """The sync service's record path ("labs[3].value") as the path of the resource it came
    from ("entry[12].resource (labs.value)"); patient fields point at the Patient entry."""
    match = _ITEM_PATH.match(path)
    if match:
        section, position, rest = match.group(1), int(match.group(2)), match.group(3)
        entries = mapped.item_entries[index].get(section, [])
        if position < len(entries):
            return f"entry[{entries[position]}].resource ({section}.{rest or 'item'})"
    return f"entry[{mapped.patient_entries[index]}].resource ({path})"
