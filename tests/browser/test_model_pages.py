"""The outcome-model page in Chromium: the calibration plots draw with the locally served
plotly.js under the self-only CSP (no console error), the status form works, and the
closed-loop figure shows the groups the server computed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oncology.models import OutcomeModel
from oncology.services.outcome_models import outcome_model_train
from tests.conftest import World
from tests.oncology.test_outcome_pages import _hand_case, _plain_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _sign_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/patients/**")


def test_an_oncologist_reads_a_model_page_and_validates_the_version(
    live_server: Any, page: Any, world: World, tmp_path: Path
) -> None:
    model = outcome_model_train(
        source="simulated", kind="cox", name="sim-cox", patients=800, splits=1, seed=0
    )
    _sign_in(page, live_server, "oncologist")
    page.click("nav.topnav >> text=Outcome models")
    page.click(f"a[href='/outcome-models/sim-cox/{model.version}/']")
    figure = page.locator("[data-figure='training-calibration-figure']")
    figure.locator("xpath=self::*[@data-rendered='yes']").wait_for(timeout=15000)
    assert figure.locator(".scatterlayer .point").count() == 1  # one validation split
    page.screenshot(path=str(tmp_path / "model-page.png"), full_page=True)
    page.select_option("#id_status", "validated")
    page.click("text=Change status")
    page.wait_for_selector(".message-success")
    assert page.locator("#model-status").inner_text().strip() == "Validated"
    model.refresh_from_db()
    assert model.status == "validated"
    errors = [m.text for m in page.console_messages if m.type == "error"]
    assert errors == [], errors  # a CSP violation (inline script or style) would show here


def test_the_closed_loop_figure_draws_the_groups(
    live_server: Any, page: Any, world: World, tmp_path: Path
) -> None:
    model: OutcomeModel = _plain_model()
    _hand_case(world, model)
    _sign_in(page, live_server, "member")
    page.goto(f"{live_server.url}/outcome-models/{model.name}/{model.version}/")
    figure = page.locator("[data-figure='closed-loop-figure']")
    figure.locator("xpath=self::*[@data-rendered='yes']").wait_for(timeout=15000)
    # 1 year: two groups; 2 years: the one group followed long enough
    assert figure.locator(".scatterlayer .point").count() == 3
    page.locator("#closed-loop").screenshot(path=str(tmp_path / "closed-loop.png"))
    errors = [m.text for m in page.console_messages if m.type == "error"]
    assert errors == [], errors
