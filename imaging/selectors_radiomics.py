"""Reads of radiomics runs and batches, through the record's access rule and with one audit
event per call (docs/radiomics-jobs.md, "Access and audit").

A run belongs to its patient: it is visible to whoever may see the patient
(oncology.selectors). A batch belongs to the person (or hospital system) that created it; its
runs are further limited to the patients that person may still see.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from core.audit import audit_record, audit_record_many
from core.models import AuditAction, Role, User
from imaging.models import RadiomicsBatch, RadiomicsRun, Series
from imaging.services.radiomics import AUDIT_BATCH, AUDIT_RUN, batch_runs_filter
from oncology.models import Patient
from oncology.selectors import patient_get, patient_visible_queryset

# Cohort extraction is research work on many patients: oncologists and data managers from the
# pages, hospital systems through the API.
BATCH_ROLES = frozenset({Role.ONCOLOGIST, Role.DATA_MANAGER, Role.INTEGRATION})


def can_request_batches(user: User) -> bool:
    return bool(user.is_authenticated and user.role in BATCH_ROLES and user.institution_id)


def patient_series_get(*, patient: Patient, series_public_id: uuid.UUID | str) -> Series:
    """A series of `patient` (whose access the caller checked), or Http404."""
    try:
        return Series.objects.select_related("study").get(
            public_id=series_public_id, study__patient=patient
        )
    except (Series.DoesNotExist, ValueError) as exc:
        raise Http404("No such series") from exc


def _runs() -> QuerySet[RadiomicsRun]:
    return RadiomicsRun.objects.select_related("job", "series", "patient", "batch")


def radiomics_run_list(
    *, user: User, patient_public_id: uuid.UUID | str, series: uuid.UUID | str | None = None
) -> tuple[Patient, QuerySet[RadiomicsRun]]:
    """The patient and their runs (newest first), optionally of one series; one LIST event.
    Http404 when the patient (or the series) is not visible."""
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    runs = _runs().filter(patient=patient)
    object_id: object = ""
    if series is not None:
        found = patient_series_get(patient=patient, series_public_id=series)
        runs = runs.filter(series=found)
        object_id = found.public_id
    audit_record(
        actor=user,
        action=AuditAction.LIST,
        object_type=AUDIT_RUN,
        object_id=object_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )
    return patient, runs.order_by("-created_at", "-pk")


def radiomics_run_get(
    *,
    user: User,
    patient_public_id: uuid.UUID | str,
    run_public_id: uuid.UUID | str,
    export: bool = False,
) -> RadiomicsRun:
    """One run of a visible patient, or Http404; one VIEW (or EXPORT, for a download) event."""
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    try:
        run = _runs().get(patient=patient, public_id=run_public_id)
    except (RadiomicsRun.DoesNotExist, ValueError) as exc:
        raise Http404("No such radiomics run") from exc
    audit_record(
        actor=user,
        action=AuditAction.EXPORT if export else AuditAction.VIEW,
        object_type=AUDIT_RUN,
        object_id=run.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"format": "csv"} if export else None,
    )
    return run


def batch_patients(
    *, user: User, patient_public_ids: list[uuid.UUID] | None = None
) -> QuerySet[Patient]:
    """The patients a batch of `user` may cover: those visible to them (all of their
    institution's for a hospital system), optionally only the listed ones. No event: the batch
    service records one per patient it touches. PermissionDenied for other roles."""
    if not can_request_batches(user):
        raise PermissionDenied("Only oncologists, data managers and hospital systems do this.")
    institution_id = user.institution_id
    if institution_id is None:  # can_request_batches refuses this already
        raise PermissionDenied("This account belongs to no institution.")
    patients = patient_visible_queryset(user=user).filter(institution_id=institution_id)
    if patient_public_ids is not None:
        patients = patients.filter(public_id__in=patient_public_ids)
    return patients.select_related("institution").order_by("research_id", "pk")


def radiomics_batch_list(*, user: User) -> QuerySet[RadiomicsBatch]:
    """The batches `user` created (newest first). Batches name no patient: no event."""
    if not can_request_batches(user):
        raise PermissionDenied("Only oncologists, data managers and hospital systems do this.")
    return RadiomicsBatch.objects.filter(created_by=user).order_by("-created_at", "-pk")


def radiomics_batch_get(
    *, user: User, batch_public_id: uuid.UUID | str, export: bool = False
) -> tuple[RadiomicsBatch, list[RadiomicsRun]]:
    """A batch `user` created and its runs on patients `user` may still see; one VIEW (or
    EXPORT) event per patient shown. Http404 for anyone else's batch."""
    if not can_request_batches(user):
        raise PermissionDenied("Only oncologists, data managers and hospital systems do this.")
    try:
        batch = RadiomicsBatch.objects.get(created_by=user, public_id=batch_public_id)
    except (RadiomicsBatch.DoesNotExist, ValueError) as exc:
        raise Http404("No such radiomics batch") from exc
    visible = patient_visible_queryset(user=user).values("pk")
    runs = list(
        _runs()
        .filter(batch_runs_filter(batch), patient__in=visible)
        .order_by("patient__research_id", "series__series_number", "mask_label", "pk")
    )
    patient_ids = sorted({r.patient_id for r in runs})
    audit_record_many(
        actor=user,
        events=[
            {
                "action": AuditAction.EXPORT if export else AuditAction.VIEW,
                "object_type": AUDIT_BATCH,
                "object_id": batch.public_id,
                "patient_id": pid,
                "institution_id": batch.institution_id,
                "detail": {"format": "csv"} if export else {},
            }
            for pid in patient_ids
        ],
    )
    return batch, runs
