"""What keeps one-file ingest cheap (an upload of one file a request, a C-STORE instance):
the rows it needs looked up in one query, no radiomics lookup for image series, and a file
written with one exclusive create. Each is checked for the behaviour it must keep."""

from __future__ import annotations

import io
import os
import stat
import time
import uuid
from pathlib import Path

import pydicom
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from imaging.models import Instance, Series
from imaging.services import ingest as ingest_module
from imaging.services.ingest import IngestBatch
from tests.factories import InstitutionFactory, PatientFactory
from tests.imaging.test_app_ingest import ct_bytes


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # does not exist yet: the first save creates it


@pytest.fixture
def institution(db):
    return InstitutionFactory(code="north")


@pytest.fixture
def patient(institution):
    return PatientFactory(institution=institution, mrn="MRN-1")


def _one(institution, patient, blob: bytes):
    batch = IngestBatch(actor=None, institution=institution, channel="api", patient=patient)
    result = batch.ingest("one.dcm", blob)
    batch.finish()
    return result


def _stored_files() -> list[Path]:
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the one-statement insert (and its audit) is PostgreSQL's; SQLite takes the ORM path",
)
def test_one_file_for_a_known_series_costs_one_statement_and_the_audit(institution, patient):
    study, series = generate_uid(), generate_uid()
    assert _one(institution, patient, ct_bytes(study_uid=study, series_uid=series)).status == (
        "stored"
    )
    with CaptureQueriesContext(connection) as queries:
        result = _one(institution, patient, ct_bytes(study_uid=study, series_uid=series))
    assert result.status == "stored", result.reason
    sql = [q["sql"] for q in queries.captured_queries]
    # The series found, the instance row inserted and counted in one statement; the audit event.
    assert len(sql) == 2, sql
    assert sql[0].startswith("WITH target AS")
    assert 'JOIN "imaging_study"' in sql[0]
    assert '"core_auditevent"' in sql[1]
    row = Series.objects.get(series_instance_uid=series)
    assert row.instance_count == 2
    assert result.study_public_id == row.study.public_id
    stored = Instance.objects.get(sop_instance_uid=result.sop_instance_uid)
    assert stored.series_id == row.pk
    assert stored.storage_name == result.storage_name


def _one_audited_in_statement(institution, patient, blob: bytes):
    batch = IngestBatch(
        actor=None,
        institution=institution,
        channel="api",
        patient=patient,
        audit_in_statement=True,
    )
    batch.add("one.dcm", blob)
    return batch.finish()[0]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the one-statement insert (and its audit) is PostgreSQL's; SQLite takes the ORM path",
)
def test_one_file_request_writes_its_audit_event_in_the_same_statement(institution, patient):
    from core.models import AuditEvent

    study, series = generate_uid(), generate_uid()
    first = _one(institution, patient, ct_bytes(study_uid=study, series_uid=series))
    reference = AuditEvent.objects.latest("id")  # written by ingest_audit (the ORM path)
    with CaptureQueriesContext(connection) as queries:
        result = _one_audited_in_statement(
            institution, patient, ct_bytes(study_uid=study, series_uid=series)
        )
    assert result.status == "stored", result.reason
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    event = AuditEvent.objects.latest("id")
    assert event.pk != reference.pk
    fields = ("action", "object_type", "object_id", "patient_id", "institution_id", "detail")
    # The same event ingest_audit writes for one stored instance of this study.
    assert {f: getattr(event, f) for f in fields} == {f: getattr(reference, f) for f in fields}
    assert event.object_id == str(first.study_public_id)
    assert event.detail == {"format": "dicom:api", "count": 1, "result": [event.object_id]}
    assert event.actor_username == "system"


def test_a_duplicate_through_the_statement_writes_no_event_and_keeps_no_file(institution, patient):
    from core.models import AuditEvent

    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    blob = ct_bytes(study_uid=study, series_uid=series, sop_uid=sop)
    assert _one(institution, patient, blob).status == "stored"
    events, files = AuditEvent.objects.count(), len(_stored_files())
    result = _one_audited_in_statement(institution, patient, blob)
    assert result.status == "duplicate"
    assert result.study_public_id == Series.objects.get().study.public_id
    assert AuditEvent.objects.count() == events
    assert len(_stored_files()) == files
    assert Series.objects.get().instance_count == 1


def test_a_new_modality_for_the_study_takes_the_orm_path(institution, patient):
    """The statement adds only where the batch would have taken the one-statement path; a
    modality the study does not list yet goes through the ORM, which records it."""
    study, series = generate_uid(), generate_uid()
    assert _one(institution, patient, ct_bytes(study_uid=study, series_uid=series)).status == (
        "stored"
    )
    ds = pydicom.dcmread(io.BytesIO(ct_bytes(study_uid=study, series_uid=series)))
    ds.Modality = "PT"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    result = _one_audited_in_statement(institution, patient, buf.getvalue())
    assert result.status == "stored", result.reason
    assert Series.objects.get().study.modalities == ["CT", "PT"]
    assert Instance.objects.count() == 2


def test_a_rejected_file_leaves_no_file_behind(institution, patient):
    """Files are written while they are parsed: one the parse rejects is deleted again."""
    for blob in (
        ct_bytes(truncate_pixels=100),  # a Part 10 file, written, then rejected
        ct_bytes(patient_id="SOMEONE-ELSE"),  # not this patient's
        b"not dicom at all",  # never written
    ):
        assert _one(institution, patient, blob).status == "rejected"
    assert _stored_files() == []
    assert not Instance.objects.exists()


def test_an_aborted_batch_deletes_the_files_it_was_writing(institution, patient):
    batch = IngestBatch(actor=None, institution=institution, channel="api", patient=patient)
    for _ in range(3):
        batch.add("one.dcm", ct_bytes())  # buffered: written (by the writer pool), not indexed
    # The writes run in background threads: wait (bounded) until all three files exist, so
    # abort has written files to delete, not only pending writes.
    deadline = time.monotonic() + 10
    while len(_stored_files()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_stored_files()) == 3
    batch.abort()
    assert _stored_files() == []
    assert not Instance.objects.exists()


def test_a_failed_write_fails_the_instance_and_leaves_nothing(institution, patient, monkeypatch):
    def broken(name: str, data: bytes) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(ingest_module, "_write_new_local", broken)
    monkeypatch.setattr(ingest_module.default_storage, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        _one(institution, patient, ct_bytes())
    assert not Instance.objects.exists()
    assert _stored_files() == []


def test_a_known_series_of_another_institution_still_gets_its_own_study(institution, patient):
    """The series join caches a study only when it is this institution's: a series UID stored
    elsewhere is a conflict, reported as before."""
    other = InstitutionFactory(code="south")
    other_patient = PatientFactory(institution=other, mrn="MRN-1")
    study, series = generate_uid(), generate_uid()
    blob = ct_bytes(study_uid=study, series_uid=series)
    assert _one(other, other_patient, blob).status == "stored"
    result = _one(institution, patient, ct_bytes(study_uid=study, series_uid=series))
    assert result.status == "rejected"
    assert "(0020,000E)" in (result.reason or "")
    assert Instance.objects.count() == 1


def _rtstruct_bytes() -> bytes:
    ds = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
    ds.PatientID = "MRN-1"
    ds.ensure_file_meta()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_the_radiomics_hook_sees_mask_series_and_is_skipped_for_image_series(
    institution, patient, monkeypatch
):
    from imaging.services import radiomics

    seen: list[list[int]] = []
    real = radiomics.radiomics_after_ingest

    def spy(*, series_ids, actor):  # records, then does the real work
        seen.append(sorted(series_ids))
        real(series_ids=series_ids, actor=actor)

    monkeypatch.setattr(radiomics, "radiomics_after_ingest", spy)
    assert _one(institution, patient, ct_bytes()).status == "stored"
    assert seen == []
    result = _one(institution, patient, _rtstruct_bytes())
    assert result.status == "stored", result.reason
    rtstruct = Series.objects.get(modality="RTSTRUCT")
    assert seen == [[rtstruct.pk]]


def test_an_uncached_series_counts_as_a_possible_mask(institution):
    batch = IngestBatch(actor=None, institution=institution, channel="api")
    assert batch._may_add_masks([12345])


def test_a_saved_file_holds_the_bytes_under_the_institution(institution, settings):
    for _ in range(2):  # the first creates the folder, the second is the one-write path
        data = b"\x00" * 128 + b"DICM" + os.urandom(1000)
        name = ingest_module._save_file(institution, data)
        assert name.startswith(f"imaging/{institution.pk}/")
        assert name.endswith(".dcm")
        assert (Path(settings.MEDIA_ROOT) / name).read_bytes() == data


def test_a_taken_name_never_overwrites_a_stored_file(institution, settings, monkeypatch):
    fixed = uuid.UUID("12345678123456781234567812345678")
    monkeypatch.setattr(ingest_module.uuid, "uuid4", lambda: fixed)
    first = ingest_module._save_file(institution, b"first")
    second = ingest_module._save_file(institution, b"second")
    assert first != second
    root = Path(settings.MEDIA_ROOT)
    assert (root / first).read_bytes() == b"first"
    assert (root / second).read_bytes() == b"second"


def test_a_saved_file_gets_the_configured_permissions(institution, settings):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    # The first save creates the folder (Django's path), the second writes into it (ours).
    for name in (ingest_module._save_file(institution, b"data") for _ in range(2)):
        mode = stat.S_IMODE((Path(settings.MEDIA_ROOT) / name).stat().st_mode)
        assert mode == 0o640
