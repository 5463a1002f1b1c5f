"""Resolving the unmatched queue: a data manager names the patient of a held study and its
instances are indexed under that patient in one transaction (the files stay where they are)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditAction, User
from imaging.models import (
    HeldInstance,
    Instance,
    Series,
    Study,
    UnmatchedStatus,
    UnmatchedStudy,
)
from imaging.services.ingest import AUDIT_OBJECT
from oncology.models import Patient

_INSTANCE_FIELDS = (
    "sop_instance_uid",
    "sop_class_uid",
    "instance_number",
    "storage_name",
    "sha256",
    "size_bytes",
    "transfer_syntax",
    "rows",
    "columns",
    "frames",
    "image_position",
)


def unmatched_study_resolve(*, actor: User, entry: UnmatchedStudy, patient: Patient) -> Study:
    """Index every held instance of `entry` under `patient` and close the entry; one CREATE
    event on the patient. ValidationError when the entry is closed, the patient belongs to
    another institution, or the study is already filed under another patient."""
    if not actor.can_import_cohorts or actor.institution_id != entry.institution_id:
        raise PermissionDenied("Only the institution's data managers handle unmatched studies.")
    if patient.institution_id != entry.institution_id:
        raise ValidationError("The patient belongs to another institution.")
    with transaction.atomic():
        entry = UnmatchedStudy.objects.select_for_update().get(pk=entry.pk)
        if entry.status != UnmatchedStatus.OPEN:
            raise ValidationError("This study was already resolved.")
        held = list(entry.held_instances.order_by("pk"))
        study, _ = Study.objects.get_or_create(
            institution_id=entry.institution_id,
            study_instance_uid=entry.study_instance_uid,
            defaults={
                "patient": patient,
                "study_date": entry.study_date,
                "description": entry.description,
                "modalities": [],
            },
        )
        if study.patient_id != patient.pk:
            raise ValidationError("This study is already filed under another patient.")
        modalities = list(study.modalities)
        for h in held:
            series, _ = Series.objects.get_or_create(
                series_instance_uid=h.series_instance_uid,
                defaults={
                    "study": study,
                    "modality": h.modality,
                    "description": h.series_description,
                    "series_number": h.series_number,
                    "frame_of_reference_uid": h.frame_of_reference_uid,
                },
            )
            if series.study_id != study.pk:
                raise ValidationError("A series of this study is filed under another study.")
            fields = {name: getattr(h, name) for name in _INSTANCE_FIELDS}
            # The held row goes first: sop_instance_uid is unique across both tables' meaning,
            # and each table enforces it on its own.
            HeldInstance.objects.filter(pk=h.pk).delete()
            Instance.objects.create(series=series, **fields)
            Series.objects.filter(pk=series.pk).update(instance_count=F("instance_count") + 1)
            if h.modality not in modalities:
                modalities.append(h.modality)
        study.modalities = modalities
        study.save(update_fields=["modalities", "updated_at"])
        entry.status = UnmatchedStatus.RESOLVED
        entry.resolved_patient = patient
        entry.resolved_by = actor
        entry.resolved_at = timezone.now()
        entry.save(update_fields=["status", "resolved_patient", "resolved_by", "resolved_at"])
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type=AUDIT_OBJECT,
            object_id=study.public_id,
            patient_id=patient.pk,
            institution_id=patient.institution_id,
            detail={"format": "dicom:queue", "count": len(held)},
        )
    return study
