"""A patient's record as a FHIR R4 Bundle (mCODE): access-checked and audited.

The record is read in its canonical payload shape (oncology.services.payload.record_payload)
and mapped by the pure oncology.fhir.export, which validates every resource with
fhir.resources. Genomic reports (TMB, MSI, variants) and signed board decisions (CarePlan)
travel with it, export only.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, overload

from core.models import AuditAction, User
from genomics.models import GenomicReport
from oncology.fhir.export import record_to_bundle
from oncology.models import RECORD_SECTIONS, Patient
from oncology.models_board import BoardDecision, DecisionStatus
from oncology.selectors import patient_get
from oncology.services.payload import DIAGNOSIS_LINKED, record_payload
from oncology.services.sync import web_item_id

AUDIT_OBJECT = "patient_fhir"


@overload
def patient_fhir_bundle(
    *,
    user: User,
    public_id: uuid.UUID | str,
    audit_action: AuditAction | None = ...,
    with_patient: Literal[False] = ...,
) -> dict[str, Any]: ...


@overload
def patient_fhir_bundle(
    *,
    user: User,
    public_id: uuid.UUID | str,
    audit_action: AuditAction | None = ...,
    with_patient: Literal[True],
) -> tuple[Patient, dict[str, Any]]: ...


def patient_fhir_bundle(
    *,
    user: User,
    public_id: uuid.UUID | str,
    audit_action: AuditAction | None = AuditAction.EXPORT,
    with_patient: bool = False,
) -> Any:
    """The Bundle (type collection) of the patient `public_id`, as JSON data ((patient, bundle)
    with `with_patient`).

    Http404 when the patient does not exist or `user` may not see it; one `audit_action` event
    (EXPORT for $everything; None for a caller that records its own, oncology.services.fhir_rest).
    """
    patient = patient_get(
        user=user, public_id=public_id, audit_action=audit_action, object_type=AUDIT_OBJECT
    )
    record = _with_item_ids(patient, record_payload(patient))
    reports = []
    for report in GenomicReport.objects.filter(patient=patient).order_by("collection_date", "pk"):
        reports.append(
            {
                "public_id": str(report.public_id),
                "collection_date": report.collection_date.isoformat(),
                "tmb": report.tmb,
                "msi_status": report.msi_status,
                "variants": list(
                    report.variants.order_by("pk").values("gene", "hgvs_c", "hgvs_p", "vaf")
                ),
            }
        )
    decisions = []
    signed = (
        BoardDecision.objects.filter(case__patient=patient, status=DecisionStatus.SIGNED)
        .exclude(superseded_by__status=DecisionStatus.SIGNED)
        .order_by("signed_at", "pk")
    )
    for decision in signed:
        decisions.append(
            {
                "public_id": str(decision.public_id),
                "chosen_option": decision.chosen_option,
                "plan": decision.plan,
                "rationale": decision.rationale,
                "dissent": decision.dissent,
                "signed_at": decision.signed_at.isoformat() if decision.signed_at else None,
            }
        )
    bundle = record_to_bundle(
        record, key=str(patient.public_id), genomics=reports, decisions=decisions
    )
    return (patient, bundle) if with_patient else bundle


def _with_item_ids(patient: Patient, record: dict[str, Any]) -> dict[str, Any]:
    """Give items entered without an external_id (in the web app) a stable identifier,
    "oncoboard-<section>-<row id>" (sync.web_item_id), so every exported resource has one and
    references hold; an import of it into this database updates that item (the sync service
    matches the alias), it does not copy it.

    Comorbidities need none (their condition is their key). Diagnoses come first in
    RECORD_SECTIONS, so the sections that point at one find its identifier.
    """
    dx_ids: dict[int, str] = {}
    for section, model in RECORD_SECTIONS.items():
        items = record[section]
        linked = section in DIAGNOSIS_LINKED
        if section == "comorbidities" or not items:
            continue
        if all(item["external_id"] for item in items) and (
            not linked or all(item["diagnosis_external_id"] for item in items)
        ):
            if section == "diagnoses":
                rows = model.objects.filter(patient=patient).values_list("pk", flat=True)  # type: ignore[attr-defined]
                dx_ids = {pk: item["external_id"] for pk, item in zip(rows, items, strict=True)}
            continue
        columns = ("pk", "diagnosis_id") if linked else ("pk",)
        # The same rows in the same order as record_payload reads them (the model's ordering).
        rows = model.objects.filter(patient=patient).values_list(*columns)  # type: ignore[attr-defined]
        for item, row in zip(items, rows, strict=True):
            if item["external_id"] is None:
                item["external_id"] = web_item_id(section, row[0])
            if section == "diagnoses":
                dx_ids[row[0]] = item["external_id"]
            if linked and item["diagnosis_external_id"] is None and row[1] is not None:
                item["diagnosis_external_id"] = dx_ids.get(row[1])
    return record
