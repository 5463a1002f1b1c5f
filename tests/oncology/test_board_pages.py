"""Board pages: meetings, the case page and its panels, decisions through the forms, audit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditEvent
from genomics.models import Actionability, GenomicReport
from imaging import viewer
from imaging.services.masks import SeedParameters, mask_create_from_seed
from oncology.models import OutcomeModel, Prediction
from oncology.models_board import BoardCase, BoardDecision, Meeting
from tests.conftest import World
from tests.imaging.mask_data import CENTRE, SPHERE_ML, store_ct_with_sphere
from tests.oncology import board_data

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


@pytest.fixture
def oncologist_client(world: World) -> Client:
    c = Client()
    c.force_login(world.oncologist)
    return c


@pytest.fixture
def meeting(world: World) -> Meeting:
    return board_data.meeting_for(world)


@pytest.fixture
def case(world: World, meeting: Meeting) -> BoardCase:
    board_data.complete_record(world.patient)
    return board_data.case_for(world, meeting)


def _case_url(case: BoardCase, name: str = "board:case-detail", **extra: Any) -> str:
    return reverse(name, kwargs={"case_id": case.public_id, **extra})


def _new_events(before: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=before).order_by("id"))


def _last_event_id() -> int:
    last = AuditEvent.objects.order_by("-id").first()
    return last.id if last else 0


# --- meetings ----------------------------------------------------------------------------------


def test_the_meeting_list_shows_the_institutions_meetings_with_one_event(
    world: World, member_client: Client, meeting: Meeting
) -> None:
    before = _last_event_id()
    page = member_client.get(reverse("board:meeting-list"))
    assert page.status_code == 200
    assert meeting.title.encode() in page.content
    assert b"Schedule a meeting" not in page.content  # a clinician does not schedule
    assert [(e.action, e.object_type) for e in _new_events(before)] == [("list", "board_meeting")]


def test_an_oncologist_schedules_and_edits_a_meeting(
    world: World, oncologist_client: Client
) -> None:
    response = oncologist_client.post(
        reverse("board:meeting-create"),
        {
            "title": "Lung MDT",
            "scheduled_for": "2026-12-01T08:00",
            "location": "Room 4",
            "status": "planned",
            "attendees": [world.member.pk],
        },
    )
    meeting = Meeting.objects.get(title="Lung MDT")
    assert response.status_code == 302
    assert list(meeting.attendees.all()) == [world.member]
    response = oncologist_client.post(
        reverse("board:meeting-edit", kwargs={"meeting_id": meeting.public_id}),
        {"title": "Lung MDT", "scheduled_for": "2026-12-01T09:00", "status": "held"},
    )
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == "held"
    assert not meeting.attendees.exists()


def test_a_clinician_cannot_schedule_a_meeting(member_client: Client) -> None:
    response = member_client.post(
        reverse("board:meeting-create"),
        {"title": "X", "scheduled_for": "2026-12-01T08:00", "status": "planned"},
    )
    assert response.status_code == 403
    assert not Meeting.objects.exists()


def test_the_meeting_page_lists_visible_cases_with_their_checklist(
    world: World, member_client: Client, outsider_client: Client, case: BoardCase
) -> None:
    url = reverse("board:meeting-detail", kwargs={"meeting_id": case.meeting.public_id})
    page = member_client.get(url).content.decode()
    assert world.patient.family_name in page
    assert case.question in page
    assert "Record complete: <strong>4 of 6</strong>" in page
    assert reverse("genomics:report-create", kwargs={"public_id": world.patient.public_id}) in page
    # An outsider sees that there is a case, never whose.
    other = outsider_client.get(url).content.decode()
    assert world.patient.family_name not in other
    assert world.patient.mrn not in other
    assert "1 other case on this meeting belongs to care teams you are not in" in other


def test_the_meeting_page_query_count_does_not_grow_with_its_cases(
    world: World, member_client: Client, meeting: Meeting
) -> None:
    board_data.case_for(world, meeting)
    url = reverse("board:meeting-detail", kwargs={"meeting_id": meeting.public_id})
    with CaptureQueriesContext(connection) as one:
        assert member_client.get(url).status_code == 200
    for _ in range(4):
        board_data.case_for(world, meeting, board_data.other_patient(world))
    with CaptureQueriesContext(connection) as five:
        assert member_client.get(url).status_code == 200
    assert len(five.captured_queries) == len(one.captured_queries)


def test_a_clinician_adds_a_case_of_their_team(
    world: World, member_client: Client, meeting: Meeting
) -> None:
    url = reverse("board:case-add", kwargs={"meeting_id": meeting.public_id})
    form = member_client.get(url)
    assert str(world.patient.public_id).encode() in form.content
    response = member_client.post(
        url, {"patient": str(world.patient.public_id), "question": "Adjuvant therapy?"}
    )
    case = BoardCase.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _case_url(case)
    assert case.question == "Adjuvant therapy?"


def test_an_outsider_cannot_add_a_patient_of_another_team(
    world: World, outsider_client: Client, meeting: Meeting
) -> None:
    url = reverse("board:case-add", kwargs={"meeting_id": meeting.public_id})
    assert str(world.patient.public_id).encode() not in outsider_client.get(url).content
    response = outsider_client.post(url, {"patient": str(world.patient.public_id), "question": "?"})
    assert response.status_code == 404
    assert not BoardCase.objects.exists()


# --- the case page -------------------------------------------------------------------------------


def test_the_case_page_shows_every_panel_with_one_event_and_computes_nothing(
    world: World, member_client: Client, case: BoardCase
) -> None:
    before = _last_event_id()
    page = member_client.get(_case_url(case))
    assert page.status_code == 200
    html = page.content.decode()
    for anchor in (
        "summary",
        "checklist",
        "timeline",
        "imaging",
        "genomics",
        "outcomes-panel",
        "decision",
        "history",
        "shortcuts",
    ):
        assert f'id="{anchor}"' in html, anchor
    assert "Record complete: 4 of 6" in html
    assert "No prediction has been made for this patient yet" in html
    events = _new_events(before)
    assert [(e.action, e.object_type, e.patient_id) for e in events] == [
        ("view", "board_case", world.patient.pk)
    ]
    assert not Prediction.objects.exists()  # never computed on GET


def test_an_outsider_gets_404_for_the_case_page_and_its_writes(
    outsider_client: Client, case: BoardCase
) -> None:
    assert outsider_client.get(_case_url(case)).status_code == 404
    for name in ("board:case-predict", "board:decision-save", "board:case-withdraw"):
        assert outsider_client.post(_case_url(case, name), {}).status_code == 404
    assert not AuditEvent.objects.filter(actor_username="outsider").exists()


def test_text_fields_render_escaped(
    world: World, member_client: Client, oncologist_client: Client, meeting: Meeting
) -> None:
    board_data.complete_record(world.patient)
    case = BoardCase.objects.create(meeting=meeting, patient=world.patient, question=XSS)
    member_client.post(
        _case_url(case, "board:decision-save"),
        {
            "chosen_option": "other",
            "plan": XSS,
            "rationale": XSS,
            "dissent": XSS,
            "guest_attendees": XSS,
        },
    )
    assert BoardDecision.objects.get().plan == XSS
    Meeting.objects.filter(pk=meeting.pk).update(title=XSS, guest_attendees=XSS)
    pages = [
        member_client.get(_case_url(case)),
        member_client.get(
            reverse("board:meeting-detail", kwargs={"meeting_id": meeting.public_id})
        ),
        member_client.get(reverse("board:meeting-list")),
    ]
    for page in pages:
        html = page.content.decode()
        assert XSS not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_the_imaging_panel_measures_each_mask_and_the_change_across_studies(
    world: World, member_client: Client, case: BoardCase
) -> None:
    for day in (1, 2):
        series = store_ct_with_sphere(world.patient)
        series.study.study_date = dt.date(2022, day, 1)
        series.study.save()
        mask_create_from_seed(
            actor=world.member,
            patient=world.patient,
            series=series,
            parameters=SeedParameters(seed_zyx=CENTRE),
        )
    from oncology.selectors_board import imaging_panel

    rows = imaging_panel(patient=world.patient)
    assert [r.study_date for r in rows] == [dt.date(2022, 1, 1), dt.date(2022, 2, 1)]
    first, second = rows[0].masks[0], rows[1].masks[0]
    assert first.measurement["volume_ml"] == pytest.approx(SPHERE_ML, rel=0.05)
    assert first.measurement["longest_diameter_mm"] == pytest.approx(17.0, abs=0.6)
    assert first.change is None  # the baseline
    assert second.change == {
        "diameter_mm": 0.0,
        "diameter_percent": 0.0,
        "volume_ml": 0.0,
        "volume_percent": 0.0,
    }
    html = member_client.get(_case_url(case)).content.decode()
    assert "Record complete: 5 of 6" in html
    assert (
        reverse(
            "imaging:viewer",
            kwargs={"public_id": world.patient.public_id, "series_id": rows[0].series.public_id},
        )
        in html
    )


def test_the_genomics_panel_lists_actionable_alterations_by_level(
    world: World, member_client: Client, case: BoardCase
) -> None:
    report = GenomicReport.objects.create(
        patient=world.patient,
        assay_name="Lung panel",
        covered_mb=1.5,
        specimen_type="primary",
        collection_date=dt.date(2021, 3, 5),
        source_format="vcf",
        source_sha256="0" * 64,
    )
    common = {"report": report, "kb_entry_id": "e", "kb_version": "2025.1"}
    Actionability.objects.create(
        gene="KRAS", alteration="G12C", level="3A", drugs=["sotorasib"], **common
    )
    Actionability.objects.create(
        gene="EGFR", alteration="L858R", level="1", drugs=["osimertinib"], **common
    )
    Actionability.objects.create(gene="BRAF", alteration="V600E", level="", **common)
    from oncology.selectors_board import genomics_panel

    panel = genomics_panel(patient=world.patient)
    assert [(a.gene, a.level) for a in panel.actionable] == [("EGFR", "1"), ("KRAS", "3A")]
    assert panel.elsewhere == 1
    html = member_client.get(_case_url(case)).content.decode()
    assert "osimertinib" in html
    assert "1 further match known only in other tumour types" in html


# --- decisions through the pages -----------------------------------------------------------------


def test_a_board_session_through_the_forms(
    world: World,
    member_client: Client,
    oncologist_client: Client,
    case: BoardCase,
) -> None:
    model: OutcomeModel = board_data.active_model()
    assert member_client.post(_case_url(case, "board:case-predict")).status_code == 302
    prediction = Prediction.objects.get()
    assert prediction.model == model
    html = member_client.get(_case_url(case)).content.decode()
    assert f'value="{prediction.public_id}"' in html  # the form carries the prediction shown
    response = member_client.post(
        _case_url(case, "board:decision-save"),
        {
            "prediction": str(prediction.public_id),
            "chosen_option": "surgery",
            "plan": "Lobectomy",
            "rationale": "Fit, stage IB",
            "attendees": [world.oncologist.pk, world.member.pk],
        },
    )
    assert response.status_code == 302
    draft = BoardDecision.objects.get()
    assert draft.inputs_sha256 == prediction.inputs_sha256
    sign = _case_url(case, "board:decision-sign", decision_id=draft.public_id)
    assert member_client.post(sign).status_code == 403  # a clinician does not sign
    assert oncologist_client.post(sign).status_code == 302
    draft.refresh_from_db()
    assert draft.status == "signed"
    html = member_client.get(_case_url(case)).content.decode()
    assert "Amend the decision" in html
    assert "Sign version" not in html
    amend = _case_url(case, "board:decision-amend", decision_id=draft.public_id)
    assert member_client.post(amend, {"amendment_reason": "New CT"}).status_code == 302
    assert list(case.decisions.values_list("version", "status")) == [
        (2, "draft"),
        (1, "signed"),
    ]


def test_a_refused_decision_shows_the_errors_with_one_event(
    world: World, member_client: Client, case: BoardCase
) -> None:
    before = _last_event_id()
    response = member_client.post(
        _case_url(case, "board:decision-save"), {"chosen_option": "other", "plan": ""}
    )
    assert response.status_code == 400
    assert b"Please correct" in response.content
    assert [(e.action, e.object_type) for e in _new_events(before)] == [("view", "board_case")]
    assert not BoardDecision.objects.exists()


def test_a_prediction_of_another_patient_is_refused_by_the_form(
    world: World, member_client: Client, case: BoardCase
) -> None:
    board_data.active_model()
    other = board_data.complete_record(board_data.other_patient(world))
    from oncology.services.outcome_predictions import prediction_create

    foreign = prediction_create(user=world.member, patient_public_id=other.public_id)
    response = member_client.post(
        _case_url(case, "board:decision-save"),
        {
            "prediction": str(foreign.public_id),
            "chosen_option": "other",
            "plan": "p",
            "rationale": "r",
        },
    )
    assert response.status_code == 400
    assert b"That prediction is not one of this patient" in response.content
    assert not BoardDecision.objects.exists()


def test_a_coordinator_reorders_and_withdraws_cases(
    world: World, meeting: Meeting, case: BoardCase
) -> None:
    second = board_data.case_for(world, meeting, board_data.other_patient(world))
    client = Client()
    client.force_login(board_data.coordinator(world))
    client.post(_case_url(second, "board:case-move"), {"direction": "up"})
    assert list(meeting.cases.order_by("position").values_list("pk", flat=True)) == [
        second.pk,
        case.pk,
    ]
    client.post(_case_url(case, "board:case-withdraw"))
    case.refresh_from_db()
    assert case.status == "withdrawn"


# --- the PDF case report -------------------------------------------------------------------------


def test_the_case_report_is_an_audited_attachment_named_by_the_case_only(
    world: World, member_client: Client, oncologist_client: Client, case: BoardCase
) -> None:
    from oncology.services import board

    draft = board.decision_save(
        user=world.member,
        case=case,
        values={"chosen_option": "other", "plan": "Lobectomy", "rationale": "Fit"},
    )
    board.decision_sign(user=world.oncologist, decision=draft)
    before = _last_event_id()
    response = member_client.get(_case_url(case, "board:case-report"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition == f'attachment; filename="board-case-{case.public_id}.pdf"'
    assert world.patient.mrn not in disposition
    assert world.patient.family_name not in disposition
    assert response.content.startswith(b"%PDF")
    events = _new_events(before)
    assert [(e.action, e.object_type, e.object_id, e.patient_id) for e in events] == [
        ("export", "board_case", str(case.public_id), world.patient.pk)
    ]


def test_the_case_page_query_count_does_not_grow_with_the_record(
    world: World, member_client: Client, case: BoardCase
) -> None:
    from oncology.models import FollowUp, LabResult

    url = _case_url(case)
    with CaptureQueriesContext(connection) as small:
        assert member_client.get(url).status_code == 200
    for day in range(1, 21):
        LabResult.objects.create(
            patient=world.patient,
            code="718-7",
            value=120 + day,
            unit="g/L",
            collected_on=dt.date(2021, 4, day),
        )
        FollowUp.objects.create(
            patient=world.patient,
            visit_date=dt.date(2021, 5, day),
            disease_status="stable",
            ecog=1,
        )
    with CaptureQueriesContext(connection) as large:
        assert member_client.get(url).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_case_page_query_count_does_not_grow_with_the_meetings_cases(
    world: World, member_client: Client, case: BoardCase
) -> None:
    # The previous/next links read the meeting's cases: one query, not one per case (found by
    # the load test, benchmarks/load).
    url = _case_url(case)
    with CaptureQueriesContext(connection) as one:
        assert member_client.get(url).status_code == 200
    for _ in range(4):
        board_data.case_for(world, case.meeting, board_data.other_patient(world))
    with CaptureQueriesContext(connection) as five:
        page = member_client.get(url)
    assert page.status_code == 200
    assert page.context["next_case"] is not None
    assert len(five.captured_queries) == len(one.captured_queries)


def test_the_decision_form_chooses_nothing_by_default_and_lists_the_people_concerned(
    world: World, member_client: Client, case: BoardCase
) -> None:
    form = member_client.get(_case_url(case)).context["form"]
    assert form["chosen_option"].value() is None
    assert form.fields["chosen_option"].choices[0] == ("", "Choose the option the board chose")
    people = set(form.fields["attendees"].queryset)
    assert people == {world.member, world.oncologist}  # not the outsider of another team
    response = member_client.post(
        _case_url(case, "board:decision-save"), {"plan": "p", "rationale": "r"}
    )
    assert response.status_code == 400
    assert not BoardDecision.objects.exists()
