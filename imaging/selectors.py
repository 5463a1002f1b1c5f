"""Reads of the imaging record, through the record's access rule (oncology.selectors) and with
exactly one audit event per call.

The unmatched queue is the institution's, not a care team's: it is read by the institution's
data managers (User.can_import_cohorts), who also look patients up by MRN to resolve it.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404

from core.audit import audit_record
from core.models import AuditAction, User
from imaging.models import Series, Study, UnmatchedStatus, UnmatchedStudy
from oncology.models import Patient
from oncology.selectors import patient_get

AUDIT_STUDY = "dicom_study"
AUDIT_UNMATCHED = "dicom_unmatched_study"


def study_list(
    *, user: User, patient_public_id: uuid.UUID | str
) -> tuple[Patient, QuerySet[Study]]:
    """The patient and their studies (newest first) with instance counts; one LIST event.
    Http404 when the patient does not exist or `user` may not see it."""
    patient = patient_get(
        user=user,
        public_id=patient_public_id,
        audit_action=AuditAction.LIST,
        object_type=AUDIT_STUDY,
        object_id="",
    )
    studies = (
        Study.objects.filter(patient=patient)
        .prefetch_related("series")
        .order_by("-study_date", "-pk")
    )
    return patient, studies


def study_series(*, study: Study) -> QuerySet[Series]:
    return study.series.order_by("series_number", "pk")


def _require_data_manager(user: User) -> int:
    """The data manager's institution id; PermissionDenied for anyone else."""
    if not user.can_import_cohorts or user.institution_id is None:
        raise PermissionDenied("Only the institution's data managers handle unmatched studies.")
    return user.institution_id


def unmatched_list(*, user: User) -> QuerySet[UnmatchedStudy]:
    """Open queue entries of the data manager's institution, with held-instance counts; one
    LIST event. PermissionDenied for other roles."""
    institution_id = _require_data_manager(user)
    audit_record(
        actor=user,
        action=AuditAction.LIST,
        object_type=AUDIT_UNMATCHED,
        institution_id=institution_id,
    )
    return (
        UnmatchedStudy.objects.filter(institution_id=institution_id, status=UnmatchedStatus.OPEN)
        .annotate(held_count=Count("held_instances"))
        .order_by("-last_received_at", "-pk")
    )


def unmatched_get(*, user: User, public_id: uuid.UUID | str, audit: bool = True) -> UnmatchedStudy:
    """One queue entry of the data manager's institution (any status); one VIEW event unless
    `audit=False` (the caller writes the request's event). Http404 otherwise."""
    institution_id = _require_data_manager(user)
    try:
        entry = UnmatchedStudy.objects.get(institution_id=institution_id, public_id=public_id)
    except (UnmatchedStudy.DoesNotExist, ValueError) as exc:
        raise Http404("No such unmatched study") from exc
    if audit:
        audit_record(
            actor=user,
            action=AuditAction.VIEW,
            object_type=AUDIT_UNMATCHED,
            object_id=entry.public_id,
            institution_id=entry.institution_id,
        )
    return entry


def unmatched_patient_search(
    *, user: User, entry: UnmatchedStudy, mrn: str, audit: bool = True
) -> Patient | None:
    """The patient of the entry's institution with this MRN (a data manager's look-up to resolve
    the entry), or None; one VIEW event on the patient found, else one VIEW on the entry."""
    _require_data_manager(user)
    patient = Patient.objects.filter(institution_id=entry.institution_id, mrn=mrn.strip()).first()
    if not audit:
        return patient
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type="patient" if patient else AUDIT_UNMATCHED,
        object_id=patient.public_id if patient else entry.public_id,
        patient_id=patient.pk if patient else None,
        institution_id=entry.institution_id,
    )
    return patient
