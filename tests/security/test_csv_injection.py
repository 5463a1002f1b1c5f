"""CSV injection: every CSV the app writes neutralises a text cell that a spreadsheet would run
as a formula or that could hide one: a leading = + - @, tab, carriage return or NUL gets a
leading apostrophe. The app writes one kind of CSV, the radiomics feature table (one run's, a
batch's, through the pages and the API: imaging.services.radiomics.radiomics_csv); research
exports carry a JSON manifest, not CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pydicom
import pydicom.data
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from imaging.models import RadiomicsRun, Series
from imaging.services.ingest import STORED, dicom_ingest
from imaging.services.radiomics import radiomics_csv
from tests.conftest import World

# PostgreSQL text cannot hold NUL, so a NUL-led label is checked on an unsaved run only.
DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1"]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def runs(world: World) -> list[RadiomicsRun]:
    data = (Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm").read_bytes()
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PatientID = world.patient.mrn
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    result = dicom_ingest(
        actor=None,
        institution=world.institution,
        data=buffer.getvalue(),
        filename="ct.dcm",
        channel="command",
    )
    assert result.status == STORED
    series = Series.objects.get()
    return [
        RadiomicsRun.objects.create(
            patient=world.patient,
            series=series,
            mask_id=f"m{i}",
            mask_label=label,
            preset="ibsi-A",
            settings_hash="0" * 64,
            input_key=f"{i:064d}",
            features=[{"feature": "stat_mean", "ibsi_code": "Q4LE", "value": -1.5}],
            completed_at=timezone.now(),
        )
        for i, label in enumerate(DANGEROUS)
    ]


def _neutral(label: str) -> str:
    # A carriage return would break the row (the writer ends lines with "\n" and leaves a bare
    # "\r" unquoted): it becomes a space.
    return f"'{label}".replace("\r", " ")


def _labels(text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [row["mask_label"] for row in rows]


def test_the_radiomics_csv_neutralises_every_formula_prefix(runs: list[RadiomicsRun]) -> None:
    labels = _labels(radiomics_csv(RadiomicsRun.objects.select_related("patient", "series")))
    assert sorted(labels) == sorted(_neutral(label) for label in DANGEROUS)
    # Numbers stay numbers: a negative feature value is data, not a formula.
    rows = list(csv.DictReader(io.StringIO(radiomics_csv(runs), newline="")))
    assert {row["value"] for row in rows} == {"-1.5"}


def test_a_nul_led_cell_is_neutralised_too(runs: list[RadiomicsRun]) -> None:
    run = runs[0]
    unsaved = RadiomicsRun(
        patient=run.patient,
        series=run.series,
        mask_label="\x00=1+1",
        preset="ibsi-A",
        features=run.features,
        completed_at=run.completed_at,
    )
    assert _labels(radiomics_csv([unsaved])) == ["'\x00=1+1"]


def test_the_run_csv_of_the_page_and_of_the_api_are_neutralised(
    world: World, runs: list[RadiomicsRun], member_client: Client, api_integration: APIClient
) -> None:
    for run, label in zip(runs, DANGEROUS, strict=True):
        kwargs = {"public_id": world.patient.public_id, "run_id": run.public_id}
        page = member_client.get(reverse("imaging:radiomics-run-csv", kwargs=kwargs))
        assert page.status_code == 200
        api = api_integration.get(
            f"/api/v1/patients/{world.patient.public_id}/radiomics/{run.public_id}/csv"
        )
        assert api.status_code == 200
        for response in (page, api):
            assert response["Content-Type"].startswith("text/csv")
            assert _labels(response.content.decode()) == [_neutral(label)]
