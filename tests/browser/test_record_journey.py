"""A clinician's path through the record in a real browser: search, open, read, correct."""

from __future__ import annotations

from typing import Any

import pytest

from oncology.models import LabResult
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "correct-horse-battery-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patients/**")


def test_a_clinician_finds_a_patient_reads_the_timeline_and_is_told_about_a_bad_lab_value(
    live_server: Any, page: Any, world: World
) -> None:
    base = live_server.url
    _sign_in(page, base)

    page.fill("#id_q", world.patient.mrn)
    page.click("form.search button[type=submit]")
    page.wait_for_load_state()
    assert world.patient.mrn not in page.url  # searched by POST, not in the address bar
    page.click(f"text={world.patient.family_name}")
    page.wait_for_url(f"{base}/patients/{world.patient.public_id}/")
    assert "Timeline" in page.content()
    assert "C34.1" in page.locator("body").inner_text()

    page.goto(f"{base}/patients/{world.patient.public_id}/labs/new/")
    page.select_option("#id_code", "718-7")  # haemoglobin, g/dL
    page.fill("#id_value", "250")
    page.fill("#id_unit", "g/dL")
    page.fill("#id_collected_on", "2021-03-01")
    page.click("main form button.primary")
    page.wait_for_load_state()
    errors = page.locator(".field-errors").all_inner_texts()
    assert any("outside the possible range" in e for e in errors), errors
    assert LabResult.objects.count() == 0  # nothing written

    page.fill("#id_value", "12.5")
    page.click("main form button.primary")
    page.wait_for_url(f"{base}/patients/{world.patient.public_id}/**")
    assert LabResult.objects.get().value == 12.5
    console_errors = [m.text for m in page.console_messages if m.type == "error"]
    assert console_errors == [], console_errors
