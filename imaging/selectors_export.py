"""Reads for research exports, with their access rule and audit events.

An export is its requester's: anyone else gets a 404 (its existence is not disclosed), and the
requester must still hold an export role. Listing and status show no patient data (purpose,
status, counts), so they are not audited; the export page lists a patient's series (one VIEW
event) and a download is one EXPORT event per patient in the zip, after checking that the
requester still sees every one of them.
"""

from __future__ import annotations

import uuid
from typing import IO

from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Count, QuerySet
from django.http import Http404

from core.audit import audit_record, audit_record_many
from core.models import AuditAction, User
from imaging.models import ResearchExport, Study
from imaging.services.export import (
    AUDIT_EXPORT,
    ExportNotReady,
    require_export_role,
)
from oncology.models import Patient
from oncology.selectors import patient_get, patient_visible_queryset


def export_choices(
    *, user: User, patient_public_id: uuid.UUID | str, audit: bool = True
) -> tuple[Patient, QuerySet[Study]]:
    """The patient and their studies with series, for choosing what to export; one VIEW event
    unless `audit=False` (the caller's write records the request's event). Http404 when the
    patient is not visible, PermissionDenied for roles that cannot export."""
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    require_export_role(user)
    if audit:
        audit_record(
            actor=user,
            action=AuditAction.VIEW,
            object_type=AUDIT_EXPORT,
            patient_id=patient.pk,
            institution_id=patient.institution_id,
        )
    studies = (
        Study.objects.filter(patient=patient)
        .prefetch_related("series")
        .order_by("-study_date", "-pk")
    )
    return patient, studies


def research_export_list(*, user: User) -> QuerySet[ResearchExport]:
    """The user's own exports, newest first, with their jobs and series counts."""
    require_export_role(user)
    return (
        ResearchExport.objects.filter(requested_by=user)
        .select_related("job")
        .annotate(series_count=Count("series"))
        .order_by("-created_at", "-pk")
    )


def research_export_get(*, user: User, public_id: uuid.UUID | str) -> ResearchExport:
    """One of the user's exports; Http404 for anyone but its requester."""
    try:
        export = (
            ResearchExport.objects.select_related("job")
            .annotate(series_count=Count("series"))
            .get(public_id=public_id, requested_by=user)
        )
    except (ResearchExport.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such export") from exc
    require_export_role(user)
    return export


def research_export_open(
    *, user: User, public_id: uuid.UUID | str
) -> tuple[ResearchExport, IO[bytes]]:
    """The export and its zip opened for reading, with one EXPORT event per patient.

    Http404 for anyone but its requester, PermissionDenied when the requester lost the role or
    no longer sees every patient in it, ExportNotReady while it has no file."""
    export = research_export_get(user=user, public_id=public_id)
    if export.completed_at is None or not export.storage_name:
        raise ExportNotReady("The export is not ready.")
    patient_ids = set(export.series.values_list("study__patient_id", flat=True).distinct())
    visible = set(
        patient_visible_queryset(user=user).filter(pk__in=patient_ids).values_list("pk", flat=True)
    )
    if visible != patient_ids:
        raise PermissionDenied(
            "You are no longer on the care team of every patient in this export."
        )
    handle = default_storage.open(export.storage_name, "rb")
    audit_record_many(
        actor=user,
        events=[
            {
                "action": AuditAction.EXPORT,
                "object_type": AUDIT_EXPORT,
                "object_id": export.public_id,
                "patient_id": patient_id,
                "institution_id": export.institution_id,
                "detail": {"result": "downloaded", "format": "zip"},
            }
            for patient_id in sorted(patient_ids)
        ],
    )
    return export, handle


def download_filename(export: ResearchExport) -> str:
    """The attachment name: the export's public id, nothing about the patients."""
    return f"research-export-{export.public_id}.zip"
