"""Reads of patient data that enforce access and write the audit event.

The rule: a person sees the patients of their care teams; an integration client (hospital
system) sees every patient of its institution; anyone else gets a 404, so the existence of a
patient is not disclosed. Views and API views never query clinical models directly: they ask
these selectors.
"""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from core.audit import audit_record
from core.models import AuditAction, User
from oncology.models import Patient


def patient_visible_queryset(*, user: User) -> QuerySet[Patient]:
    """Every patient `user` may see, without writing an audit event (callers audit)."""
    if not user or not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    if user.is_integration_client:
        if user.institution_id is None:
            return Patient.objects.none()
        return Patient.objects.filter(institution_id=user.institution_id)
    membership = Patient.care_teams.through.objects.filter(
        patient_id=OuterRef("pk"), careteam__members=user
    )
    return Patient.objects.filter(Exists(membership))


def patient_list(*, user: User, search: str = "", audit: bool = True) -> QuerySet[Patient]:
    """Patients visible to `user`, optionally filtered by name, MRN or research id.

    Listing shows names and MRNs, so it is an access to patient data: one LIST event.
    """
    patients = patient_visible_queryset(user=user)
    search = search.strip()
    if search:
        terms = Q()
        for word in search.split()[:4]:
            terms &= (
                Q(family_name__icontains=word)
                | Q(given_name__icontains=word)
                | Q(mrn__iexact=word)
                | Q(research_id__iexact=word)
            )
        patients = patients.filter(terms)
    if audit:
        audit_record(
            actor=user,
            action=AuditAction.LIST,
            object_type="patient",
            institution_id=user.institution_id,
            detail={"filters": ["search"] if search else []},
        )
    return patients.order_by("family_name", "given_name", "pk")


def patient_get(
    *,
    user: User,
    public_id: uuid.UUID | str,
    audit_action: AuditAction | None = AuditAction.VIEW,
    object_type: str = "patient",
    object_id: object = None,
) -> Patient:
    """One patient, or Http404 when it does not exist or `user` may not see it.

    `audit_action=None` skips the event, for callers that go on to write (the write service
    records the one event of that request).
    """
    try:
        patient = (
            patient_visible_queryset(user=user)
            .select_related("institution")
            .get(public_id=public_id)
        )
    except (Patient.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such patient") from exc
    if audit_action is not None:
        audit_record(
            actor=user,
            action=audit_action,
            object_type=object_type,
            object_id=patient.public_id if object_id is None else object_id,
            patient_id=patient.pk,
            institution_id=patient.institution_id,
        )
    return patient


def patient_get_by_mrn(*, user: User, mrn: str) -> Patient:
    """The visible patient with this MRN at the user's institution, or Http404; one VIEW event.

    For hospital systems that know only their own key. The MRN arrives in a request body, never
    a URL, so it stays out of access logs.
    """
    if user.institution_id is None:
        raise Http404("No such patient")
    try:
        patient = patient_visible_queryset(user=user).get(
            institution_id=user.institution_id, mrn=mrn
        )
    except Patient.DoesNotExist as exc:
        raise Http404("No such patient") from exc
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type="patient",
        object_id=patient.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )
    return patient


def patient_get_for_write(*, user: User, public_id: uuid.UUID | str) -> Patient:
    """A patient `user` may edit (404 when invisible, 403-equivalent when read-only role)."""
    patient = patient_get(user=user, public_id=public_id, audit_action=None)
    if not user.can_edit_record:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("This role cannot change the clinical record.")
    return patient
