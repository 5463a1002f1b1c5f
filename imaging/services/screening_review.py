"""Review of screening findings: a clinician confirms or rejects each candidate
(docs/screening.md, "Review").

Confirming stores the finding's candidate voxels as a Mask of kind "screening" through
imaging/services/masks.py, in the same transaction (that service queues radiomics for the
series, so the confirmed nodule is measured like any other mask). Rejecting a finding that was
confirmed deletes its mask. A decision may be changed; deciding the same thing again changes
nothing. Callers check access (imaging/selectors_screening.py: `finding_get_for_review`); every
change writes one audit event (object type "screening_finding", the finding's public id, the
decision; no values).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditAction, User
from imaging import viewer_series
from imaging.models import Finding
from imaging.models_screening import FindingStatus, ScreeningStatus
from imaging.services.masks import MaskInputError, mask_create_from_finding, mask_delete
from imaging.services.screening import AUDIT_FINDING, ScreeningRequestError, finding_voxels

DECISIONS = {"confirm": FindingStatus.CONFIRMED, "reject": FindingStatus.REJECTED}


@dataclass
class ReviewResult:
    finding: Finding
    changed: bool


def finding_label(finding: Finding) -> str:
    """The label a confirmed finding's mask gets: rank, type and size, no patient data."""
    kind = finding.get_nodule_type_display()
    return f"Nodule #{finding.rank} ({kind}, {finding.diameter_mm:.0f} mm)"


def finding_review(
    *, actor: User | None, finding: Finding, decision: str, label: str = ""
) -> ReviewResult:
    """Confirm or reject `finding` (whose patient the caller may edit).

    ScreeningRequestError (nothing changed) for an unknown decision, a finding of a run that is
    not done, or a confirmation on a series whose images changed since the screening (its
    voxels would not lie on the series' grid any more).
    """
    status = DECISIONS.get(decision)
    if status is None:
        raise ScreeningRequestError("decision must be 'confirm' or 'reject'")
    with transaction.atomic():
        finding = (
            Finding.objects.select_for_update(of=("self",))
            .select_related("run__series__study", "run__patient", "mask__series__study")
            .get(pk=finding.pk)
        )
        run = finding.run
        if run.status != ScreeningStatus.DONE:
            raise ScreeningRequestError("this run's screening is not finished")
        if finding.status == status:
            return ReviewResult(finding=finding, changed=False)
        patient = run.patient
        series = run.series
        if status == FindingStatus.CONFIRMED:
            screened_key = run.settings.get("volume_key")
            if screened_key and screened_key != viewer_series.volume_key(series):
                raise ScreeningRequestError(
                    "the series' images changed since it was screened: screen it again"
                )
            try:
                finding.mask = mask_create_from_finding(
                    actor=actor,
                    patient=patient,
                    series=series,
                    voxels=finding_voxels(finding),
                    label=label or finding_label(finding),
                    parameters={
                        "source": "screening",
                        "finding": str(finding.public_id),
                        "run": str(run.public_id),
                        "rank": finding.rank,
                        "score": finding.score,
                        "ranking": run.ranking,
                        "pipeline_version": run.settings.get("pipeline_version", ""),
                    },
                )
            except MaskInputError as exc:
                raise ScreeningRequestError(str(exc)) from exc
        elif finding.mask is not None:
            mask_delete(actor=actor, patient=patient, mask=finding.mask)
            finding.mask = None
        finding.status = status
        finding.reviewed_by = actor if getattr(actor, "pk", None) else None
        finding.reviewed_at = timezone.now()
        finding.save(update_fields=["status", "mask", "reviewed_by", "reviewed_at"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type=AUDIT_FINDING,
            object_id=finding.public_id,
            patient_id=patient.pk,
            institution_id=patient.institution_id,
            detail={"result": str(status)},
        )
    return ReviewResult(finding=finding, changed=True)


def review_counts(findings: list[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(FindingStatus.values, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts
