"""The PDF case report for the patient file, read back from its bytes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from oncology.board_panel import outcomes_panel_context
from oncology.board_report import WATERMARK, case_report_pdf
from oncology.models import Comorbidity, PerformanceStatus, Prediction
from oncology.models_board import BoardCase, BoardDecision, Meeting
from oncology.selectors_board import Checklist, ChecklistItem
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from oncology.services.outcome_predictions import prediction_create
from tests.conftest import World
from tests.oncology.pdf_text import pdf_text

pytestmark = pytest.mark.django_db

PAYLOAD = 'Plan <b>&amp; "not bold"</b> & <font size=40>big</font>'
GENERATED = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _prediction(world: World) -> Prediction:
    model = outcome_model_train(
        source="simulated",
        kind="cox",
        name="report-cox",
        patients=800,
        splits=1,
        band_replicates=10,
    )
    outcome_model_set_status(model=model, status="validated")
    outcome_model_set_status(model=model, status="active")
    PerformanceStatus.objects.create(patient=world.patient, assessed_on=dt.date(2021, 3, 1), ecog=1)
    Comorbidity.objects.create(patient=world.patient, condition="diabetes_uncomplicated")
    return prediction_create(
        user=world.member, patient_public_id=world.patient.public_id, bands=True
    )


def _case(world: World) -> BoardCase:
    world.patient.given_name, world.patient.family_name = "Łucja", "Żółć-O'Brien <i>"
    world.patient.save()
    meeting = Meeting.objects.create(
        institution=world.institution,
        title="Thoracic tumour board",
        scheduled_for=dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC),
    )
    return BoardCase.objects.create(
        meeting=meeting, patient=world.patient, question="Surgery or chemoradiotherapy? <b>&"
    )


def _decision(case: BoardCase, world: World, *, signed: bool, option: str) -> BoardDecision:
    decision = BoardDecision.objects.create(
        case=case,
        version=1,
        status="signed" if signed else "draft",
        chosen_option=option,
        plan=PAYLOAD,
        rationale="Fit & willing;\nsecond line <br/> kept",
        dissent="Dr X: prefers <i>radiotherapy</i>",
        guest_attendees="Nurse Ann (specialist nurse)",
        signed_by=world.oncologist if signed else None,
        signed_at=timezone.now() if signed else None,
    )
    decision.attendees.add(world.member)
    return decision


def _flat(pdf: bytes) -> str:
    return " ".join(pdf_text(pdf).split())


def test_a_signed_report_carries_patient_options_chart_and_decision_as_typed(
    world: World,
) -> None:
    prediction = _prediction(world)
    case = _case(world)
    panel = outcomes_panel_context(prediction=prediction, user=world.member)
    judged = [r for r in panel["options"] if r.applicable]
    decision = _decision(case, world, signed=True, option=judged[1].key)
    checklist = Checklist(
        items=[
            ChecklistItem("staging", "Staging", True, "Stage IB (pathological)"),
            ChecklistItem("genomics", "Genomics", False, "No genomic report <none>"),
        ]
    )
    pdf = case_report_pdf(
        case=case,
        decision=decision,
        prediction=prediction,
        checklist=checklist,
        generated_at=GENERATED,
    )
    assert pdf.startswith(b"%PDF-")
    text = _flat(pdf)
    for expected in (
        "North Hospital",
        "Thoracic tumour board",
        "2026-11-24",
        "Żółć-O'Brien <i>, Łucja",  # any European name, markup printed as typed
        world.patient.mrn,
        world.patient.birth_date.isoformat(),
        "Surgery or chemoradiotherapy? <b>&",
        "No genomic report <none>",
        "MISSING",
        'Plan <b>&amp; "not bold"</b> & <font size=40>big</font>',
        "Fit & willing;",
        "second line <br/> kept",
        "Dr X: prefers <i>radiotherapy</i>",
        "Nurse Ann (specialist nurse)",
        f"{prediction.model.name} version {prediction.model.version}",
        prediction.inputs_sha256[:40],
        "associational",
    ):
        assert expected in text, expected
    assert WATERMARK not in text
    assert "NOT SIGNED" not in text
    # The option table: every judged option with the page's own numbers and intervals.
    for row in judged:
        assert row.key in text
        assert row.survival_5y.text in text
        assert row.survival_5y.interval in text
    # Differences are taken from the chosen option.
    assert f"Difference from {judged[1].key}" in text
    # The survival chart is an embedded image.
    assert pdf.count(b"/Subtype /Image") >= 1
    # Same inputs, same bytes.
    again = case_report_pdf(
        case=case,
        decision=decision,
        prediction=prediction,
        checklist=checklist,
        generated_at=GENERATED,
    )
    assert again == pdf


def test_an_unsigned_decision_is_watermarked_draft_on_every_page(world: World) -> None:
    case = _case(world)
    decision = _decision(case, world, signed=False, option="other")
    pdf = case_report_pdf(case=case, decision=decision, prediction=None, generated_at=GENERATED)
    text = pdf_text(pdf)
    pages = pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ")
    assert text.count(WATERMARK) == pages >= 1
    assert "NOT SIGNED (draft)" in _flat(pdf)
    assert "No prediction was made for this case." in _flat(pdf)


def test_no_decision_yet_is_a_draft_too(world: World) -> None:
    pdf = case_report_pdf(case=_case(world), decision=None, prediction=None, generated_at=GENERATED)
    text = _flat(pdf)
    assert WATERMARK in text
    assert "No decision recorded yet." in text


def test_an_abstained_prediction_prints_the_reason_and_no_numbers(world: World) -> None:
    world.patient.birth_date = dt.date(1891, 1, 1)  # 130 at diagnosis; trained on 30-90
    world.patient.save()
    prediction = _prediction(world)
    assert prediction.output["abstained"] is True
    pdf = case_report_pdf(
        case=_case(world), decision=None, prediction=prediction, generated_at=GENERATED
    )
    text = _flat(pdf)
    assert "No estimate for this patient." in text
    assert "outside the applicability domain" in text
    assert b"/Subtype /Image" not in pdf
    assert "5-year survival" not in text
