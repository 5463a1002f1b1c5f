"""Reads of stored predictions that enforce access (the patient's) and write one audit event."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditAction, Role, User
from oncology.models import Patient
from oncology.models_board import BoardDecision, DecisionStatus
from oncology.models_outcomes import OutcomeModel, Prediction
from oncology.outcomes.closed_loop import PastPrediction, received_option
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


# --- The registry pages (oncology/views_outcomes.py) -----------------------------------------
# The registry holds no patient data: every signed-in person may read it. The closed loop
# (calibration of past predictions) reads the outcomes of the institution's patients; it is
# shown as aggregates only (oncology.outcomes.closed_loop) and only to the roles that work with
# patient records, never to administrators (who manage people, not clinical data).

CLOSED_LOOP_AUDIT_OBJECT = "outcome_model_calibration"
# Treatments recorded from 30 days before the prediction to 6 months after it count as the
# treatment the prediction was about (neoadjuvant therapy, then surgery, fits in that window).
RECEIVED_WINDOW_BEFORE_DAYS = 30
RECEIVED_WINDOW_AFTER_DAYS = 183
# The record's systemic categories the model option "chemotherapy" stands for; targeted,
# immune and endocrine therapy are not chemotherapy, so a patient who received one of them
# (alone or in a combination) received no option of a surgery / radiotherapy / chemotherapy
# model.
SYSTEMIC_AS_CHEMOTHERAPY = ("chemotherapy", "chemoimmunotherapy")


def outcome_model_versions() -> QuerySet[OutcomeModel]:
    """Every registered version, by name then newest first (no patient data, no audit)."""
    return OutcomeModel.objects.order_by("name", "-version")


def outcome_model_version_get(*, name: str, version: int) -> OutcomeModel:
    """One registered version, or Http404."""
    try:
        return OutcomeModel.objects.select_related("created_by").get(name=name, version=version)
    except OutcomeModel.DoesNotExist as exc:
        raise Http404("No such outcome model") from exc


def may_see_closed_loop(user: User) -> bool:
    return (
        bool(user.is_authenticated)
        and user.institution_id is not None
        and user.role in {Role.CLINICIAN, Role.ONCOLOGIST, Role.DATA_MANAGER}
    )


@dataclass(frozen=True)
class ClosedLoopRows:
    """The past predictions of one model at one institution, with what happened after them."""

    rows: list[PastPrediction]
    predictions: int  # non-abstained predictions of the model at the institution
    patients: int  # patients they are about (one prediction a patient is used)
    decided: int  # rows whose option is the board's signed decision
    recorded: int  # rows whose option is the treatment recorded after the prediction
    no_option: int  # patients whose treatment is no option of the model (or none recorded)
    inconsistent: int  # patients whose record dates precede the prediction (left out)


def _received_modalities(patient: Patient, start: dt.date, end: dt.date) -> set[str]:
    modalities = set()
    if any(start <= s.performed_on <= end for s in patient.surgeries.all()):
        modalities.add("surgery")
    if any(start <= r.start_date <= end for r in patient.radiotherapies.all()):
        modalities.add("radiotherapy")
    for therapy in patient.systemic_therapies.all():
        if start <= therapy.start_date <= end:
            category = therapy.category
            modalities.add("chemotherapy" if category in SYSTEMIC_AS_CHEMOTHERAPY else category)
    return modalities


def _last_known_alive(patient: Patient) -> dt.date | None:
    dates = [patient.last_contact_date] + [f.visit_date for f in patient.follow_ups.all()]
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def outcome_model_closed_loop_rows(*, user: User, model: OutcomeModel) -> ClosedLoopRows | None:
    """The model's past (non-abstained) predictions for the patients of ``user``'s institution,
    each with the predicted survival at 1, 2 and 5 years for the option the patient received
    and the observed time to death or last contact; one LIST event. None when ``user`` may not
    see the closed loop (no event then).

    One prediction a patient: the one a signed board decision links (the latest signed
    version of the case), else the patient's earliest. The option received is the decision's
    chosen option when it is one of the model's options, else the treatment recorded from
    30 days before to 6 months after the prediction (``received_option``). The time origin is
    the prediction's date; a death date makes an event, otherwise the patient is censored at
    the latest of the last contact and the follow-up visits.
    """
    institution_id = user.institution_id
    if institution_id is None or not may_see_closed_loop(user):
        return None
    predictions = list(
        Prediction.objects.filter(model=model, patient__institution_id=institution_id)
        .exclude(output__abstained=True)
        .select_related("patient")
        .prefetch_related(
            "patient__surgeries",
            "patient__radiotherapies",
            "patient__systemic_therapies",
            "patient__follow_ups",
        )
        .order_by("created_at", "pk")
    )
    by_id = {p.pk: p for p in predictions}
    # The latest signed decision of each case that links one of these predictions.
    decided: dict[int, str] = {}  # patient id -> chosen option
    decided_prediction: dict[int, int] = {}  # patient id -> prediction id
    latest_case: dict[int, int] = {}
    for decision in (
        BoardDecision.objects.filter(
            status=DecisionStatus.SIGNED, case__meeting__institution_id=institution_id
        )
        .filter(case__patient_id__in={p.patient_id for p in predictions})
        .order_by("case_id", "-version")
        .values("case_id", "version", "prediction_id", "chosen_option", "case__patient_id")
    ):
        if decision["case_id"] in latest_case:
            continue
        latest_case[decision["case_id"]] = decision["version"]
        if decision["prediction_id"] in by_id:
            patient_id = decision["case__patient_id"]
            decided[patient_id] = decision["chosen_option"]
            decided_prediction[patient_id] = decision["prediction_id"]
    chosen: dict[int, Prediction] = {}
    for prediction in predictions:  # earliest first
        chosen.setdefault(prediction.patient_id, prediction)
    for patient_id, prediction_id in decided_prediction.items():
        chosen[patient_id] = by_id[prediction_id]

    rows: list[PastPrediction] = []
    n_decided = n_recorded = no_option = inconsistent = 0
    for patient_id, prediction in chosen.items():
        patient = prediction.patient
        origin = timezone.localdate(prediction.created_at)
        option = decided.get(patient_id)
        from_decision = option in model.options
        if not from_decision:
            option = received_option(
                _received_modalities(
                    patient,
                    origin - dt.timedelta(days=RECEIVED_WINDOW_BEFORE_DAYS),
                    origin + dt.timedelta(days=RECEIVED_WINDOW_AFTER_DAYS),
                ),
                model.options,
            )
        estimate = next(
            (o for o in prediction.output.get("options", []) if o.get("option") == option), None
        )
        if option is None or estimate is None:
            no_option += 1
            continue
        if patient.death_date is not None:
            end, event = patient.death_date, True
        else:
            end, event = _last_known_alive(patient) or origin, False
        if end < origin:
            inconsistent += 1
            continue
        predicted = {
            years: float(estimate[key])
            for years, key in ((1.0, "survival_1y"), (2.0, "survival_2y"), (5.0, "survival_5y"))
            if estimate.get(key) is not None
        }
        rows.append(PastPrediction(predicted, (end - origin).days / 365.25, event))
        n_decided += from_decision
        n_recorded += not from_decision
    audit_record(
        actor=user,
        action=AuditAction.LIST,
        object_type=CLOSED_LOOP_AUDIT_OBJECT,
        object_id=model.public_id,
        institution_id=user.institution_id,
        detail={"count": len(rows)},
    )
    return ClosedLoopRows(
        rows=rows,
        predictions=len(predictions),
        patients=len(chosen),
        decided=n_decided,
        recorded=n_recorded,
        no_option=no_option,
        inconsistent=inconsistent,
    )
