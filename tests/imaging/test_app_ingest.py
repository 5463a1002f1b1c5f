"""The ingest service and zip expansion: what is stored, what is a duplicate, what waits in
the unmatched queue, and that every bad input is a rejected line leaving nothing half-stored."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pydicom
import pytest
from django.core.management import call_command
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from core.models import AuditEvent, Role
from imaging.models import HeldInstance, Instance, Series, Study, UnmatchedStudy
from imaging.services import ingest as ingest_module
from imaging.services.ingest import dicom_ingest
from imaging.services.queue import unmatched_study_resolve
from imaging.services.zipfiles import UploadedDicom, dicom_ingest_upload
from tests.factories import InstitutionFactory, PatientFactory, UserFactory

# CT_small.dcm ships inside the pydicom wheel (no download).
CT_SMALL = get_testdata_file("CT_small.dcm")


def ct_bytes(
    *,
    patient_id: str = "MRN-1",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    drop: str | None = None,
    truncate_pixels: int = 0,
) -> bytes:
    """A small CT instance (pydicom's CT_small) with our identifiers."""
    ds = pydicom.dcmread(CT_SMALL)
    ds.PatientID = patient_id
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if drop:
        delattr(ds, drop)
    if truncate_pixels:
        ds.PixelData = ds.PixelData[:-truncate_pixels]
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def assert_nothing_stored(settings) -> None:
    assert not Instance.objects.exists()
    assert not HeldInstance.objects.exists()
    assert not Study.objects.exists()
    assert not Series.objects.exists()
    assert stored_files(settings) == []


@pytest.fixture
def institution(db):
    return InstitutionFactory(code="north")


@pytest.fixture
def patient(institution):
    return PatientFactory(institution=institution, mrn="MRN-1")


def test_an_instance_for_a_known_patient_is_stored_and_indexed(institution, patient, settings):
    data = ct_bytes()
    result = dicom_ingest(
        actor=None, institution=institution, data=data, filename="a.dcm", channel="command"
    )
    assert result.status == "stored", result.reason
    instance = Instance.objects.select_related("series__study").get()
    study = instance.series.study
    assert study.patient == patient
    assert study.public_id == result.study_public_id
    assert study.modalities == ["CT"]
    assert instance.series.instance_count == 1
    assert (instance.rows, instance.columns, instance.frames) == (128, 128, 1)
    assert len(instance.image_position) == 3
    assert instance.size_bytes == len(data)
    # Stored under the institution with an opaque name, byte for byte.
    (path,) = stored_files(settings)
    assert instance.storage_name == f"imaging/{institution.pk}/{path.name}"
    assert path.read_bytes() == data
    import hashlib

    assert instance.sha256 == hashlib.sha256(data).hexdigest()


def test_one_audit_event_names_the_study_without_phi(institution, patient):
    dicom_ingest(
        actor=None, institution=institution, data=ct_bytes(), filename="a.dcm", channel="stow"
    )
    (event,) = AuditEvent.objects.all()
    assert event.object_type == "dicom_study"
    assert event.patient_id == patient.pk
    assert "MRN-1" not in str(event.detail)
    assert event.detail["count"] == 1


def test_a_resent_instance_is_a_duplicate_and_changes_nothing(institution, patient, settings):
    data = ct_bytes()
    first = dicom_ingest(
        actor=None, institution=institution, data=data, filename="a.dcm", channel="api"
    )
    second = dicom_ingest(
        actor=None, institution=institution, data=data, filename="a.dcm", channel="api"
    )
    assert (first.status, second.status) == ("stored", "duplicate")
    assert second.study_public_id == first.study_public_id
    assert Instance.objects.count() == 1
    assert Series.objects.get().instance_count == 1
    assert len(stored_files(settings)) == 1


def test_instances_of_one_series_share_the_study_and_series_rows(institution, patient):
    study, series = generate_uid(), generate_uid()
    for _ in range(3):
        data = ct_bytes(study_uid=study, series_uid=series)
        dicom_ingest(actor=None, institution=institution, data=data, filename="x", channel="api")
    assert Study.objects.count() == 1
    assert Series.objects.get().instance_count == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"not dicom at all" * 100, "Not a DICOM Part 10 file"),
        (b"\0" * 128 + b"DICM" + b"\xff" * 50, "(0002,0010)"),
    ],
    ids=["empty", "text", "garbage-after-prefix"],
)
def test_non_dicom_input_is_rejected_with_a_reason(institution, settings, data, reason):
    result = dicom_ingest(
        actor=None, institution=institution, data=data, filename="f", channel="upload"
    )
    assert result.status == "rejected"
    assert reason in result.reason
    assert_nothing_stored(settings)


@pytest.mark.parametrize(
    ("keyword", "tag"),
    [
        ("PatientID", "(0010,0020)"),
        ("SOPInstanceUID", "(0008,0018)"),
        ("StudyInstanceUID", "(0020,000D)"),
        ("SeriesInstanceUID", "(0020,000E)"),
        ("Modality", "(0008,0060)"),
    ],
)
def test_a_missing_required_tag_is_named_in_the_rejection(institution, settings, keyword, tag):
    data = ct_bytes(drop=keyword)
    result = dicom_ingest(
        actor=None, institution=institution, data=data, filename="f", channel="upload"
    )
    assert result.status == "rejected"
    assert tag in result.reason
    assert keyword in result.reason
    assert_nothing_stored(settings)


def test_truncated_pixel_data_is_rejected_and_nothing_is_stored(institution, patient, settings):
    data = ct_bytes(truncate_pixels=200)
    result = dicom_ingest(
        actor=None, institution=institution, data=data, filename="f", channel="upload"
    )
    assert result.status == "rejected"
    assert "Pixel data" in result.reason
    assert_nothing_stored(settings)


def test_a_truncated_file_is_rejected(institution, patient, settings):
    data = ct_bytes()[:3000]
    result = dicom_ingest(
        actor=None, institution=institution, data=data, filename="f", channel="upload"
    )
    assert result.status == "rejected"
    assert_nothing_stored(settings)


def test_an_unsupported_transfer_syntax_is_rejected(institution, settings):
    # 12-bit JPEG Extended: no installed decoder handles it (Pillow refuses 12-bit).
    data = Path(get_testdata_file("JPEG-lossy.dcm")).read_bytes()
    result = dicom_ingest(
        actor=None, institution=institution, data=data, filename="f", channel="upload"
    )
    assert result.status == "rejected"
    assert "cannot be decoded" in result.reason
    assert_nothing_stored(settings)


def test_a_file_over_the_instance_cap_is_rejected_as_out_of_resources(institution, settings):
    settings.IMAGING_MAX_INSTANCE_BYTES = 1000
    result = dicom_ingest(
        actor=None, institution=institution, data=ct_bytes(), filename="f", channel="upload"
    )
    assert (result.status, result.failure_code) == ("rejected", 0xA700)
    assert_nothing_stored(settings)


def test_a_failure_after_the_file_is_saved_deletes_it(institution, patient, settings, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(ingest_module.IngestBatch, "_index", boom)
    with pytest.raises(RuntimeError):
        dicom_ingest(
            actor=None, institution=institution, data=ct_bytes(), filename="f", channel="api"
        )
    assert_nothing_stored(settings)


def test_an_upload_for_a_patient_refuses_files_of_another_patient(institution, patient, settings):
    other = PatientFactory(institution=institution, mrn="MRN-2")
    result = dicom_ingest(
        actor=None,
        institution=institution,
        data=ct_bytes(patient_id="MRN-2"),
        filename="f",
        channel="upload",
        patient=patient,
    )
    assert result.status == "rejected"
    assert "(0010,0020)" in result.reason
    assert "MRN-2" not in result.reason
    assert not Study.objects.filter(patient=other).exists()
    assert_nothing_stored(settings)


def test_a_study_of_one_patient_is_not_extended_under_another(institution, patient, settings):
    PatientFactory(institution=institution, mrn="MRN-2")
    study = generate_uid()
    dicom_ingest(
        actor=None,
        institution=institution,
        data=ct_bytes(study_uid=study),
        filename="f",
        channel="api",
    )
    result = dicom_ingest(
        actor=None,
        institution=institution,
        data=ct_bytes(study_uid=study, patient_id="MRN-2"),
        filename="g",
        channel="api",
    )
    assert result.status == "rejected"
    assert "another patient" in result.reason
    assert Instance.objects.count() == 1
    assert len(stored_files(settings)) == 1


# ---------------------------------------------------------------------------------------------
# Unmatched queue
# ---------------------------------------------------------------------------------------------


def test_unknown_patient_goes_to_the_queue_and_resolving_files_it(institution, settings):
    study = generate_uid()
    series = generate_uid()
    results = [
        dicom_ingest(
            actor=None,
            institution=institution,
            data=ct_bytes(patient_id="NEW-7", study_uid=study, series_uid=series),
            filename=f"{i}.dcm",
            channel="cstore",
        )
        for i in range(2)
    ]
    assert {r.status for r in results} == {"unmatched"}
    entry = UnmatchedStudy.objects.get()
    assert entry.dicom_patient_id == "NEW-7"
    assert entry.received_count == 2
    assert entry.held_instances.count() == 2
    assert not Instance.objects.exists()
    assert len(stored_files(settings)) == 2
    # The audit trail says instances were held, without the PatientID.
    assert all("NEW-7" not in str(e.detail) for e in AuditEvent.objects.all())

    manager = UserFactory(role=Role.DATA_MANAGER, institution=institution)
    patient = PatientFactory(institution=institution, mrn="NEW-7")
    created = unmatched_study_resolve(actor=manager, entry=entry, patient=patient)
    entry.refresh_from_db()
    assert entry.status == "resolved"
    assert entry.resolved_patient == patient
    assert created.patient == patient
    assert Series.objects.get(series_instance_uid=series).instance_count == 2
    assert not HeldInstance.objects.exists()
    assert len(stored_files(settings)) == 2  # the files stay; only rows move
    # Once filed, the next instance of that study is stored directly.
    later = dicom_ingest(
        actor=None,
        institution=institution,
        data=ct_bytes(patient_id="NEW-7", study_uid=study, series_uid=series),
        filename="3.dcm",
        channel="cstore",
    )
    assert later.status == "stored"
    assert Series.objects.get().instance_count == 3


def test_a_held_instance_resent_is_a_duplicate(institution):
    data = ct_bytes(patient_id="NEW-7")
    first = dicom_ingest(
        actor=None, institution=institution, data=data, filename="f", channel="api"
    )
    again = dicom_ingest(
        actor=None, institution=institution, data=data, filename="f", channel="api"
    )
    assert (first.status, again.status) == ("unmatched", "duplicate")
    assert UnmatchedStudy.objects.get().received_count == 1


def test_only_a_data_manager_of_the_institution_resolves(institution):
    from django.core.exceptions import PermissionDenied

    dicom_ingest(
        actor=None,
        institution=institution,
        data=ct_bytes(patient_id="NEW-7"),
        filename="f",
        channel="api",
    )
    entry = UnmatchedStudy.objects.get()
    patient = PatientFactory(institution=institution, mrn="NEW-7")
    clinician = UserFactory(role=Role.CLINICIAN, institution=institution)
    foreign_manager = UserFactory(role=Role.DATA_MANAGER)
    for user in (clinician, foreign_manager):
        with pytest.raises(PermissionDenied):
            unmatched_study_resolve(actor=user, entry=entry, patient=patient)
    assert UnmatchedStudy.objects.get().status == "open"


# ---------------------------------------------------------------------------------------------
# Uploads and zip archives
# ---------------------------------------------------------------------------------------------


def _upload(institution, *files: tuple[str, bytes], patient=None):
    return dicom_ingest_upload(
        actor=None,
        institution=institution,
        files=[UploadedDicom(name=n, file=io.BytesIO(d)) for n, d in files],
        channel="upload",
        patient=patient,
    )


def test_a_zip_of_instances_gives_one_line_per_entry(institution, patient):
    archive = zip_of({"a/1.dcm": ct_bytes(), "a/2.dcm": ct_bytes(), "notes.txt": b"hello"})
    results = _upload(institution, ("study.zip", archive), patient=patient)
    assert [(r.filename, r.status) for r in results] == [
        ("study.zip/a/1.dcm", "stored"),
        ("study.zip/a/2.dcm", "stored"),
        ("study.zip/notes.txt", "rejected"),
    ]
    # One event for the patient for the whole upload.
    assert AuditEvent.objects.filter(object_type="dicom_study").count() == 1


@pytest.mark.parametrize("name", ["../evil.dcm", "/etc/evil.dcm", "a/../../evil.dcm", "C:/x.dcm"])
def test_zip_slip_names_are_refused(institution, patient, settings, name):
    results = _upload(institution, ("a.zip", zip_of({name: ct_bytes()})), patient=patient)
    assert [r.status for r in results] == ["rejected"]
    assert "zip slip" in results[0].reason
    assert_nothing_stored(settings)


def test_a_zip_with_too_many_entries_is_refused_before_expanding(institution, settings):
    settings.IMAGING_MAX_ZIP_ENTRIES = 5
    archive = zip_of({f"{i}.dcm": ct_bytes(patient_id="X") for i in range(6)})
    results = _upload(institution, ("many.zip", archive))
    assert [r.status for r in results] == ["rejected"]
    assert "6 files" in results[0].reason
    assert_nothing_stored(settings)


def test_a_zip_declaring_too_much_inflated_data_is_refused_before_expanding(institution, settings):
    settings.IMAGING_MAX_ZIP_INFLATED_BYTES = 10_000_000
    # 30 MB of zeros deflate to ~30 KB: a small bomb.
    archive = zip_of({"bomb.dcm": b"\0" * 30_000_000})
    assert len(archive) < 100_000
    results = _upload(institution, ("bomb.zip", archive))
    assert [r.status for r in results] == ["rejected"]
    assert "inflates to" in results[0].reason
    assert_nothing_stored(settings)


def test_a_zip_entry_inflating_past_its_declared_size_is_stopped(institution, settings):
    # Forge the central directory and local header to claim 100 bytes for a 1 MB entry.
    payload = b"\0" * 1_000_000
    archive = bytearray(zip_of({"liar.dcm": payload}))
    real = len(payload).to_bytes(4, "little")
    fake = (100).to_bytes(4, "little")
    archive = bytes(archive).replace(real, fake)
    results = _upload(institution, ("liar.zip", archive))
    assert [r.status for r in results] == ["rejected"]
    assert_nothing_stored(settings)


def test_nested_zips_are_not_expanded(institution, patient, settings):
    inner = zip_of({"1.dcm": ct_bytes()})
    results = _upload(institution, ("outer.zip", zip_of({"inner.zip": inner})), patient=patient)
    assert [(r.status, "Nested" in r.reason) for r in results] == [("rejected", True)]
    assert_nothing_stored(settings)


def test_an_oversize_upload_is_refused(institution, patient, settings):
    settings.IMAGING_MAX_UPLOAD_BYTES = 1000
    results = _upload(institution, ("big.dcm", ct_bytes()), patient=patient)
    assert [(r.status, r.failure_code) for r in results] == [("rejected", 0xA700)]
    assert_nothing_stored(settings)


def test_a_corrupt_zip_is_one_rejected_line(institution, settings):
    results = _upload(institution, ("broken.zip", b"PK\x03\x04" + b"\x00" * 100))
    assert [r.status for r in results] == ["rejected"]
    assert_nothing_stored(settings)


# ---------------------------------------------------------------------------------------------
# import_dicom
# ---------------------------------------------------------------------------------------------


def test_import_dicom_walks_folders_and_zips_and_prints_a_summary(
    institution, patient, tmp_path, capsys
):
    folder = tmp_path / "in" / "deep"
    folder.mkdir(parents=True)
    (folder / "1.dcm").write_bytes(ct_bytes())
    (tmp_path / "in" / "b.zip").write_bytes(zip_of({"2.dcm": ct_bytes(patient_id="NOBODY")}))
    call_command("import_dicom", "--institution", "north", str(tmp_path / "in"))
    out = capsys.readouterr().out
    assert "Summary: 1 stored, 0 duplicate, 1 unmatched, 0 rejected." in out
    assert "NOBODY" not in out
    assert Instance.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="dicom_study").count() == 1


def test_import_dicom_prints_one_line_per_file_in_file_order_across_steps(
    institution, patient, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(ingest_module, "BATCH_INSTANCES", 2)
    names = ["a.dcm", "b.txt", "c.dcm", "d.dcm", "e.dcm"]
    for name in names:
        (tmp_path / name).write_bytes(b"nope" if name.endswith(".txt") else ct_bytes())
    with pytest.raises(SystemExit):
        call_command("import_dicom", "--institution", "north", str(tmp_path))
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("Sum")]
    assert [line.split()[0] for line in lines] == [
        "stored",
        "rejected",
        "stored",
        "stored",
        "stored",
    ]
    assert [Path(line.split()[1]).name for line in lines] == names
    assert Instance.objects.count() == 4


def test_import_dicom_exits_non_zero_when_a_file_is_rejected(institution, tmp_path, capsys):
    (tmp_path / "bad.dcm").write_bytes(b"nope")
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_dicom", "--institution", "north", str(tmp_path / "bad.dcm"))
    assert exit_info.value.code == 1
    assert "rejected" in capsys.readouterr().out


def test_a_lost_race_on_a_new_study_is_retried_not_rejected(
    institution, patient, settings, monkeypatch
):
    from django.db import IntegrityError

    real = ingest_module.IngestBatch._index
    calls = {"n": 0}

    def race_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise IntegrityError("UNIQUE constraint failed: imaging_study")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_module.IngestBatch, "_index", race_once)
    result = dicom_ingest(
        actor=None, institution=institution, data=ct_bytes(), filename="f", channel="cstore"
    )
    assert result.status == "stored"
    assert calls["n"] == 2
    assert Instance.objects.count() == 1
    assert len(stored_files(settings)) == 1


def test_a_persistent_integrity_error_is_a_bug_and_leaves_no_file(
    institution, patient, settings, monkeypatch
):
    from django.db import IntegrityError

    def always(*args, **kwargs):
        raise IntegrityError("boom")

    monkeypatch.setattr(ingest_module.IngestBatch, "_index", always)
    with pytest.raises(IntegrityError):
        dicom_ingest(
            actor=None, institution=institution, data=ct_bytes(), filename="f", channel="api"
        )
    assert_nothing_stored(settings)


# ---------------------------------------------------------------------------------------------
# Batches (every door ingests through one IngestBatch)
# ---------------------------------------------------------------------------------------------


def _batch_of(institution, blobs: list[bytes], **kwargs):
    from imaging.services.ingest import IngestBatch

    batch = IngestBatch(actor=None, institution=institution, channel="api", **kwargs)
    for i, blob in enumerate(blobs):
        batch.add(f"{i}.dcm", blob)
    return batch.finish()


def _queries_to_ingest(institution, count: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    study, series = generate_uid(), generate_uid()
    blobs = [ct_bytes(study_uid=study, series_uid=series) for _ in range(count)]
    with CaptureQueriesContext(connection) as queries:
        results = _batch_of(institution, blobs)
    assert [r.status for r in results] == ["stored"] * count
    return len(queries)


def test_a_batch_costs_the_same_queries_for_three_instances_or_twelve(institution, patient):
    assert _queries_to_ingest(institution, 3) == _queries_to_ingest(institution, 12)
    assert Series.objects.filter(instance_count=12).count() == 1


def test_a_sop_instance_uid_twice_in_one_batch_is_stored_once(institution, patient, settings):
    data = ct_bytes()
    results = _batch_of(institution, [data, ct_bytes(), data])
    assert [r.status for r in results] == ["stored", "stored", "duplicate"]
    assert results[2].study_public_id == results[0].study_public_id
    assert Instance.objects.count() == 2
    assert len(stored_files(settings)) == 2


def test_a_batch_rejects_only_the_instances_of_a_study_filed_elsewhere(
    institution, patient, settings
):
    PatientFactory(institution=institution, mrn="MRN-2")
    taken = generate_uid()
    dicom_ingest(
        actor=None,
        institution=institution,
        data=ct_bytes(study_uid=taken, patient_id="MRN-2"),
        filename="f",
        channel="api",
    )
    results = _batch_of(institution, [ct_bytes(), ct_bytes(study_uid=taken), ct_bytes()])
    assert [r.status for r in results] == ["stored", "rejected", "stored"]
    assert "another patient" in results[1].reason
    assert Instance.objects.count() == 3  # the other patient's one and two of this batch
    assert len(stored_files(settings)) == 3


def test_results_keep_the_order_of_the_files_across_index_steps(institution, patient, monkeypatch):
    monkeypatch.setattr(ingest_module, "BATCH_INSTANCES", 2)
    blobs = [ct_bytes(), b"junk", ct_bytes(), ct_bytes(patient_id="NOBODY"), ct_bytes()]
    results = _batch_of(institution, blobs)
    assert [r.filename for r in results] == [f"{i}.dcm" for i in range(5)]
    assert [r.status for r in results] == ["stored", "rejected", "stored", "unmatched", "stored"]
    # Outside a transaction each step commits with its own events; they add up to the batch.
    events = AuditEvent.objects.filter(object_type="dicom_study", patient_id=patient.pk)
    assert sum(e.detail["count"] for e in events) == 3


def test_a_large_image_series_gets_its_viewer_volume_prepared_once_per_content(
    institution, patient, monkeypatch
):
    from core.models import Job
    from imaging import viewer_series

    # CT_small is 128 x 128: three slices are "large" here.
    monkeypatch.setattr(viewer_series, "PREPARE_AFTER_INGEST_MIN_VOXELS", 3 * 128 * 128)
    study, series_uid = generate_uid(), generate_uid()
    _batch_of(institution, [ct_bytes(study_uid=study, series_uid=series_uid) for _ in range(3)])
    series = Series.objects.get(series_instance_uid=series_uid)
    (job,) = Job.objects.filter(kind=viewer_series.PREPARE_JOB_KIND)
    assert job.payload == {"series_id": series.pk}
    assert (
        job.idempotency_key
        == f"{viewer_series.PREPARE_JOB_KIND}:{viewer_series.volume_key(series)}"
    )
    # Fewer voxels than the threshold in one batch (one file a request): no job.
    _batch_of(institution, [ct_bytes(study_uid=study, series_uid=series_uid)])
    assert Job.objects.filter(kind=viewer_series.PREPARE_JOB_KIND).count() == 1
    # A batch that grows the series by as much again: a new volume, a new job.
    _batch_of(institution, [ct_bytes(study_uid=study, series_uid=series_uid) for _ in range(3)])
    assert Job.objects.filter(kind=viewer_series.PREPARE_JOB_KIND).count() == 2


def test_a_structure_set_series_gets_no_volume_job(institution, patient, monkeypatch):
    from core.models import Job
    from imaging import viewer_series

    # No threshold at all: only the modality keeps it out (a structure set has no pixels).
    monkeypatch.setattr(viewer_series, "PREPARE_AFTER_INGEST_MIN_VOXELS", 0)
    ds = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
    ds.PatientID = "MRN-1"
    ds.ensure_file_meta()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    (result,) = _batch_of(institution, [buf.getvalue()])
    assert result.status == "stored", result.reason
    assert not Job.objects.filter(kind=viewer_series.PREPARE_JOB_KIND).exists()
