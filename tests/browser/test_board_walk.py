"""A whole tumour-board session in a real browser: open the meeting, open a case, compare the
options, record and sign the decision, export the PDF; screenshots for the README."""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from genomics.models import Actionability, GenomicReport
from imaging import viewer
from imaging.services.masks import SeedParameters, mask_create_from_seed
from oncology.models_board import BoardDecision
from tests.conftest import World
from tests.imaging.mask_data import CENTRE, store_ct_with_sphere
from tests.oncology import board_data

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# The README's images: refresh them with BOARD_SCREENSHOTS_DIR=docs/screenshots; an ordinary
# run saves its screenshots outside the checkout, so running the tests leaves it unchanged.
SCREENSHOTS = Path(
    os.environ.get("BOARD_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "oncoboard-board-screenshots"
)
PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


def _ready_case(world: World) -> Any:
    """The world's patient with a complete record, on a meeting, with a prediction."""
    patient = board_data.complete_record(world.patient)
    for month in (1, 4):
        series = store_ct_with_sphere(patient)
        series.study.study_date = dt.date(2021, month, 15)
        series.study.save()
        mask_create_from_seed(
            actor=world.member,
            patient=patient,
            series=series,
            parameters=SeedParameters(seed_zyx=CENTRE),
            label="Primary tumour",
        )
    report = GenomicReport.objects.create(
        patient=patient,
        assay_name="Lung panel",
        covered_mb=1.5,
        specimen_type="primary",
        collection_date=dt.date(2021, 3, 5),
        source_format="json",
        source_sha256="0" * 64,
        kb_version="demo",
    )
    Actionability.objects.create(
        report=report,
        gene="EGFR",
        alteration="L858R",
        level="1",
        drugs=["osimertinib"],
        kb_entry_id="e",
        kb_version="demo",
    )
    board_data.active_model()
    meeting = board_data.meeting_for(world)
    case = board_data.case_for(world, meeting, predict=True)
    # A second case whose record is missing items, as most boards have one.
    board_data.case_for(world, meeting, board_data.other_patient(world))
    return case


def _shot(page: Any, name: str, *, locator: str | None = None) -> None:
    """A small PNG: the viewport (or one element), scaled to 900 px wide, 48 colours."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    raw = page.locator(locator).screenshot() if locator else page.screenshot()
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    if image.width > 900:
        image = image.resize((900, round(image.height * 900 / image.width)), Image.LANCZOS)
    image.quantize(colors=48).save(SCREENSHOTS / name, optimize=True)


def test_a_board_walks_a_case_from_the_meeting_to_the_signed_decision_and_its_pdf(
    live_server: Any, page: Any, world: World, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    case = _ready_case(world)
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "oncologist")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patients/**")

    # The meeting list, then the meeting with its case and checklist.
    page.goto(f"{base}/boards/")
    page.get_by_role("link", name="Thoracic tumour board").click()
    page.wait_for_selector(".board-case-list")
    summaries = page.locator(".checklist-summary").all_inner_texts()
    assert [t.split("·")[0].strip() for t in summaries] == [
        "Record complete: 6 of 6",
        "Record complete: 2 of 6",
    ]
    assert page.get_by_role("link", name="Upload a genomic report").count() == 1
    _shot(page, "board-meeting.png")

    # The case page, one screen: every panel is there.
    page.get_by_role(
        "link", name=f"{world.patient.family_name}, {world.patient.given_name}"
    ).click()
    page.wait_for_selector("#outcomes-panel")
    for panel in ("#summary", "#checklist", "#timeline", "#imaging", "#genomics", "#decision"):
        assert page.locator(panel).is_visible(), panel
    assert "osimertinib" in page.inner_text("#genomics")
    assert "ml" in page.inner_text("#imaging")
    page.wait_for_selector("#outcomes-chart .main-svg")
    _shot(page, "board-case.png")

    # Compare options: another reference changes the differences without a round trip.
    select = page.locator("#outcomes-reference")
    options = select.locator("option").all_inner_texts()
    assert len(options) >= 2
    select.select_option(options[1])
    # (No wait_for_function: its polling evaluates a string, which the CSP forbids.)
    expect(page.locator("[data-reference-name]").first).to_have_text(options[1])
    page.locator("#outcomes-panel h2").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -20)")
    _shot(page, "board-options.png")

    # Keyboard: Tab reaches the page's links with a visible focus ring; "d" jumps to the
    # decision form, "?" opens the shortcut list.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("d")
    assert page.evaluate("document.activeElement.id") == "decision-title"
    page.keyboard.press("?")
    assert page.locator("#shortcuts").get_attribute("open") is not None
    page.keyboard.press("?")

    # Record the decision: the first option the model compared, then sign it.
    page.select_option("#id_chosen_option", "surgery")
    page.fill("#id_plan", "Lobectomy with mediastinal node dissection.")
    page.fill("#id_rationale", "Stage IB, ECOG 1, fit for surgery; EGFR L858R for later lines.")
    page.fill("#id_dissent", "One member preferred stereotactic radiotherapy.")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_selector(".board-sign")
    page.get_by_role("button", name="Sign version 1").click()
    page.wait_for_selector(".decision-signed")
    decision = BoardDecision.objects.get(case=case)
    assert decision.status == "signed"
    assert decision.prediction is not None
    assert decision.inputs_sha256 == decision.prediction.inputs_sha256
    page.locator("#history").scroll_into_view_if_needed()
    _shot(page, "board-decision.png", locator="#history")

    # Export the PDF case report.
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF case report").click()
    file = download.value
    assert file.suggested_filename == f"board-case-{case.public_id}.pdf"
    path = tmp_path / "report.pdf"
    file.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")

    # The self-only CSP held, plotly.js included (templates/_plotly.html serves its style rules
    # as a file so it injects no <style> element).
    refused = [
        (m.text[:120], m.location.get("url", ""))
        for m in page.console_messages
        if "Content Security Policy" in m.text
    ]
    assert refused == []
