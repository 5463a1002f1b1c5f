"""Stored XSS: attack strings put into every free-text field of the record, the board, genomic
reports, radiomics runs and DICOM person-name and description tags come out escaped on every
page that shows them. Django's templates escape by default and no template uses |safe or
autoescape off (test_templates_never_switch_escaping_off); these tests show that each field
really passes through that escaping on its pages, and that no page emits the payload raw.

Values are written straight to the rows (queryset.update), as if a looser channel had let them
in: the pages must not rely on input validation to be safe."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
import pydicom.data
import pytest
from django.db import models
from django.test import Client
from django.urls import reverse

from genomics.models import GenomicReport
from imaging.models import RadiomicsRun, Series, Study
from imaging.services.ingest import STORED, UNMATCHED, dicom_ingest
from oncology.models import RECORD_SECTIONS, Diagnosis, Patient
from oncology.models_board import BoardCase, BoardDecision, Meeting
from oncology.services import board
from tests.conftest import World
from tests.genomics.test_app_views import make_report
from tests.oncology.board_data import case_for, meeting_for
from tests.oncology.pdf_text import pdf_text

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
# What must never appear in a page: the live markup of the payloads.
RAW = ["<script>alert(1)", "<img src=x onerror", 'href="javascript:', "src='javascript:"]
# What shows the field was rendered (and escaped).
ESCAPED = ["&lt;script&gt;alert(1)", "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"]

# Fields that are codes looked up in code lists or keys, not free text.
NOT_FREE_TEXT = {"mrn", "external_id", "research_id", "input_key", "settings_hash", "mask_id"}


def _payload(field: models.Field, index: int) -> str:
    text = [SCRIPT, IMG, f"{JS_URL} {SCRIPT}"][index % 3]
    limit = getattr(field, "max_length", None) or len(text)
    return text[:limit]


def _poison(model: type[models.Model], rows: models.QuerySet[Any]) -> list[str]:
    """Every free-text field of `rows` set to a payload; returns the field names."""
    names = []
    values: dict[str, str] = {}
    for index, field in enumerate(model._meta.concrete_fields):
        if not isinstance(field, models.CharField | models.TextField):
            continue
        if field.choices or field.name in NOT_FREE_TEXT or field.name.endswith(("sha256", "_uid")):
            continue
        values[field.name] = _payload(field, index)
        names.append(field.name)
    if values:
        rows.update(**values)
    return names


def _assert_escaped(html: str, where: str, *, shown: bool = True) -> None:
    for raw in RAW:
        assert raw not in html, f"{where}: {raw!r} is emitted unescaped"
    assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", html, re.I), where
    if shown:
        assert any(e in html for e in ESCAPED), f"{where}: no payload shown at all"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"


def test_templates_never_switch_escaping_off() -> None:
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        assert "|safe" not in text, path
        assert "autoescape off" not in text, path
    for package in ("core", "oncology", "genomics", "imaging"):
        for path in (ROOT / package).rglob("*.py"):
            assert "mark_safe(" not in path.read_text(), path


def test_record_text_fields_render_escaped_on_the_patient_pages(
    world: World, member_client: Client
) -> None:
    patient_fields = _poison(Patient, Patient.objects.filter(pk=world.patient.pk))
    assert {"given_name", "family_name"} <= set(patient_fields)
    for model in {Diagnosis, *RECORD_SECTIONS.values()}:
        _poison(model, model.objects.filter(patient=world.patient))
    public_id = world.patient.public_id
    for name in ("patient-detail", "patient-edit"):
        url = reverse(f"oncology:{name}", kwargs={"public_id": public_id})
        response = member_client.get(url)
        assert response.status_code == 200, name
        _assert_escaped(response.content.decode(), name)
    listing = member_client.get(reverse("oncology:patient-list")).content.decode()
    _assert_escaped(listing, "patient-list")


def test_board_texts_render_escaped_on_the_meeting_and_case_pages(
    world: World, member_client: Client
) -> None:
    meeting = meeting_for(world)
    case = case_for(world, meeting)
    board.decision_save(
        user=world.oncologist,
        case=case,
        values={"chosen_option": "other", "plan": "Plan", "rationale": "Why"},
    )
    assert "title" in _poison(Meeting, Meeting.objects.filter(pk=meeting.pk))
    assert "question" in _poison(BoardCase, BoardCase.objects.filter(pk=case.pk))
    decision_fields = _poison(BoardDecision, BoardDecision.objects.filter(case=case))
    assert {"plan", "rationale", "dissent"} <= set(decision_fields)
    _poison(Patient, Patient.objects.filter(pk=world.patient.pk))
    pages = {
        "meeting-list": reverse("board:meeting-list"),
        "meeting-detail": reverse("board:meeting-detail", kwargs={"meeting_id": meeting.public_id}),
        "case-detail": reverse("board:case-detail", kwargs={"case_id": case.public_id}),
    }
    for where, url in pages.items():
        response = member_client.get(url)
        assert response.status_code == 200, where
        _assert_escaped(response.content.decode(), where)


def test_genomic_report_fields_render_escaped(world: World, member_client: Client) -> None:
    report = make_report(world)
    fields = _poison(GenomicReport, GenomicReport.objects.filter(pk=report.pk))
    assert {"assay_name", "laboratory", "specimen_site"} <= set(fields)
    kwargs = {"public_id": world.patient.public_id}
    for where, url in {
        "report-list": reverse("genomics:report-list", kwargs=kwargs),
        "report-detail": reverse(
            "genomics:report-detail", kwargs={**kwargs, "report_id": report.public_id}
        ),
    }.items():
        response = member_client.get(url)
        assert response.status_code == 200, where
        _assert_escaped(response.content.decode(), where)


def _dicom_with_payloads(patient_id: str) -> bytes:
    ds = pydicom.dcmread(Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm")
    ds.PatientID = patient_id
    ds.PatientName = SCRIPT
    ds.ReferringPhysicianName = IMG
    ds.StudyDescription = SCRIPT
    ds.SeriesDescription = IMG
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _ingest(world: World, patient_id: str) -> str:
    result = dicom_ingest(
        actor=None,
        institution=world.institution,
        data=_dicom_with_payloads(patient_id),
        filename="xss.dcm",
        channel="command",
    )
    return result.status


def test_dicom_names_and_descriptions_render_escaped_on_imaging_and_radiomics_pages(
    world: World, member_client: Client
) -> None:
    assert _ingest(world, world.patient.mrn) == STORED
    series = Series.objects.get(study__patient=world.patient)
    study = Study.objects.get(patient=world.patient)
    RadiomicsRun.objects.create(
        patient=world.patient,
        series=series,
        mask_id="m1",
        mask_label=SCRIPT,
        preset="ibsi-A",
        settings_hash="0" * 64,
        input_key="1" * 64,
        features=[{"feature": "stat_mean", "ibsi_code": "Q4LE", "value": 1.0}],
    )
    run = RadiomicsRun.objects.get()
    kwargs = {"public_id": world.patient.public_id}
    pages = {
        "study-list": reverse("imaging:study-list", kwargs=kwargs),
        "viewer": reverse("imaging:viewer", kwargs={**kwargs, "series_id": series.public_id}),
        "radiomics": reverse("imaging:radiomics", kwargs=kwargs),
        "radiomics-run": reverse(
            "imaging:radiomics-run", kwargs={**kwargs, "run_id": run.public_id}
        ),
    }
    for where, url in pages.items():
        response = member_client.get(url)
        assert response.status_code == 200, where
        _assert_escaped(response.content.decode(), where)
    # The description tags are stored as sent and shown, escaped, by the study list.
    assert (study.description, series.description) == (SCRIPT, IMG)
    listing = member_client.get(pages["study-list"]).content.decode()
    assert all(escaped in listing for escaped in ESCAPED)


def test_an_unmatched_dicom_with_payload_names_renders_escaped_in_the_holding_queue(
    world: World,
) -> None:
    assert _ingest(world, "NO-SUCH-MRN") == UNMATCHED
    client = Client()
    world.member.role = "data_manager"
    world.member.save()
    client.force_login(world.member)
    response = client.get(reverse("imaging:queue"))
    assert response.status_code == 200
    _assert_escaped(response.content.decode(), "unmatched queue", shown=False)


def test_the_board_report_pdf_takes_markup_in_every_text_as_plain_text(
    world: World, member_client: Client
) -> None:
    meeting = meeting_for(world)
    case = case_for(world, meeting)
    board.decision_save(
        user=world.oncologist,
        case=case,
        values={"chosen_option": "other", "plan": "Plan", "rationale": "Why"},
    )
    _poison(Meeting, Meeting.objects.filter(pk=meeting.pk))
    _poison(BoardCase, BoardCase.objects.filter(pk=case.pk))
    _poison(BoardDecision, BoardDecision.objects.filter(case=case))
    _poison(Patient, Patient.objects.filter(pk=world.patient.pk))
    response = member_client.get(reverse("board:case-report", kwargs={"case_id": case.public_id}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    assert "<script>alert(1)</script>" in text  # shown as the text it is
