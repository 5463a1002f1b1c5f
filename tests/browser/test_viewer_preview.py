"""A series whose volume is not ready yet: the browser shows the middle slice from its own
instance file at once, says the volume is being prepared, and switches to the full viewer when
the prepare job has run."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.jobs import job_execute
from core.models import Job
from imaging import viewer, viewer_series
from tests.browser.test_viewer import _sign_in
from tests.conftest import World
from tests.imaging.viewer_data import store_ct_with_structure_set

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


def _canvas_grey(page: Any, path: Path) -> np.ndarray:
    page.locator("#viewer-canvas").screenshot(path=str(path))
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("L"), dtype=int)


def test_the_middle_slice_shows_while_the_volume_is_prepared(
    live_server: Any, page: Any, world: World, tmp_path: Path, monkeypatch: Any
) -> None:
    # Every series goes to the prepare job (as series above 300 instances do), and no worker
    # runs: the metadata request answers "preparing" until the test runs the job itself.
    monkeypatch.setattr(viewer_series, "INLINE_ASSEMBLY_MAX_INSTANCES", 0)
    # Without a broker the tests run jobs inline; here the message goes to Celery's in-memory
    # transport that nothing consumes, as if the workers were busy.
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    series = store_ct_with_structure_set(world.patient)
    base = live_server.url
    _sign_in(page, base)
    page.goto(f"{base}/patients/{world.patient.public_id}/imaging/series/{series.public_id}/")
    page.wait_for_selector("#viewer[data-preview=shown]")
    page.wait_for_selector("#viewer[data-state=preparing]")
    assert int(page.get_attribute("#viewer", "data-first-image-ms") or "0") > 0
    assert "Preparing the volume" in page.inner_text("#viewer-status")
    shown = _canvas_grey(page, tmp_path / "preview.png")
    # The canvas holds slice 5 (the middle of 10) through the mediastinum window: HU runs
    # 10 * (x - 24) + 25 across the columns, from black through many greys to white.
    row = shown[shown.shape[0] // 3]
    assert row.min() < 20
    assert row.max() > 235
    assert len(np.unique(row)) > 40

    job = Job.objects.get(kind=viewer_series.PREPARE_JOB_KIND)
    assert job_execute(job.pk)[0] == "succeeded"
    page.wait_for_selector("#viewer[data-state=ready]", timeout=15_000)
    rendered = page.get_attribute("#viewer", "data-rendered") or ""
    assert rendered.startswith("axial:5:40:400")
    ready = _canvas_grey(page, tmp_path / "ready.png")
    # The full viewer's first slice is the slice the preview showed (above the status line,
    # which said "Preparing the volume" over the preview's lower part).
    assert ready.shape == shown.shape
    top = shown.shape[0] * 3 // 4
    assert np.abs(ready[:top] - shown[:top]).max() <= 2
