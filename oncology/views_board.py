"""Pages of the tumour board (docs/board.md): meetings, the case list, the one-screen case page,
decisions and the PDF case report.

Thin: each request reads through oncology.selectors_board (access + one audit event) or writes
through oncology.services.board (role + one audit event per record touched). Predictions are
computed on an explicit POST or when a case is added, never on GET.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.audit import audit_record
from core.models import AuditAction, User
from oncology import record_page, selectors, selectors_board
from oncology.board_panel import outcomes_panel_context
from oncology.board_report import ChecklistLike, case_report_pdf
from oncology.forms import apply_errors, validation_error_dict
from oncology.forms_board import CaseAddForm, DecisionForm, MeetingForm
from oncology.models import CareTeam
from oncology.models_board import BoardCase, BoardDecision, CaseStatus, DecisionStatus, Meeting
from oncology.services import board
from oncology.services.board import BoardRoles
from oncology.views import person_required


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _meeting_url(meeting: Meeting) -> str:
    return reverse("board:meeting-detail", kwargs={"meeting_id": meeting.public_id})


def _case_url(case: BoardCase, anchor: str = "") -> str:
    url = reverse("board:case-detail", kwargs={"case_id": case.public_id})
    return f"{url}#{anchor}" if anchor else url


def _roles(user: User) -> dict[str, bool]:
    return {
        "can_manage": BoardRoles.can_manage(user),
        "can_refer": BoardRoles.can_refer(user),
        "can_draft": BoardRoles.can_draft(user),
        "can_sign": BoardRoles.can_sign(user),
    }


# ---------------------------------------------------------------------------------------------
# Meetings
# ---------------------------------------------------------------------------------------------


@person_required
@require_GET
def meeting_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    meetings = list(selectors_board.meeting_list(user=user)[:100])
    now = timezone.now()
    return render(
        request,
        "oncology/board/meeting_list.html",
        {
            "upcoming": [m for m in meetings if m.scheduled_for >= now][::-1],
            "past": [m for m in meetings if m.scheduled_for < now],
            **_roles(user),
        },
    )


def _meeting_form_page(request: HttpRequest, meeting: Meeting | None) -> HttpResponse:
    user = _user(request)
    if not BoardRoles.can_manage(user):
        raise PermissionDenied("This role cannot schedule board meetings.")
    initial: dict[str, Any] = {}
    if meeting is not None:
        initial = {
            "title": meeting.title,
            "scheduled_for": timezone.localtime(meeting.scheduled_for),
            "location": meeting.location,
            "status": meeting.status,
            "attendees": list(meeting.attendees.all()),
            "guest_attendees": meeting.guest_attendees,
        }
    form = MeetingForm(request.POST or None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "attendees"}
        attendees = list(form.cleaned_data["attendees"])
        try:
            if meeting is None:
                meeting = board.meeting_create(user=user, values=values, attendees=attendees)
                messages.success(request, "Meeting scheduled.")
            else:
                board.meeting_update(user=user, meeting=meeting, values=values, attendees=attendees)
                messages.success(request, "Meeting saved.")
        except ValidationError as exc:
            apply_errors(form, validation_error_dict(exc))
        else:
            return redirect(_meeting_url(meeting))
    return render(
        request,
        "oncology/board/meeting_form.html",
        {"form": form, "meeting": meeting, "title": "Edit meeting" if meeting else "New meeting"},
    )


@person_required
@require_http_methods(["GET", "POST"])
def meeting_create(request: HttpRequest) -> HttpResponse:
    # A meeting holds no patient data until cases are added: no event for the empty form.
    return _meeting_form_page(request, None)


@person_required
@require_http_methods(["GET", "POST"])
def meeting_edit(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    meeting = selectors_board.meeting_get(user=_user(request), public_id=meeting_id)
    return _meeting_form_page(request, meeting)


@person_required
@require_GET
def meeting_detail(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    meeting = selectors_board.meeting_get(user=user, public_id=meeting_id)
    listed = selectors_board.meeting_cases(user=user, meeting=meeting)
    checklists = selectors_board.checklists_for([c.patient for c in listed.visible])
    rows = []
    for case in listed.visible:
        decisions = list(case.decisions.all())
        rows.append(
            {
                "case": case,
                "checklist": checklists[case.patient_id],
                "latest": decisions[0] if decisions else None,
            }
        )
    return render(
        request,
        "oncology/board/meeting_detail.html",
        {
            "meeting": meeting,
            "rows": rows,
            "hidden_count": listed.hidden_count,
            "attendees": list(meeting.attendees.all()),
            **_roles(user),
        },
    )


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


@person_required
@require_http_methods(["GET", "POST"])
def case_add(request: HttpRequest, meeting_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    if not BoardRoles.can_refer(user):
        raise PermissionDenied("This role cannot refer patients to the board.")
    meeting = selectors_board.meeting_get(user=user, public_id=meeting_id)
    on_meeting = meeting.cases.values("patient_id")
    if request.method == "POST":
        form = CaseAddForm(request.POST, user=user, patients=[])
        form.fields["patient"].choices = [(request.POST.get("patient", ""), "")]  # type: ignore[attr-defined]
        if form.is_valid():
            try:
                case, note = board.board_case_add(
                    user=user,
                    meeting=meeting,
                    patient_public_id=form.cleaned_data["patient"],
                    question=form.cleaned_data["question"],
                    presenter=form.cleaned_data["presenter"],
                )
            except ValidationError as exc:
                apply_errors(form, validation_error_dict(exc))
            else:
                messages.success(request, "Case added to the meeting.")
                if note:
                    messages.warning(request, f"No prediction was made: {note}")
                return redirect(_case_url(case))
    else:
        form = None
    # Listing the patients to choose from is a read of names and MRNs: one LIST event.
    patients = (
        selectors.patient_list(user=user)
        .filter(institution_id=meeting.institution_id)
        .exclude(pk__in=on_meeting)
    )
    choices = [
        (str(p.public_id), f"{p.family_name}, {p.given_name} · {p.mrn}") for p in patients[:2000]
    ]
    if form is None:
        form = CaseAddForm(user=user, patients=choices)
    else:
        form.fields["patient"].choices = [("", "Choose a patient"), *choices]  # type: ignore[attr-defined]
    return render(
        request,
        "oncology/board/case_add.html",
        {"form": form, "meeting": meeting, "title": "Add a case"},
    )


def _case_for_write(request: HttpRequest, case_id: uuid.UUID) -> BoardCase:
    return selectors_board.board_case_get(user=_user(request), public_id=case_id, audit_action=None)


@person_required
@require_POST
def case_move(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    case = _case_for_write(request, case_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    board.board_case_move(user=_user(request), case=case, offset=offset)
    return redirect(_meeting_url(case.meeting) + f"#case-{case.public_id}")


@person_required
@require_POST
def case_withdraw(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    case = _case_for_write(request, case_id)
    try:
        board.board_case_withdraw(user=_user(request), case=case)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        # The refused write read the case: its one event.
        audit_record(
            actor=_user(request),
            action=AuditAction.VIEW,
            object_type=board.CASE_OBJECT,
            object_id=case.public_id,
            patient_id=case.patient_id,
            institution_id=case.meeting.institution_id,
        )
    else:
        messages.success(request, "Case withdrawn from the meeting.")
    return redirect(_meeting_url(case.meeting))


@person_required
@require_POST
def case_predict(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    """The explicit "Compute / refresh predictions" of the case page."""
    case = _case_for_write(request, case_id)
    prediction, note = board.board_prediction_refresh(user=_user(request), case=case)
    if prediction is None:
        messages.warning(request, f"No prediction was made: {note}")
        audit_record(
            actor=_user(request),
            action=AuditAction.VIEW,
            object_type=board.CASE_OBJECT,
            object_id=case.public_id,
            patient_id=case.patient_id,
            institution_id=case.meeting.institution_id,
        )
    else:
        messages.success(request, "Predictions computed.")
    return redirect(_case_url(case, "outcomes-panel"))


def _neighbours(user: User, case: BoardCase) -> tuple[BoardCase | None, BoardCase | None]:
    """The previous and next visible case of the meeting, for keyboard navigation."""
    visible = selectors.patient_visible_queryset(user=user).values("pk")
    cases = list(
        case.meeting.cases.filter(patient_id__in=visible)
        .exclude(status=CaseStatus.WITHDRAWN)
        .order_by("position", "pk")
        # meeting_id too: the related manager reads it on every row (a query each if deferred).
        .only("public_id", "position", "meeting_id")
    )
    ids = [c.pk for c in cases]
    if case.pk not in ids:
        return None, None
    i = ids.index(case.pk)
    return (cases[i - 1] if i > 0 else None, cases[i + 1] if i + 1 < len(cases) else None)


def _decision_people(case: BoardCase, draft: Any) -> Any:
    """Who may be listed as present: the meeting's attendees, the patient's care teams and
    whoever the draft already lists (the service checks they are the institution's)."""
    # Subqueries, not joins: OR-ing joins through the care teams made one row per (user,
    # team patient) before DISTINCT, which grows with the teams' patients.
    who = Q(
        pk__in=Meeting.attendees.through.objects.filter(meeting_id=case.meeting_id).values(
            "user_id"
        )
    ) | Q(
        pk__in=CareTeam.members.through.objects.filter(careteam__patients=case.patient_id).values(
            "user_id"
        )
    )
    if draft is not None:
        who |= Q(
            pk__in=BoardDecision.attendees.through.objects.filter(boarddecision_id=draft.pk).values(
                "user_id"
            )
        )
    return (
        User.objects.filter(who, institution_id=case.meeting.institution_id, is_active=True)
        .exclude(role="integration")
        .order_by("last_name", "first_name", "username")
    )


def _case_page(
    request: HttpRequest, case: BoardCase, form: DecisionForm | None = None, status: int = 200
) -> HttpResponse:
    user = _user(request)
    patient = case.patient
    timeline = selectors_board.case_timeline(patient=patient)  # prefetches the record
    today = timezone.localdate()
    primary = record_page.primary_diagnosis(list(patient.diagnoses.all()))
    prediction = selectors_board.case_prediction(case=case)
    history = selectors_board.decision_history(case=case)
    latest = history[0] if history else None
    draft = latest if latest is not None and latest.status == DecisionStatus.DRAFT else None
    options = board.decision_options(prediction)
    if form is None:
        initial: dict[str, Any] = {
            "prediction": str(prediction.public_id) if prediction else "",
            "attendees": list(case.meeting.attendees.all()),
            "guest_attendees": case.meeting.guest_attendees,
        }
        if draft is not None:
            initial.update(
                {k: getattr(draft, k) for k in (*board.DECISION_FIELDS, "amendment_reason")}
            )
            initial["attendees"] = list(draft.attendees.all())
            if draft.chosen_option not in options:
                initial["chosen_option"] = board.OTHER_OPTION
        form = DecisionForm(
            initial=initial, user=user, options=options, people=_decision_people(case, draft)
        )
    previous_case, next_case = _neighbours(user, case)
    checklist = selectors_board.checklists_for([patient])[patient.pk]
    return render(
        request,
        "oncology/board/case_detail.html",
        {
            "case": case,
            "meeting": case.meeting,
            "patient": patient,
            "age": record_page.patient_age(patient, today),
            "ecog": record_page.latest_ecog(patient),
            "charlson": record_page.charlson(patient, today),
            "primary": primary,
            "primary_label": record_page.diagnosis_label(primary),
            "stage": record_page.stage_of(primary),
            "timeline": timeline,
            "checklist": checklist,
            "imaging": selectors_board.imaging_panel(patient=patient),
            "genomics": selectors_board.genomics_panel(patient=patient),
            "prediction": prediction,
            # The reference option (a treatment key, no patient data) may come in the URL: the
            # panel's form works without JavaScript too.
            "outcomes_panel": outcomes_panel_context(
                prediction=prediction, user=user, reference=request.GET.get("reference") or None
            ),
            "form": form,
            "history": history,
            "draft": draft,
            "amending": latest is not None and (draft is None or draft.supersedes_id is not None),
            "previous_case": previous_case,
            "next_case": next_case,
            "report_url": reverse("board:case-report", kwargs={"case_id": case.public_id}),
            "decided": case.status == CaseStatus.DECIDED,
            "withdrawn": case.status == CaseStatus.WITHDRAWN,
            **_roles(user),
        },
        status=status,
    )


@person_required
@require_GET
def case_detail(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    case = selectors_board.board_case_get(user=_user(request), public_id=case_id)
    return _case_page(request, case)


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------


def _audit_case_view(request: HttpRequest, case: BoardCase) -> None:
    """The one event of a refused write that shows the case page again."""
    audit_record(
        actor=_user(request),
        action=AuditAction.VIEW,
        object_type=board.CASE_OBJECT,
        object_id=case.public_id,
        patient_id=case.patient_id,
        institution_id=case.meeting.institution_id,
    )


@person_required
@require_POST
def decision_save(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    case = _case_for_write(request, case_id)
    if not BoardRoles.can_draft(user):
        raise PermissionDenied("This role cannot record board decisions.")
    prediction = selectors_board.case_prediction(case=case)
    options = board.decision_options(prediction)
    # The posted prediction decides the options offered (the service verifies it is the
    # patient's); the form only checks shape, so accept any posted option and let it judge.
    posted = request.POST.get("chosen_option", "")
    latest = selectors_board.decision_history(case=case)
    draft = latest[0] if latest and latest[0].status == DecisionStatus.DRAFT else None
    form = DecisionForm(
        request.POST,
        user=user,
        options=list({*options, posted} - {""}),
        people=_decision_people(case, draft),
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            board.decision_save(
                user=user,
                case=case,
                values=data,
                prediction_public_id=data["prediction"] or None,
                attendees=list(data["attendees"]),
            )
        except ValidationError as exc:
            apply_errors(form, validation_error_dict(exc))
        else:
            messages.success(request, "Draft decision saved.")
            return redirect(_case_url(case, "decision"))
    _audit_case_view(request, case)
    form.set_options(options)
    return _case_page(request, case, form=form, status=400)


@person_required
@require_POST
def decision_sign(request: HttpRequest, case_id: uuid.UUID, decision_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    case = _case_for_write(request, case_id)
    decision = selectors_board.decision_get(case=case, public_id=decision_id)
    try:
        board.decision_sign(user=user, decision=decision)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        _audit_case_view(request, case)
    else:
        messages.success(request, f"Decision version {decision.version} signed.")
    return redirect(_case_url(case, "history"))


@person_required
@require_POST
def decision_amend(
    request: HttpRequest, case_id: uuid.UUID, decision_id: uuid.UUID
) -> HttpResponse:
    user = _user(request)
    case = _case_for_write(request, case_id)
    decision = selectors_board.decision_get(case=case, public_id=decision_id)
    try:
        board.decision_amend(
            user=user, decision=decision, reason=request.POST.get("amendment_reason", "")
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        _audit_case_view(request, case)
    else:
        messages.success(request, "Amendment started: edit the new draft version and sign it.")
    return redirect(_case_url(case, "decision"))


# ---------------------------------------------------------------------------------------------
# The PDF case report
# ---------------------------------------------------------------------------------------------


@person_required
@require_GET
def case_report(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    """The case report for the patient file: the newest signed decision (else the newest
    draft, marked DRAFT on every page) with the prediction it links (else the patient's latest
    of the active model). One EXPORT event; the file name holds the case's public id only."""
    user = _user(request)
    case = selectors_board.board_case_get(
        user=user, public_id=case_id, audit_action=AuditAction.EXPORT
    )
    history = selectors_board.decision_history(case=case)
    signed = [d for d in history if d.status == DecisionStatus.SIGNED]
    decision = signed[0] if signed else (history[0] if history else None)
    prediction = decision.prediction if decision is not None and decision.prediction else None
    if prediction is None and (decision is None or not decision.model_name):
        prediction = selectors_board.case_prediction(case=case)
    pdf = case_report_pdf(
        case=case,
        decision=decision,
        prediction=prediction,
        # The protocol's plain attributes read as writable; our checklist is frozen.
        checklist=cast(ChecklistLike, selectors_board.case_checklist(case=case)),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="board-case-{case.public_id}.pdf"'
    response["Cache-Control"] = "no-store"
    return response
