"""Board services: roles, signing, immutability, amendments, the prediction link, audit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.http import Http404
from django.utils import timezone

from core.models import AuditEvent, Role
from oncology.models import OutcomeModel, Prediction
from oncology.models_board import BoardCase, BoardDecision, CaseStatus, DecisionStatus
from oncology.services import board
from oncology.services.outcome_predictions import prediction_create
from tests.conftest import World
from tests.factories import UserFactory
from tests.oncology import board_data

pytestmark = pytest.mark.django_db

DECISION = {
    "chosen_option": "surgery",
    "plan": "Lobectomy next month.",
    "rationale": "Stage IB, fit for surgery.",
    "dissent": "",
    "guest_attendees": "Dr Visitor, thoracic surgeon",
}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def model(db: None) -> OutcomeModel:
    return board_data.active_model()


@pytest.fixture
def case(world: World) -> BoardCase:
    board_data.complete_record(world.patient)
    return board_data.case_for(world, board_data.meeting_for(world))


def _events(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


# --- meetings and cases ----------------------------------------------------------------------


def test_a_clinician_cannot_schedule_a_meeting_but_an_oncologist_can(world: World) -> None:
    values = {"title": "Board", "scheduled_for": timezone.now()}
    with pytest.raises(PermissionDenied):
        board.meeting_create(user=world.member, values=values)
    meeting = board.meeting_create(user=world.oncologist, values=values)
    assert meeting.institution == world.institution
    (event,) = _events(object_type="board_meeting")
    assert (event.action, event.object_id, event.patient_id) == (
        "create",
        str(meeting.public_id),
        None,
    )


def test_attendees_from_another_institution_are_refused(world: World) -> None:
    stranger = UserFactory(role=Role.ONCOLOGIST)  # another institution
    with pytest.raises(ValidationError) as exc:
        board.meeting_create(
            user=world.oncologist,
            values={"title": "Board", "scheduled_for": timezone.now()},
            attendees=[stranger],
        )
    assert "attendees" in exc.value.message_dict


def test_a_case_can_be_added_only_for_a_patient_the_user_can_see(world: World) -> None:
    meeting = board_data.meeting_for(world)
    with pytest.raises(Http404):
        board.board_case_add(
            user=world.outsider,
            meeting=meeting,
            patient_public_id=world.patient.public_id,
            question="?",
            compute_prediction=False,
        )
    assert not BoardCase.objects.exists()


def test_adding_a_case_records_one_event_and_refuses_the_same_patient_twice(
    world: World,
) -> None:
    meeting = board_data.meeting_for(world)
    case = board_data.case_for(world, meeting)
    (event,) = _events(object_type="board_case")
    assert (event.action, event.patient_id, event.object_id) == (
        "create",
        world.patient.pk,
        str(case.public_id),
    )
    with pytest.raises(ValidationError) as exc:
        board_data.case_for(world, meeting)
    assert "patient" in exc.value.message_dict


def test_adding_a_case_computes_the_prediction_of_the_active_model(
    world: World, model: OutcomeModel
) -> None:
    board_data.complete_record(world.patient)
    case = board_data.case_for(world, board_data.meeting_for(world), predict=True)
    prediction = Prediction.objects.get(patient=world.patient)
    assert prediction.model == model
    assert prediction.output["bands"]["status"] == "done"  # the stored ensemble, inline
    assert case.position == 0


def test_adding_a_case_without_an_active_model_says_why(world: World) -> None:
    meeting = board_data.meeting_for(world)
    _, note = board.board_case_add(
        user=world.member, meeting=meeting, patient_public_id=world.patient.public_id, question="?"
    )
    assert "No outcome model is active" in note
    assert BoardCase.objects.count() == 1


def test_cases_move_up_and_down_and_only_coordinators_reorder(world: World) -> None:
    meeting = board_data.meeting_for(world)
    first = board_data.case_for(world, meeting)
    second = board_data.case_for(world, meeting, board_data.other_patient(world))
    with pytest.raises(PermissionDenied):
        board.board_case_move(user=world.member, case=second, offset=-1)
    board.board_case_move(user=world.oncologist, case=second, offset=-1)
    order = list(meeting.cases.order_by("position").values_list("pk", flat=True))
    assert order == [second.pk, first.pk]


def test_a_withdrawn_case_takes_no_decision(world: World, case: BoardCase) -> None:
    board.board_case_withdraw(user=world.oncologist, case=case)
    assert BoardCase.objects.get(pk=case.pk).status == CaseStatus.WITHDRAWN
    with pytest.raises(ValidationError):
        board.decision_save(
            user=world.member, case=case, values={**DECISION, "chosen_option": "other"}
        )


# --- decisions -------------------------------------------------------------------------------


def _draft(world: World, case: BoardCase, prediction: Prediction | None = None) -> BoardDecision:
    values = DECISION if prediction else {**DECISION, "chosen_option": "other"}
    return board.decision_save(
        user=world.member,
        case=case,
        values=values,
        prediction_public_id=prediction.public_id if prediction else None,
        attendees=[world.oncologist, world.member],
    )


def test_signing_copies_the_prediction_provenance_and_decides_the_case(
    world: World, case: BoardCase, model: OutcomeModel
) -> None:
    prediction = prediction_create(user=world.member, patient_public_id=world.patient.public_id)
    draft = _draft(world, case, prediction)
    assert (draft.version, draft.status) == (1, DecisionStatus.DRAFT)
    with pytest.raises(PermissionDenied):
        board.decision_sign(user=world.member, decision=draft)  # a clinician does not sign
    signed = board.decision_sign(user=world.oncologist, decision=draft)
    stored = BoardDecision.objects.get(pk=draft.pk)
    assert stored.status == DecisionStatus.SIGNED
    assert (stored.model_name, stored.model_version, stored.inputs_sha256) == (
        model.name,
        model.version,
        prediction.inputs_sha256,
    )
    assert stored.prediction_id == prediction.pk
    assert stored.signed_by == world.oncologist
    assert stored.signed_at is not None
    assert signed.case.status == CaseStatus.DECIDED
    assert BoardCase.objects.get(pk=case.pk).status == CaseStatus.DECIDED
    assert set(stored.attendees.all()) == {world.oncologist, world.member}
    actions = [(e.action, e.detail) for e in _events(object_type="board_decision")]
    assert actions == [
        ("create", {}),
        ("update", {"fields": ["signed_at", "signed_by", "status"]}),
    ]


def test_an_administrator_may_sign_a_data_manager_may_not(world: World, case: BoardCase) -> None:
    draft = _draft(world, case)
    with pytest.raises(PermissionDenied):
        board.decision_sign(user=board_data.coordinator(world), decision=draft)
    board.decision_sign(user=board_data.administrator(world), decision=draft)
    assert BoardDecision.objects.get(pk=draft.pk).status == DecisionStatus.SIGNED


def test_a_signed_decision_cannot_change_through_the_service(world: World, case: BoardCase) -> None:
    signed = board.decision_sign(user=world.oncologist, decision=_draft(world, case))
    # Saving again without a reason is refused: a new version needs one.
    with pytest.raises(ValidationError) as exc:
        board.decision_save(
            user=world.member, case=case, values={**DECISION, "chosen_option": "other", "plan": "X"}
        )
    assert "amendment_reason" in exc.value.message_dict
    with pytest.raises(ValidationError):
        board.decision_sign(user=world.oncologist, decision=signed)
    stored = BoardDecision.objects.get(pk=signed.pk)
    assert stored.plan == DECISION["plan"]
    # And the database refuses what the service would never do.
    with pytest.raises(DatabaseError), transaction.atomic():
        BoardDecision.objects.filter(pk=signed.pk).update(plan="rewritten")


def test_an_amendment_is_a_new_version_that_supersedes_the_signed_one(
    world: World, case: BoardCase
) -> None:
    v1 = board.decision_sign(user=world.oncologist, decision=_draft(world, case))
    with pytest.raises(ValidationError):
        board.decision_amend(user=world.member, decision=v1, reason="  ")
    v2 = board.decision_amend(user=world.member, decision=v1, reason="Pathology upstaged")
    assert (v2.version, v2.status, v2.supersedes_id) == (2, DecisionStatus.DRAFT, v1.pk)
    assert v2.plan == v1.plan
    assert v2.amendment_reason == "Pathology upstaged"
    v2 = board.decision_save(
        user=world.member,
        case=case,
        values={
            **DECISION,
            "chosen_option": "other",
            "plan": "Chemoradiotherapy",
            "amendment_reason": "Pathology upstaged",
        },
    )
    board.decision_sign(user=world.oncologist, decision=v2)
    versions = list(case.decisions.order_by("version").values_list("version", "status", "plan"))
    assert versions == [
        (1, "signed", DECISION["plan"]),
        (2, "signed", "Chemoradiotherapy"),
    ]
    assert BoardDecision.objects.get(pk=v1.pk).superseded_by.pk == v2.pk


def test_only_the_newest_version_can_be_signed(world: World, case: BoardCase) -> None:
    v1 = board.decision_sign(user=world.oncologist, decision=_draft(world, case))
    board.decision_amend(user=world.member, decision=v1, reason="New scan")
    with pytest.raises(ValidationError):
        board.decision_sign(user=world.oncologist, decision=v1)


def test_a_prediction_of_another_patient_is_refused(
    world: World, case: BoardCase, model: OutcomeModel
) -> None:
    other = board_data.complete_record(board_data.other_patient(world))
    foreign = prediction_create(user=world.member, patient_public_id=other.public_id)
    with pytest.raises(ValidationError) as exc:
        _draft(world, case, foreign)
    assert "prediction" in exc.value.message_dict
    assert not BoardDecision.objects.exists()


def test_the_chosen_option_must_be_one_of_the_predictions_or_other(
    world: World, case: BoardCase, model: OutcomeModel
) -> None:
    prediction = prediction_create(user=world.member, patient_public_id=world.patient.public_id)
    with pytest.raises(ValidationError) as exc:
        board.decision_save(
            user=world.member,
            case=case,
            values={**DECISION, "chosen_option": "homeopathy"},
            prediction_public_id=prediction.public_id,
        )
    assert "chosen_option" in exc.value.message_dict
    options = board.decision_options(prediction)
    assert options[-1] == "other"
    assert "surgery" in options


def test_editing_a_draft_updates_it_in_place_with_the_fields_named(
    world: World, case: BoardCase
) -> None:
    draft = _draft(world, case)
    again = board.decision_save(
        user=world.member,
        case=case,
        values={**DECISION, "chosen_option": "other", "dissent": "Dr B prefers SBRT"},
        attendees=[world.oncologist, world.member],
    )
    assert again.pk == draft.pk
    assert again.version == 1
    update = _events(object_type="board_decision", action="update")[-1]
    assert update.detail == {"fields": ["dissent"]}
    assert update.patient_id == world.patient.pk


def test_an_outsider_cannot_reach_a_case(world: World, case: BoardCase) -> None:
    from oncology import selectors_board

    with pytest.raises(Http404):
        selectors_board.board_case_get(user=world.outsider, public_id=case.public_id)
    assert selectors_board.board_case_get(user=world.member, public_id=case.public_id) == case


def test_a_meeting_of_another_institution_is_not_found(world: World) -> None:
    from oncology import selectors_board

    meeting = board_data.meeting_for(world)
    stranger = UserFactory(role=Role.ONCOLOGIST)
    with pytest.raises(Http404):
        selectors_board.meeting_get(user=stranger, public_id=meeting.public_id)
    with pytest.raises(Http404):
        board.meeting_update(user=stranger, meeting=meeting, values={"title": "Mine"})


def test_scheduled_for_must_be_a_datetime(world: World) -> None:
    with pytest.raises(ValidationError):
        board.meeting_create(
            user=world.oncologist, values={"title": "B", "scheduled_for": dt.date(2026, 1, 1)}
        )


def test_an_administrator_manages_meetings_but_does_not_refer_or_draft(world: World) -> None:
    admin = board_data.administrator(world)
    meeting = board.meeting_create(
        user=admin, values={"title": "Board", "scheduled_for": timezone.now()}
    )
    with pytest.raises(PermissionDenied):
        board.board_case_add(
            user=admin,
            meeting=meeting,
            patient_public_id=world.patient.public_id,
            question="?",
            compute_prediction=False,
        )
    case = board_data.case_for(world, meeting)
    with pytest.raises(PermissionDenied):
        board.decision_save(user=admin, case=case, values={**DECISION, "chosen_option": "other"})


def test_a_data_manager_keeps_the_minutes_but_does_not_sign(world: World, case: BoardCase) -> None:
    manager = board_data.coordinator(world)
    draft = board.decision_save(
        user=manager, case=case, values={**DECISION, "chosen_option": "other"}
    )
    assert draft.created_by == manager
    with pytest.raises(PermissionDenied):
        board.decision_sign(user=manager, decision=draft)


def test_an_integration_client_has_no_board_role(world: World) -> None:
    assert not any(
        check(world.integration)
        for check in (
            board.BoardRoles.can_manage,
            board.BoardRoles.can_refer,
            board.BoardRoles.can_draft,
            board.BoardRoles.can_sign,
        )
    )
