"""Reads of stored predictions that enforce access (the patient's) and write one audit event."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from core.audit import audit_record
from core.models import AuditAction, User
from oncology.models import Patient
from oncology.models_outcomes import Prediction
from oncology.selectors import patient_get

AUDIT_OBJECT = "outcome_prediction"


def prediction_list(
    *, user: User, patient_public_id: uuid.UUID | str
) -> tuple[Patient, QuerySet[Prediction]]:
    """The patient's predictions, newest first; one LIST event. Http404 when not visible."""
    patient = patient_get(
        user=user,
        public_id=patient_public_id,
        audit_action=AuditAction.LIST,
        object_type=AUDIT_OBJECT,
        object_id="",
    )
    return patient, Prediction.objects.filter(patient=patient).select_related("model")


def prediction_get(
    *, user: User, patient_public_id: uuid.UUID | str, prediction_public_id: uuid.UUID | str
) -> Prediction:
    """One prediction of one visible patient; one VIEW event. Http404 otherwise."""
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    try:
        prediction = Prediction.objects.select_related("model").get(
            patient=patient, public_id=prediction_public_id
        )
    except (Prediction.DoesNotExist, ValueError) as exc:
        raise Http404("No such prediction") from exc
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type=AUDIT_OBJECT,
        object_id=prediction.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )
    return prediction
