"""Lung screening in a real browser, with the REAL screening library (no double): a synthetic
chest CT with inserted nodules is screened (the job runs when the request commits, eager Celery
here; tests/integration runs it on a worker), then a clinician opens the worklist, a finding in
the viewer (the slice of its centre, a marker on it) and confirms it there.

Screenshots: SCREENING_SCREENSHOTS_DIR=docs/screenshots refreshes the docs' images; an ordinary
run saves them outside the checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from imaging import viewer
from imaging.models import Finding, Mask, ScreeningRun
from imaging.selectors_screening import screening_patients
from imaging.services.screening import screening_batch_create
from tests.conftest import World
from tests.imaging.screening_data import chest_ct_with_nodules, store_ct

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOTS = Path(
    os.environ.get("SCREENING_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "oncoboard-screening-screenshots"
)
PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patients/**")


def test_a_clinician_reviews_a_screening_finding_from_the_worklist_in_the_viewer(
    live_server: Any, page: Any, world: World
) -> None:
    hu, spacing, origin, _ = chest_ct_with_nodules()
    series = store_ct(world.patient, hu=hu, spacing=spacing, origin=origin)
    with transaction.atomic():  # the run's job is sent (and run, eagerly) when this commits
        screening_batch_create(
            actor=world.oncologist,
            institution=world.institution,
            patients=screening_patients(user=world.oncologist),
        )
    run = ScreeningRun.objects.get(series=series)
    assert run.status == "done", run.error
    top = run.findings.get(rank=1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = live_server.url
    _sign_in(page, base)

    # The worklist: the screened series, its top score and the ranking it used.
    page.click("nav.topnav >> text=Screening")
    page.wait_for_url(f"{base}/screening/")
    row = page.locator(f"#screening-worklist tr[data-run='{run.public_id}']")
    assert world.patient.research_id in row.inner_text()
    assert f"{top.score:.3f}" in row.inner_text()
    assert "Classical ranking" in page.inner_text("#screening-ranking")
    page.screenshot(path=str(SCREENSHOTS / "screening-worklist.png"), full_page=True)

    # The run's findings, best first; "View" opens the viewer on the top one.
    row.locator("a").first.click()
    page.wait_for_url(f"{base}/screening/runs/{run.public_id}/")
    first_row = page.locator("#screening-findings tbody tr").first
    assert first_row.get_attribute("data-finding") == str(top.public_id)
    first_row.get_by_role("link", name="View").click()
    page.wait_for_selector("#viewer[data-state=ready]")
    z = top.centre_voxel[0]
    page.wait_for_function(
        "z => (document.getElementById('viewer').getAttribute('data-rendered') || '')"
        ".startsWith('axial:' + z + ':')",
        arg=z,
    )
    marker = page.locator(f".viewer-finding-marker[data-finding='{top.public_id}']")
    marker.wait_for()
    assert marker.inner_text() == "1"
    # The marker sits on the finding's centre: its position over the drawn image (the canvas
    # is scaled with object-fit: contain), as a fraction of the image, is the centre's column
    # and row over the grid's. Markers are redrawn with each slice: read it in one go.
    where = page.wait_for_function(
        """id => {
          const m = document.querySelector(`.viewer-finding-marker[data-finding="${id}"]`);
          const c = document.getElementById("viewer-canvas");
          if (!m || !c.width) { return null; }
          const mb = m.getBoundingClientRect(), cb = c.getBoundingClientRect();
          const scale = Math.min(cb.width / c.width, cb.height / c.height);
          const ox = cb.left + (cb.width - c.width * scale) / 2;
          const oy = cb.top + (cb.height - c.height * scale) / 2;
          return [(mb.left + mb.width / 2 - ox) / (c.width * scale),
                  (mb.top + mb.height / 2 - oy) / (c.height * scale)];
        }""",
        arg=str(top.public_id),
    ).json_value()
    shape = hu.shape
    assert where[0] == pytest.approx((top.centre_voxel[2] + 0.5) / shape[2], abs=0.01)
    assert where[1] == pytest.approx((top.centre_voxel[1] + 0.5) / shape[1], abs=0.01)
    item = page.locator(f"#viewer-findings-list li[data-finding='{top.public_id}']")
    assert item.get_attribute("aria-current") == "true"
    assert "Classical ranking" in page.inner_text("#viewer-findings-note")
    page.locator("#viewer-stage").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "screening-viewer.png"))

    # Confirm from the viewer: the list and marker turn confirmed; a screening mask exists.
    item.locator(".viewer-finding-confirm").click()
    page.wait_for_selector(
        f"#viewer-findings-list li[data-finding='{top.public_id}'][data-status=confirmed]"
    )
    page.wait_for_selector(
        f".viewer-finding-marker[data-finding='{top.public_id}'][data-status=confirmed]"
    )
    assert "Finding #1 confirmed." in page.inner_text("#viewer-findings-status")
    page.screenshot(path=str(SCREENSHOTS / "screening-confirmed.png"))
    finding = Finding.objects.get(pk=top.pk)
    assert finding.status == "confirmed"
    assert finding.reviewed_by == world.member
    mask = Mask.objects.get(pk=finding.mask_id)
    assert mask.kind == "screening"
    assert mask.series_id == series.pk
    assert errors == []
