"""The outcomes panel in a real browser: the chart, the reference switch, keyboard focus and
projector mode."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from oncology.board_panel import outcomes_panel_context
from oncology.models import Comorbidity, PerformanceStatus
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from oncology.services.outcome_predictions import prediction_create
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _setup(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ROOT_URLCONF = "tests.browser.panel_urls"


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", "correct-horse-battery-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patients/**")


def _cells(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        "#outcomes-differences td[data-diff-option][data-diff-metric='rmst']",
        "tds => Object.fromEntries(tds.map(td => [td.dataset.diffOption, td.textContent.trim()]))",
    )


def test_the_panel_draws_every_option_switches_reference_and_goes_projector(
    live_server: Any, page: Any, world: World, tmp_path: Path
) -> None:
    model = outcome_model_train(
        source="simulated",
        kind="cox",
        name="browser-cox",
        patients=800,
        splits=1,
        band_replicates=10,
    )
    outcome_model_set_status(model=model, status="validated")
    outcome_model_set_status(model=model, status="active")
    PerformanceStatus.objects.create(patient=world.patient, assessed_on=dt.date(2021, 3, 1), ecog=1)
    Comorbidity.objects.create(patient=world.patient, condition="diabetes_uncomplicated")
    prediction = prediction_create(
        user=world.member, patient_public_id=world.patient.public_id, bands=True
    )
    judged = [o["option"] for o in prediction.output["options"] if o.get("applicable", True)]
    base = live_server.url
    _sign_in(page, base)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{base}/test-only/outcomes-panel/{prediction.public_id}/")
    page.wait_for_selector("#outcomes-chart[data-rendered=normal]")
    traces = page.evaluate(
        "() => document.getElementById('outcomes-chart').data"
        ".map(t => [t.meta.option, t.meta.role])"
    )
    curves = [option for option, role in traces if role == "curve"]
    assert curves == judged  # one curve per option the model can judge
    assert sum(role == "band" for _, role in traces) == 2 * len(judged)  # lower + upper
    assert page.locator("#outcomes-chart .scatterlayer .trace").count() == len(traces)
    page.screenshot(path=str(tmp_path / "outcomes-panel.png"), full_page=True)

    # The reference select: the difference column follows it without a round trip.
    assert _cells(page)[judged[0]] == "reference"
    new_ref = judged[2]
    page.focus("#outcomes-reference")
    page.select_option("#outcomes-reference", new_ref)
    page.wait_for_selector(f"#outcomes-differences[data-reference='{new_ref}']")
    cells = _cells(page)
    assert cells[new_ref] == "reference"
    server = outcomes_panel_context(prediction=prediction, user=world.member, reference=new_ref)
    row = next(r for r in server["options"] if r.key == judged[0])
    assert (
        cells[judged[0]] == f"{row.differences['rmst'].text} ({row.differences['rmst'].interval})"
    )
    assert page.inner_text("[data-reference-name]") == new_ref
    # The no-script submit button is hidden once the script runs.
    assert page.locator("[data-outcomes-reference-form] button").is_hidden()

    # Keyboard: the explanations open from the keyboard, focus is visible.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => document.activeElement.closest('details, table, form, .table-wrap') !== null"
    )
    assert focused
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.focus("#outcomes-table details.explain summary")
    page.keyboard.press("Enter")
    assert page.locator("#outcomes-table details.explain").first.get_attribute("open") is not None

    # Projector mode: toggled from the header, applied to the chart, remembered on reload.
    toggle = page.locator("[data-projector-toggle]")
    assert toggle.is_visible()
    before = page.evaluate("() => getComputedStyle(document.body).fontSize")
    toggle.click()
    page.wait_for_selector("#outcomes-chart[data-rendered=projector]")
    assert page.evaluate("() => document.documentElement.classList.contains('projector')")
    assert toggle.get_attribute("aria-pressed") == "true"
    after = page.evaluate("() => getComputedStyle(document.body).fontSize")
    assert float(after.rstrip("px")) > float(before.rstrip("px"))
    widths = page.evaluate("() => document.getElementById('outcomes-chart').layout.font.size")
    assert widths == 24
    page.reload()
    page.wait_for_selector("#outcomes-chart[data-rendered=projector]")
    assert page.evaluate("() => document.documentElement.classList.contains('projector')")
    page.screenshot(path=str(tmp_path / "outcomes-panel-projector.png"), full_page=True)
    toggle = page.locator("[data-projector-toggle]")
    toggle.click()
    page.wait_for_selector("#outcomes-chart[data-rendered=normal]")

    # The help page the panel links to.
    page.click("text=How the models were built and validated, and where they fail")
    page.wait_for_selector("h1#help-title")
    assert page.locator("#help-validation tbody tr").count() >= 3
    page.screenshot(path=str(tmp_path / "help-outcome-models.png"), full_page=True)

    assert errors == []
    blocked = [m.text for m in page.console_messages if "Content Security Policy" in m.text]
    assert blocked == []
