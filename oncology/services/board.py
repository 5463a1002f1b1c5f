"""Writes of the tumour board: meetings, the cases on them and the board's decisions
(docs/board.md).

Who may do what (``BoardRoles``), decided as a hospital runs its multidisciplinary meetings:

- any person of the institution sees its meetings; a case (and everything on it) only when its
  patient is visible to them (their care teams), else 404;
- oncologists, data managers (the board's coordinators) and administrators schedule and edit
  meetings, reorder their cases and withdraw them;
- whoever may write the clinical record (clinicians, oncologists, data managers) refers a
  patient they can see to a meeting, refreshes the predictions and drafts the decision (the
  coordinator often keeps the minutes);
- only an oncologist or an administrator signs a decision. A signed decision never changes:
  an amendment is a new draft version (with its reason) that supersedes it once signed.

Every function checks the role, reads the patient through ``oncology.selectors`` (404 when not
visible) and writes one audit event per patient record touched, never a value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditAction, Role, User
from oncology.models import Patient
from oncology.models_board import (
    BoardCase,
    BoardDecision,
    CaseStatus,
    DecisionStatus,
    Meeting,
    MeetingStatus,
)
from oncology.models_outcomes import Prediction
from oncology.selectors import patient_get
from oncology.services.outcome_predictions import PredictionRefused, prediction_create

MEETING_OBJECT = "board_meeting"
CASE_OBJECT = "board_case"
DECISION_OBJECT = "board_decision"
OTHER_OPTION = "other"
MEETING_FIELDS = ("title", "scheduled_for", "location", "status", "guest_attendees")
DECISION_FIELDS = ("chosen_option", "plan", "rationale", "dissent", "guest_attendees")


class BoardRoles:
    """What each role may do on the board; the templates ask the same questions."""

    MANAGE = frozenset({Role.ONCOLOGIST, Role.DATA_MANAGER, Role.ADMINISTRATOR})
    REFER = frozenset({Role.CLINICIAN, Role.ONCOLOGIST, Role.DATA_MANAGER})
    DRAFT = REFER
    SIGN = frozenset({Role.ONCOLOGIST, Role.ADMINISTRATOR})

    @staticmethod
    def _is_person(user: User) -> bool:
        return bool(user and user.is_authenticated and not user.is_integration_client)

    @classmethod
    def can_manage(cls, user: User) -> bool:
        return cls._is_person(user) and user.role in cls.MANAGE

    @classmethod
    def can_refer(cls, user: User) -> bool:
        return cls._is_person(user) and user.role in cls.REFER

    @classmethod
    def can_draft(cls, user: User) -> bool:
        return cls._is_person(user) and user.role in cls.DRAFT

    @classmethod
    def can_sign(cls, user: User) -> bool:
        return cls._is_person(user) and user.role in cls.SIGN


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _audit_case(user: User, action: str, case: BoardCase, fields: Iterable[str] = ()) -> None:
    audit_record(
        actor=user,
        action=action,
        object_type=CASE_OBJECT,
        object_id=case.public_id,
        patient_id=case.patient_id,
        institution_id=case.meeting.institution_id,
        detail={"fields": sorted(fields)} if fields else None,
    )


def _audit_decision(
    user: User, action: str, decision: BoardDecision, fields: Iterable[str] = ()
) -> None:
    audit_record(
        actor=user,
        action=action,
        object_type=DECISION_OBJECT,
        object_id=decision.public_id,
        patient_id=decision.case.patient_id,
        institution_id=decision.case.meeting.institution_id,
        detail={"fields": sorted(fields)} if fields else None,
    )


# ---------------------------------------------------------------------------------------------
# Meetings
# ---------------------------------------------------------------------------------------------


def _attendees_of(meeting_institution_id: int, attendees: Iterable[User]) -> list[User]:
    people = list(attendees)
    if any(p.institution_id != meeting_institution_id or p.is_integration_client for p in people):
        raise ValidationError({"attendees": ["Attendees must be people of this institution."]})
    return people


def _meeting_values(values: Mapping[str, Any]) -> dict[str, Any]:
    clean = {k: values[k] for k in MEETING_FIELDS if k in values}
    if "title" in clean:
        clean["title"] = str(clean["title"]).strip()
        if not clean["title"]:
            raise ValidationError({"title": ["Give the meeting a title."]})
    if "scheduled_for" in clean and not isinstance(clean["scheduled_for"], dt.datetime):
        raise ValidationError({"scheduled_for": ["Give the date and time of the meeting."]})
    if "status" in clean and clean["status"] not in MeetingStatus.values:
        raise ValidationError({"status": ["Choose a listed status."]})
    return clean


def meeting_create(
    *, user: User, values: Mapping[str, Any], attendees: Iterable[User] = ()
) -> Meeting:
    """A meeting at the user's institution; one CREATE event (no patient)."""
    _require(BoardRoles.can_manage(user), "This role cannot schedule board meetings.")
    if user.institution_id is None:
        raise PermissionDenied("A user without an institution cannot schedule meetings.")
    clean = _meeting_values(values)
    for required in ("title", "scheduled_for"):
        if required not in clean:
            raise ValidationError({required: ["This field is required."]})
    people = _attendees_of(user.institution_id, attendees)
    meeting = Meeting.objects.create(institution_id=user.institution_id, created_by=user, **clean)
    meeting.attendees.set(people)
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        object_type=MEETING_OBJECT,
        object_id=meeting.public_id,
        institution_id=meeting.institution_id,
    )
    return meeting


def meeting_update(
    *,
    user: User,
    meeting: Meeting,
    values: Mapping[str, Any],
    attendees: Iterable[User] | None = None,
) -> Meeting:
    """Change a meeting's details (the caller got it through ``selectors_board.meeting_get``);
    one UPDATE event naming the fields that changed."""
    _require(BoardRoles.can_manage(user), "This role cannot edit board meetings.")
    if meeting.institution_id != user.institution_id:
        raise Http404("No such meeting")
    clean = _meeting_values(values)
    changed = [k for k, v in clean.items() if getattr(meeting, k) != v]
    for key in changed:
        setattr(meeting, key, clean[key])
    if attendees is not None:
        people = _attendees_of(meeting.institution_id, attendees)
        if {p.pk for p in people} != set(meeting.attendees.values_list("pk", flat=True)):
            meeting.attendees.set(people)
            changed.append("attendees")
    if changed:
        meeting.save()
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        object_type=MEETING_OBJECT,
        object_id=meeting.public_id,
        institution_id=meeting.institution_id,
        detail={"fields": sorted(changed)},
    )
    return meeting


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


def _refresh_prediction(user: User, patient: Patient) -> tuple[Prediction | None, str]:
    """A new prediction of the active outcome model (bands included), or the reason none
    could be made. In a savepoint: a refused prediction leaves nothing behind."""
    try:
        with transaction.atomic():
            prediction = prediction_create(
                user=user, patient_public_id=patient.public_id, bands=True
            )
    except PredictionRefused as exc:
        return None, str(exc)
    return prediction, ""


def board_case_add(
    *,
    user: User,
    meeting: Meeting,
    patient_public_id: Any,
    question: str,
    presenter: User | None = None,
    compute_prediction: bool = True,
) -> tuple[BoardCase, str]:
    """Refer a patient the user can see to a meeting, last on its list; one CREATE event.

    Computes the patient's prediction of the active model right away (its own CREATE event),
    so the board sees it without waiting; returns the case and, when no prediction could be
    made, why (the case is added anyway)."""
    _require(BoardRoles.can_refer(user), "This role cannot refer patients to the board.")
    if meeting.institution_id != user.institution_id:
        raise Http404("No such meeting")
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    if patient.institution_id != meeting.institution_id:
        raise Http404("No such patient")
    question = question.strip()
    if not question:
        raise ValidationError({"question": ["Say what the board is asked."]})
    if meeting.status == MeetingStatus.CANCELLED:
        raise ValidationError({"__all__": ["This meeting is cancelled."]})
    if presenter is not None and (
        presenter.institution_id != meeting.institution_id or presenter.is_integration_client
    ):
        raise ValidationError(
            {"presenter": ["The presenter must be a person of this institution."]}
        )
    last = meeting.cases.aggregate(last=Max("position"))["last"]
    try:
        with transaction.atomic():
            case = BoardCase.objects.create(
                meeting=meeting,
                patient=patient,
                question=question,
                presenter=presenter,
                position=0 if last is None else last + 1,
                created_by=user,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"patient": ["This patient is already on this meeting's list."]}
        ) from exc
    case.meeting = meeting
    _audit_case(user, AuditAction.CREATE, case)
    note = ""
    if compute_prediction:
        _, note = _refresh_prediction(user, patient)
    return case, note


def board_case_move(*, user: User, case: BoardCase, offset: int) -> BoardCase:
    """Move a case up (offset -1) or down (+1) the meeting's list; one UPDATE event."""
    _require(BoardRoles.can_manage(user), "This role cannot reorder the board's list.")
    cases = list(BoardCase.objects.select_for_update().filter(meeting_id=case.meeting_id))
    cases.sort(key=lambda c: (c.position, c.pk))
    index = next(i for i, c in enumerate(cases) if c.pk == case.pk)
    target = index + (1 if offset > 0 else -1)
    if 0 <= target < len(cases):
        cases[index], cases[target] = cases[target], cases[index]
    for position, item in enumerate(cases):
        if item.position != position:
            BoardCase.objects.filter(pk=item.pk).update(position=position)
            if item.pk == case.pk:
                case.position = position
    _audit_case(user, AuditAction.UPDATE, case, ["position"])
    return case


def board_case_withdraw(*, user: User, case: BoardCase) -> BoardCase:
    """Take a case off the agenda (it stays listed, as withdrawn); one UPDATE event. A case
    with a signed decision cannot be withdrawn: its decision stands."""
    _require(BoardRoles.can_manage(user), "This role cannot withdraw cases.")
    if case.status == CaseStatus.DECIDED:
        raise ValidationError({"__all__": ["A decided case cannot be withdrawn; amend it."]})
    case.status = CaseStatus.WITHDRAWN
    case.save(update_fields=["status", "updated_at"])
    _audit_case(user, AuditAction.UPDATE, case, ["status"])
    return case


def board_prediction_refresh(*, user: User, case: BoardCase) -> tuple[Prediction | None, str]:
    """Compute the case's prediction again (explicit POST from the case page)."""
    _require(BoardRoles.can_draft(user), "This role cannot compute predictions.")
    return _refresh_prediction(user, case.patient)


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------


def _prediction_of(case: BoardCase, prediction_public_id: Any) -> Prediction | None:
    """The prediction the board saw; it must be one of the case's patient (a prediction of
    another patient is refused, not silently accepted)."""
    if prediction_public_id in (None, ""):
        return None
    try:
        return Prediction.objects.select_related("model").get(
            public_id=prediction_public_id, patient_id=case.patient_id
        )
    except (Prediction.DoesNotExist, ValueError, ValidationError) as exc:
        raise ValidationError(
            {"prediction": ["That prediction is not one of this patient's."]}
        ) from exc


def decision_options(prediction: Prediction | None) -> list[str]:
    """The options the board may choose: the prediction's, then "other"."""
    options: list[str] = []
    if prediction is not None:
        options = [o["option"] for o in prediction.output.get("options", [])] or list(
            prediction.model.options
        )
    return [*options, OTHER_OPTION]


def _copy_provenance(decision: BoardDecision, prediction: Prediction | None) -> None:
    decision.prediction = prediction
    decision.model_name = prediction.model.name if prediction else ""
    decision.model_version = prediction.model.version if prediction else None
    decision.inputs_sha256 = prediction.inputs_sha256 if prediction else ""


def _decision_values(values: Mapping[str, Any], prediction: Prediction | None) -> dict[str, Any]:
    clean = {k: str(values.get(k, "") or "").strip() for k in DECISION_FIELDS}
    errors: dict[str, list[str]] = {}
    if clean["chosen_option"] not in decision_options(prediction):
        errors["chosen_option"] = ["Choose one of the options shown, or other."]
    for required in ("plan", "rationale"):
        if not clean[required]:
            errors[required] = ["This field is required."]
    if errors:
        raise ValidationError(errors)
    return clean


def decision_latest(case: BoardCase) -> BoardDecision | None:
    return case.decisions.order_by("-version").first()


def decision_save(
    *,
    user: User,
    case: BoardCase,
    values: Mapping[str, Any],
    prediction_public_id: Any = None,
    attendees: Iterable[User] = (),
) -> BoardDecision:
    """Save the board's draft decision for a case: edits the open draft, or starts one.

    After a signed version, a new draft is an amendment: it needs ``amendment_reason`` and
    supersedes the signed version. A signed row is never edited here (nor anywhere: the
    database refuses it). One CREATE or UPDATE event."""
    _require(BoardRoles.can_draft(user), "This role cannot record board decisions.")
    if case.status == CaseStatus.WITHDRAWN:
        raise ValidationError({"__all__": ["This case was withdrawn."]})
    prediction = _prediction_of(case, prediction_public_id)
    clean = _decision_values(values, prediction)
    people = _attendees_of(case.meeting.institution_id, attendees)
    latest = BoardDecision.objects.select_for_update().filter(case=case).order_by("-version")
    current = latest.first()
    reason = str(values.get("amendment_reason", "") or "").strip()
    if current is not None and current.status == DecisionStatus.DRAFT:
        decision, action = current, AuditAction.UPDATE
        if decision.supersedes_id and not reason:
            raise ValidationError({"amendment_reason": ["Say why the decision is amended."]})
    else:
        if current is not None and not reason:
            raise ValidationError({"amendment_reason": ["Say why the decision is amended."]})
        decision = BoardDecision(
            case=case,
            version=1 if current is None else current.version + 1,
            supersedes=current,
            created_by=user,
        )
        action = AuditAction.CREATE
    before = {k: getattr(decision, k) for k in (*DECISION_FIELDS, "amendment_reason")}
    before["prediction_id"] = decision.prediction_id
    for key, value in clean.items():
        setattr(decision, key, value)
    decision.amendment_reason = reason if decision.supersedes_id else ""
    _copy_provenance(decision, prediction)
    decision.save()
    old_people = set() if action == AuditAction.CREATE else set(decision.attendees.all())
    decision.attendees.set(people)
    changed = [k for k, v in before.items() if getattr(decision, k) != v]
    if set(people) != old_people:
        changed.append("attendees")
    decision.case = case
    _audit_decision(user, action, decision, changed if action == AuditAction.UPDATE else ())
    return decision


def decision_sign(*, user: User, decision: BoardDecision) -> BoardDecision:
    """Sign the open draft: from now on it is immutable. The provenance of the prediction it
    links is copied again at signing, and the prediction must still be the case patient's.
    The case becomes decided. One UPDATE event."""
    _require(BoardRoles.can_sign(user), "Only an oncologist or an administrator signs decisions.")
    case = decision.case
    fresh = BoardDecision.objects.select_for_update().get(pk=decision.pk)
    if fresh.status != DecisionStatus.DRAFT:
        raise ValidationError({"__all__": ["This version is already signed; amend it instead."]})
    newest = decision_latest(case)
    if newest is None or newest.pk != fresh.pk:
        raise ValidationError({"__all__": ["Only the newest version can be signed."]})
    prediction = _prediction_of(case, fresh.prediction.public_id) if fresh.prediction else None
    _decision_values({k: getattr(fresh, k) for k in DECISION_FIELDS}, prediction)
    if fresh.supersedes_id and not fresh.amendment_reason.strip():
        raise ValidationError({"amendment_reason": ["Say why the decision is amended."]})
    _copy_provenance(fresh, prediction)
    fresh.status = DecisionStatus.SIGNED
    fresh.signed_by = user
    fresh.signed_at = timezone.now()
    fresh.save()
    if case.status != CaseStatus.DECIDED:
        case.status = CaseStatus.DECIDED
        case.save(update_fields=["status", "updated_at"])
    fresh.case = case
    _audit_decision(user, AuditAction.UPDATE, fresh, ["signed_at", "signed_by", "status"])
    return fresh


def decision_amend(*, user: User, decision: BoardDecision, reason: str) -> BoardDecision:
    """Start an amendment of a signed decision: a new draft version with the same content and
    the reason, superseding it (edited and signed like any draft)."""
    _require(BoardRoles.can_draft(user), "This role cannot record board decisions.")
    if decision.status != DecisionStatus.SIGNED:
        raise ValidationError({"__all__": ["Only a signed decision is amended; edit the draft."]})
    values = {k: getattr(decision, k) for k in DECISION_FIELDS}
    values["amendment_reason"] = reason
    return decision_save(
        user=user,
        case=decision.case,
        values=values,
        prediction_public_id=decision.prediction.public_id if decision.prediction else None,
        attendees=list(decision.attendees.all()),
    )
