"""The demo tumour board: a meeting at the demo institution with ready cases and one that is
missing items, made through the real services."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from core.models import User
from imaging import viewer
from oncology.demo.board import MEETING_TITLE, demo_board_create
from oncology.models import Prediction
from oncology.selectors_board import checklists_for, genomics_panel, imaging_panel
from tests.oncology import board_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


def test_the_demo_meeting_has_ready_cases_and_one_with_missing_items() -> None:
    # The demo's own model is trained by demo_setup; a tiny one keeps this test fast.
    call_command("demo_setup", "--patients", "120", "--no-outcome-model", stdout=StringIO())
    board_data.active_model("demo-cox")
    demo = demo_board_create()
    assert demo.created
    assert demo.meeting.title == MEETING_TITLE
    assert len(demo.ready) == 3
    assert demo.missing is not None
    checklists = checklists_for([*demo.ready, demo.missing])
    assert all(checklists[p.pk].ready for p in demo.ready)
    missing = checklists[demo.missing.pk]
    assert {i.key for i in missing.missing} >= {"comorbidities", "imaging", "genomics"}
    # Each ready case: two measured studies with a growing lesion, an actionable alteration,
    # and the active model's prediction computed when the case was added.
    for patient in demo.ready:
        rows = imaging_panel(patient=patient)
        assert len(rows) == 2
        change = rows[1].masks[0].change
        assert change is not None
        assert change["volume_ml"] > 0
        assert genomics_panel(patient=patient).actionable
        assert Prediction.objects.filter(patient=patient).exists()
    # The demo oncologist opens the meeting and every case.
    client = Client()
    client.force_login(User.objects.get(username="demo-oncologist"))
    page = client.get(
        reverse("board:meeting-detail", kwargs={"meeting_id": demo.meeting.public_id})
    )
    assert page.content.decode().count("Record complete: <strong>6 of 6</strong>") == 3
    for case in demo.meeting.cases.all():
        assert (
            client.get(reverse("board:case-detail", kwargs={"case_id": case.public_id})).status_code
            == 200
        )
    # Idempotent.
    again = demo_board_create()
    assert not again.created
    assert again.meeting == demo.meeting
    assert demo.meeting.cases.count() == 4
