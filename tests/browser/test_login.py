from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clinician_signs_in_and_reaches_the_patient_list(
    live_server: Any, page: Any, world: World
) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "correct-horse-battery-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/patients/**")
    assert page.locator("h1").first.inner_text().strip().startswith("Patients")
    errors = [m.text for m in page.console_messages if m.type == "error"]
    assert errors == [], errors  # a CSP violation (inline script/style) would show here
