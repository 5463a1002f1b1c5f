"""Reads of screening batches, runs and findings, through the record's access rule and with
audit events (docs/screening.md, "Access and audit").

A run and its findings belong to the run's patient: visible to whoever may see the patient
(oncology.selectors), 404 otherwise. The worklist is the runs of the patients the reader may
see. A batch belongs to its institution (any person or hospital system of it may follow its
progress), but it only ever shows the runs of patients the reader may see. Starting a batch is
for oncologists, data managers and hospital systems (as for radiomics batches); reviewing a
finding is a clinician's decision (people who may edit the record; not hospital systems).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from core.audit import audit_record, audit_record_many
from core.models import AuditAction, User
from imaging.models import Finding, ScreeningBatch, ScreeningRun, Series
from imaging.selectors_radiomics import can_request_batches
from imaging.services.screening import AUDIT_FINDING, AUDIT_RUN, worklist_order
from oncology.models import Patient
from oncology.selectors import patient_visible_queryset

WORKLIST_LIMIT = 200


def can_request_screening(user: User) -> bool:
    return can_request_batches(user)


def can_review(user: User) -> bool:
    return bool(user.is_authenticated and user.can_edit_record and not user.is_integration_client)


def screening_patients(
    *, user: User, patient_public_ids: list[uuid.UUID] | None = None
) -> QuerySet[Patient]:
    """The patients a screening batch of `user` may cover (those visible to them at their
    institution, optionally only the listed ones). PermissionDenied for other roles."""
    if not can_request_screening(user):
        raise PermissionDenied("Only oncologists, data managers and hospital systems do this.")
    institution_id = user.institution_id
    if institution_id is None:  # can_request_screening refuses this already
        raise PermissionDenied("This account belongs to no institution.")
    patients = patient_visible_queryset(user=user).filter(institution_id=institution_id)
    if patient_public_ids is not None:
        patients = patients.filter(public_id__in=patient_public_ids)
    return patients.select_related("institution")


def _runs() -> QuerySet[ScreeningRun]:
    return ScreeningRun.objects.select_related(
        "job", "series__study", "patient__institution", "batch"
    )


def _audit_runs(user: User, action: str, runs: Iterable[ScreeningRun], object_id: object) -> None:
    """One event per patient whose runs were shown."""
    patients = sorted({(r.patient_id, r.patient.institution_id) for r in runs})
    audit_record_many(
        actor=user,
        events=[
            {
                "action": action,
                "object_type": AUDIT_RUN,
                "object_id": object_id,
                "patient_id": pid,
                "institution_id": iid,
                "detail": {},
            }
            for pid, iid in patients
        ],
    )


def worklist(*, user: User, status: str = "", limit: int = WORKLIST_LIMIT) -> list[ScreeningRun]:
    """The runs of the patients `user` may see, highest candidate score first (runs not yet
    screened last), at most `limit`; optionally only those whose own status is `status`.
    One LIST event per patient shown."""
    runs = _runs().filter(patient__in=patient_visible_queryset(user=user).values("pk"))
    if status:
        runs = runs.filter(status=status)
    shown = list(runs.order_by(*worklist_order())[:limit])
    _audit_runs(user, AuditAction.LIST, shown, "")
    return shown


def screening_batch_list(*, user: User) -> QuerySet[ScreeningBatch]:
    """The batches of `user`'s institution, newest first. Batches name no patient: no event."""
    if not user.is_authenticated or user.institution_id is None:
        return ScreeningBatch.objects.none()
    return ScreeningBatch.objects.filter(institution_id=user.institution_id).order_by(
        "-created_at", "-pk"
    )


def screening_batch_get(
    *, user: User, batch_public_id: uuid.UUID | str
) -> tuple[ScreeningBatch, list[ScreeningRun]]:
    """A batch of `user`'s institution and its runs on patients `user` may see (worklist
    order); one VIEW event per patient shown. Http404 for another institution's batch."""
    try:
        batch = screening_batch_list(user=user).get(public_id=batch_public_id)
    except (ScreeningBatch.DoesNotExist, ValueError) as exc:
        raise Http404("No such screening batch") from exc
    visible = patient_visible_queryset(user=user).values("pk")
    runs = list(_runs().filter(batch=batch, patient__in=visible).order_by(*worklist_order()))
    _audit_runs(user, AuditAction.VIEW, runs, batch.public_id)
    return batch, runs


def screening_run_get(*, user: User, run_public_id: uuid.UUID | str) -> ScreeningRun:
    """One run of a visible patient, or Http404; one VIEW event."""
    try:
        run = _runs().get(
            public_id=run_public_id, patient__in=patient_visible_queryset(user=user).values("pk")
        )
    except (ScreeningRun.DoesNotExist, ValueError) as exc:
        raise Http404("No such screening run") from exc
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type=AUDIT_RUN,
        object_id=run.public_id,
        patient_id=run.patient_id,
        institution_id=run.patient.institution_id,
    )
    return run


def run_findings(run: ScreeningRun) -> list[Finding]:
    """The findings of a run the caller has read (rank order)."""
    return list(run.findings.select_related("reviewed_by", "mask").order_by("rank"))


def finding_get_for_review(*, user: User, finding_public_id: uuid.UUID | str) -> Finding:
    """A finding `user` may review: Http404 when its patient is not visible, PermissionDenied
    for a role that does not review. No event: the review service records the change."""
    try:
        finding = Finding.objects.select_related("run__patient", "run__series__study").get(
            public_id=finding_public_id,
            run__patient__in=patient_visible_queryset(user=user).values("pk"),
        )
    except (Finding.DoesNotExist, ValueError) as exc:
        raise Http404("No such finding") from exc
    if not can_review(user):
        raise PermissionDenied("Findings are reviewed by clinicians.")
    return finding


def series_findings(*, series: Series) -> tuple[ScreeningRun | None, list[Finding]]:
    """The latest finished screening of `series` and its findings, for the viewer (whose page
    checked and audited access to the series)."""
    run = (
        ScreeningRun.objects.filter(series=series, status="done")
        .order_by("-completed_at", "-pk")
        .first()
    )
    return run, (run_findings(run) if run is not None else [])


def audit_finding_view(*, user: User, finding: Finding) -> None:
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type=AUDIT_FINDING,
        object_id=finding.public_id,
        patient_id=finding.run.patient_id,
        institution_id=finding.run.patient.institution_id,
    )
