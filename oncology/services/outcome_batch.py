"""Batch prediction: one registered model, many patients of one institution (or all, for the
system), idempotent and audited (docs/outcomes-registry.md, "Batch prediction").

Who may run it: a data manager or an administrator whose home institution is the one named
(people who already manage the institution's data and accounts; a clinician's reach is the
care team, so a whole-institution batch is not theirs), or the system itself (``actor=None``:
the ``predict_outcomes`` command, run by whoever operates the server). Idempotent: a patient
whose current inputs hash to a prediction of the same model version that is already stored gets
no second one. Each stored prediction writes its own CREATE audit event (as an interactive one
does) and the batch one summary event. Bands come inline from the model's bootstrap ensemble
when it has one; a batch never queues band jobs (one per patient would flood the queue).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q

from core.audit import audit_record
from core.models import AuditAction, Role, User
from oncology.models import Institution, Patient
from oncology.models_outcomes import OutcomeModel, Prediction
from oncology.services.outcome_features import MissingRequiredInputs, outcome_features_assemble
from oncology.services.outcome_predictions import (
    PredictionRefused,
    _active_model,
    inputs_sha256,
    prediction_make,
)

BATCH_ROLES = (Role.DATA_MANAGER, Role.ADMINISTRATOR)
AUDIT_OBJECT = "outcome_prediction_batch"
MAX_PATIENT_IDS = 100_000


class BatchRefused(ValueError):
    """The batch cannot run (access, unknown institution or model); nothing was stored."""


def _institution(code: str | None) -> Institution | None:
    if not code:
        return None
    institution = Institution.objects.filter(code=code).first()
    if institution is None:
        raise BatchRefused(f"No institution has the code {code!r}.")
    return institution


def outcome_batch_check_access(*, actor: User | None, institution_code: str | None) -> None:
    """Raise BatchRefused unless ``actor`` may run a batch for the institution (see above)."""
    if actor is None:  # the system (management command / a job it queued)
        _institution(institution_code)
        return
    if not actor.is_active:
        raise BatchRefused("This account is not active.")
    if not institution_code:
        raise BatchRefused("A batch run by a person names the institution.")
    institution = _institution(institution_code)
    if actor.role not in BATCH_ROLES or actor.institution_id != getattr(institution, "pk", None):
        raise BatchRefused(
            "Only a data manager or an administrator of this institution may run a batch "
            "prediction for it."
        )


def _patients(institution: Institution | None, patient_ids: Iterable[str] | None):
    patients = Patient.objects.select_related("institution").order_by("pk")
    if institution is not None:
        patients = patients.filter(institution=institution)
    if patient_ids is None:
        return patients, 0
    ids = [str(i).strip() for i in patient_ids if str(i).strip()]
    if len(ids) > MAX_PATIENT_IDS:
        raise BatchRefused(f"At most {MAX_PATIENT_IDS} patients a batch.")
    uuids, research = [], []
    for value in ids:
        try:
            uuids.append(uuid.UUID(value))
        except ValueError:
            research.append(value)
    chosen = patients.filter(Q(public_id__in=uuids) | Q(research_id__in=research))
    return chosen, len(set(ids)) - chosen.count()


def predictions_batch(
    *,
    model_name: str,
    institution_code: str | None = None,
    patient_ids: Iterable[str] | None = None,
    actor: User | None = None,
    bands: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Predict with the active version of ``model_name`` for every patient of the institution
    (all institutions for the system without a code), or only those named in ``patient_ids``
    (public ids or research ids; ids not found there are counted, never echoed). Returns the
    counts: created, unchanged (same model version and inputs already predicted), refused
    (a required input missing), abstained (among created), not_found."""
    outcome_batch_check_access(actor=actor, institution_code=institution_code)
    try:
        model = _active_model(model_name)
    except PredictionRefused as exc:
        raise BatchRefused(str(exc)) from exc
    institution = _institution(institution_code)
    patients, not_found = _patients(institution, patient_ids)
    total = patients.count()
    counts = {"created": 0, "unchanged": 0, "refused": 0, "abstained": 0}
    for done, patient in enumerate(patients.iterator(), start=1):
        try:
            assembled = outcome_features_assemble(patient=patient, feature_spec=model.feature_spec)
        except MissingRequiredInputs:
            counts["refused"] += 1
        else:
            digest = inputs_sha256(assembled.values)
            with transaction.atomic():
                # one batch at a time per model: the check and the write cannot interleave
                OutcomeModel.objects.select_for_update().only("pk").get(pk=model.pk)
                if Prediction.objects.filter(
                    patient=patient, model=model, inputs_sha256=digest
                ).exists():
                    counts["unchanged"] += 1
                else:
                    prediction = prediction_make(
                        patient=patient,
                        model=model,
                        assembled=assembled,
                        actor=actor,
                        bands=bands,
                        enqueue_bands=False,
                    )
                    counts["created"] += 1
                    counts["abstained"] += bool(prediction.output["abstained"])
        if progress is not None:
            progress(done, total)
    result = {
        "model": model.name,
        "version": model.version,
        "patients": total,
        **counts,
        "not_found": not_found,
    }
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type=AUDIT_OBJECT,
        object_id=f"{model.name}:v{model.version}",
        institution_id=getattr(institution, "pk", None),
        detail={"count": total, "result": {k: v for k, v in result.items() if k != "model"}},
    )
    return result
