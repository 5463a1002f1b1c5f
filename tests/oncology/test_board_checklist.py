"""The data-completeness checklist of a board case, computed from the record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from genomics.models import GenomicReport
from imaging.models import Mask, Series, Study
from oncology.models import FollowUp
from oncology.selectors_board import checklists_for
from tests.conftest import World
from tests.factories import DiagnosisFactory, PatientFactory
from tests.oncology import board_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _series(patient: Any, *, masked: bool, modality: str = "CT") -> Series:
    study = Study.objects.create(
        patient=patient,
        institution=patient.institution,
        study_instance_uid=f"1.2.{Study.objects.count() + 1}",
        study_date=dt.date(2021, 2, 1),
    )
    series = Series.objects.create(
        study=study, series_instance_uid=f"1.2.9.{study.pk}", modality=modality
    )
    if masked:
        Mask.objects.create(
            series=series,
            label="GTV",
            kind="drawn",
            storage_name="x",
            sha256="0" * 64,
            volume_key="k",
        )
    return series


def _report(patient: Any) -> GenomicReport:
    return GenomicReport.objects.create(
        patient=patient,
        assay_name="Panel",
        covered_mb=1.5,
        specimen_type="primary",
        collection_date=dt.date(2021, 3, 5),
        source_format="vcf",
        source_sha256="0" * 64,
    )


def _items(patient: Any) -> dict[str, Any]:
    return {i.key: i for i in checklists_for([patient])[patient.pk].items}


def test_a_complete_record_ticks_every_item(world: World) -> None:
    patient = board_data.complete_record(world.patient)
    _series(patient, masked=True)
    _report(patient)
    checklist = checklists_for([patient])[patient.pk]
    assert checklist.ready
    assert checklist.summary == "6 of 6"
    items = {i.key: i for i in checklist.items}
    assert items["staging"].detail == "T2a N0 M0 · stage IB"
    assert items["ecog"].detail == "ECOG 1 on 2021-03-01."


def test_each_missing_item_links_to_the_form_that_fills_it(world: World) -> None:
    patient = PatientFactory(institution=world.institution, teams=[world.team])
    items = _items(patient)
    pid = patient.public_id
    create = lambda section: reverse(  # noqa: E731
        "oncology:record-create", kwargs={"public_id": pid, "section": section}
    )
    assert {k: (i.done, i.fix_url) for k, i in items.items()} == {
        "staging": (False, create("diagnoses")),
        "pathology": (False, create("diagnoses")),
        "imaging": (False, reverse("imaging:ingest-upload", kwargs={"public_id": pid})),
        "genomics": (False, reverse("genomics:report-create", kwargs={"public_id": pid})),
        "ecog": (False, create("performance_statuses")),
        "comorbidities": (False, create("comorbidities")),
    }


def test_an_unstaged_diagnosis_and_unspecified_histology_link_to_its_edit_form(
    world: World,
) -> None:
    patient = PatientFactory(institution=world.institution, teams=[world.team])
    dx = DiagnosisFactory(
        patient=patient, morphology="8000/3", clinical_stage="", clinical_t="", clinical_n=""
    )
    edit = reverse(
        "oncology:record-edit",
        kwargs={"public_id": patient.public_id, "section": "diagnoses", "pk": dx.pk},
    )
    items = _items(patient)
    assert (items["staging"].done, items["staging"].fix_url) == (False, edit)
    assert (items["pathology"].done, items["pathology"].fix_url) == (False, edit)
    assert "8000/8001" in items["pathology"].detail


def test_images_without_a_mask_send_the_reader_to_the_viewer(world: World) -> None:
    _series(world.patient, masked=False, modality="RTSTRUCT")  # no pixels: not offered
    series = _series(world.patient, masked=False)
    item = _items(world.patient)["imaging"]
    assert not item.done
    assert item.fix_url == reverse(
        "imaging:viewer",
        kwargs={"public_id": world.patient.public_id, "series_id": series.public_id},
    )


def test_ecog_from_a_follow_up_visit_counts(world: World) -> None:
    FollowUp.objects.create(
        patient=world.patient, visit_date=dt.date(2022, 1, 1), disease_status="stable", ecog=2
    )
    assert _items(world.patient)["ecog"].done


def test_the_checklists_of_a_meeting_take_the_same_queries_for_one_or_many_patients(
    world: World,
) -> None:
    patients = [board_data.complete_record(board_data.other_patient(world)) for _ in range(5)]
    for p in patients:
        _series(p, masked=True)
        _report(p)
    with CaptureQueriesContext(connection) as one:
        checklists_for(patients[:1])
    fresh = [type(p).objects.get(pk=p.pk) for p in patients]
    with CaptureQueriesContext(connection) as many:
        result = checklists_for(fresh)
    assert len(many.captured_queries) == len(one.captured_queries)
    assert all(c.ready for c in result.values())
