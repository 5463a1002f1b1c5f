"""Research export (issue 3, section 5, app side): the institution's sealed key, the
de-identified zip built by the job, who may export and download, and what the zip never holds.

The source instances are stored the way ingest stores them (default storage + rows) with a
sentinel planted in every profile attribute whose action does not keep it, nested and in private
tags (tests/imaging/test_dicom_deid.py's planting); the job runs eagerly after commit, on the real
test database and storage.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import uuid
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.urls import reverse
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundImageStorage
from rest_framework.test import APIClient

from core.models import AuditEvent, Job, JobStatus, Role
from imaging.dicom.deid import HmacUidMap
from imaging.models import DeidentificationKey, Instance, ResearchExport, Series, Study
from imaging.services import deid_keys
from imaging.services.deid_keys import (
    DeidKeyError,
    institution_deid_key,
    seal_key,
    unseal_key,
)
from imaging.services.export import research_export_build, research_export_create
from tests.conftest import World
from tests.factories import CareTeamFactory, InstitutionFactory, PatientFactory, UserFactory
from tests.imaging.test_dicom_deid import (
    SENTINEL,
    SENTINEL_CS,
    ct_slice,
    plant,
    plantable_tags,
)

RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
STUDY_A, STUDY_B = "1.2.826.0.1.3680043.9.7001.1", "1.2.826.0.1.3680043.9.7001.2"
CT_SERIES_A, RT_SERIES_A = "1.2.826.0.1.3680043.9.7001.11", "1.2.826.0.1.3680043.9.7001.12"
CT_SERIES_B, US_SERIES_B = "1.2.826.0.1.3680043.9.7001.21", "1.2.826.0.1.3680043.9.7001.22"
FRAME_A = "1.2.826.0.1.3680043.9.7001.31"
DATE_A, DATE_B = date(2020, 1, 10), date(2020, 3, 15)  # 65 days apart


# --- source data ----------------------------------------------------------------------------


def _bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _planted(ds: Dataset) -> Dataset:
    """Every plantable profile attribute at the top level and inside an unlisted sequence's
    item, plus private tags (a private block, a private sequence, a private tag in an item)."""
    for tag in plantable_tags():
        if tag in (0x00080018, 0x0020000D, 0x0020000E, 0x00200052):  # keep the UIDs we index
            continue
        plant(ds, tag)
    nested = Dataset()
    for tag in plantable_tags():
        plant(nested, tag)
    nested.private_block(0x0011, "ACME 1.0", create=True).add_new(0x10, "LT", SENTINEL)
    ds.add_new(0x00400275, "SQ", Sequence([nested]))  # Request Attributes Sequence
    block = ds.private_block(0x0009, SENTINEL, create=True)
    block.add_new(0x01, "LO", SENTINEL)
    inner = Dataset()
    inner.PatientComments = SENTINEL
    block.add_new(0x02, "SQ", Sequence([inner]))
    return ds


def _ct(index: int, *, study: str, series: str, sop: str, day: date, mrn: str) -> Dataset:
    ds = ct_slice(index, study=study, series=series, frame=FRAME_A)
    ds.SOPInstanceUID = sop
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.PatientID = mrn
    for attr in ("StudyDate", "SeriesDate", "ContentDate"):
        setattr(ds, attr, day.strftime("%Y%m%d"))
    ds.AcquisitionDateTime = day.strftime("%Y%m%d") + "101733.250000"
    ds.ImagePositionPatient = [0.0, 0.0, float(index)]
    return _planted(ds)


def _rtstruct(cts: list[Dataset], sop: str) -> Dataset:
    image = cts[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RTSTRUCT_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_STORAGE, sop
    ds.Modality = "RTSTRUCT"
    ds.PatientName, ds.PatientID = image.PatientName, image.PatientID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = image.StudyInstanceUID, RT_SERIES_A
    ds.StudyDate = image.StudyDate
    ds.FrameOfReferenceUID = FRAME_A
    contour_images = []
    for ct in cts:
        ref = Dataset()
        ref.ReferencedSOPClassUID = ct.SOPClassUID
        ref.ReferencedSOPInstanceUID = ct.SOPInstanceUID
        contour_images.append(ref)
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = image.SeriesInstanceUID
    series_ref.ContourImageSequence = Sequence(contour_images)
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study_ref.ReferencedSOPInstanceUID = image.StudyInstanceUID
    study_ref.RTReferencedSeriesSequence = Sequence([series_ref])
    frame_ref = Dataset()
    frame_ref.FrameOfReferenceUID = FRAME_A
    frame_ref.RTReferencedStudySequence = Sequence([study_ref])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame_ref])
    roi = Dataset()
    roi.ROINumber = 1
    roi.ROIName = SENTINEL
    roi.ReferencedFrameOfReferenceUID = FRAME_A
    ds.StructureSetROISequence = Sequence([roi])
    return ds


def _ultrasound(mrn: str) -> Dataset:
    ds = ct_slice(0, study=STUDY_B, series=US_SERIES_B)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = US_SERIES_B + ".1"
    ds.Modality = "US"
    ds.PatientID = mrn
    ds.StudyDate = DATE_B.strftime("%Y%m%d")
    return ds


def _store(series: Series, ds: Dataset) -> Instance:
    data = _bytes(ds)
    name = default_storage.save(f"imaging/test/{uuid.uuid4().hex}.dcm", ContentFile(data))
    return Instance.objects.create(
        series=series,
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=str(ds.SOPClassUID),
        storage_name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        transfer_syntax=str(ds.file_meta.TransferSyntaxUID),
    )


class Source:
    """The patient's two studies as stored: A (CT x3 + RTSTRUCT), B (CT x1 + burned-in US)."""

    def __init__(self, world: World) -> None:
        patient = world.patient
        self.patient = patient
        mrn = patient.mrn
        study_a = Study.objects.create(
            patient=patient,
            institution=patient.institution,
            study_instance_uid=STUDY_A,
            study_date=DATE_A,
        )
        study_b = Study.objects.create(
            patient=patient,
            institution=patient.institution,
            study_instance_uid=STUDY_B,
            study_date=DATE_B,
        )
        self.ct_a = Series.objects.create(
            study=study_a, series_instance_uid=CT_SERIES_A, modality="CT", series_number=1
        )
        self.rt_a = Series.objects.create(
            study=study_a, series_instance_uid=RT_SERIES_A, modality="RTSTRUCT", series_number=2
        )
        self.ct_b = Series.objects.create(
            study=study_b, series_instance_uid=CT_SERIES_B, modality="CT", series_number=1
        )
        self.us_b = Series.objects.create(
            study=study_b, series_instance_uid=US_SERIES_B, modality="US", series_number=2
        )
        self.cts_a = [
            _ct(i, study=STUDY_A, series=CT_SERIES_A, sop=f"{CT_SERIES_A}.{i}", day=DATE_A, mrn=mrn)
            for i in range(3)
        ]
        for ds in self.cts_a:
            _store(self.ct_a, ds)
        self.rtstruct = _rtstruct(self.cts_a, f"{RT_SERIES_A}.1")
        _store(self.rt_a, self.rtstruct)
        self.ct_b = self.ct_b
        self.ct_b_ds = _ct(
            0, study=STUDY_B, series=CT_SERIES_B, sop=f"{CT_SERIES_B}.0", day=DATE_B, mrn=mrn
        )
        _store(self.ct_b, self.ct_b_ds)
        _store(self.us_b, _ultrasound(mrn))
        self.all_series = [self.ct_a, self.rt_a, self.ct_b, self.us_b]

    @property
    def series_ids(self) -> list[str]:
        return [str(s.public_id) for s in self.all_series]

    def phi(self) -> list[bytes]:
        """What must never appear: the sentinel, the patient's identity, the source UIDs."""
        p = self.patient
        values = [SENTINEL, SENTINEL_CS, p.mrn, p.family_name, p.given_name, "Doe^Jane"]
        values += ["General Hospital", "HOSPITALPACS", "1.2.826.0.1.3680043.9.7001"]
        values += [str(p.public_id), p.research_id]
        return [v.encode() for v in values]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEID_KEY_ENCRYPTION_KEY = "test-key-encryption-key-" + "k" * 40


@pytest.fixture
def source(world: World) -> Source:
    return Source(world)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    def run() -> Any:
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def api_oncologist(world: World) -> APIClient:
    client = APIClient()
    client.force_authenticate(world.oncologist)
    return client


def _export(world: World, source: Source, on_commit: Any, series: list[str] | None = None):
    with on_commit():
        export = research_export_create(
            user=world.oncologist,
            series_public_ids=series or source.series_ids,
            purpose="Thoracic radiomics study 2026",
        )
    export.refresh_from_db()
    assert export.job is not None
    assert export.job.status == JobStatus.SUCCEEDED, export.job.error
    return export


def _zip_bytes(export: ResearchExport) -> bytes:
    with default_storage.open(export.storage_name, "rb") as handle:
        return handle.read()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _datasets(data: bytes) -> list[Dataset]:
    return [
        pydicom.dcmread(io.BytesIO(body))
        for name, body in _members(data).items()
        if name.endswith(".dcm")
    ]


# --- the zip --------------------------------------------------------------------------------


def test_planted_phi_never_appears_in_the_zip_its_names_manifest_or_summary(
    world: World, source: Source, on_commit: Any
) -> None:
    planted = _bytes(source.cts_a[0])
    assert planted.count(SENTINEL.encode()) > 400  # the plant really happened
    export = _export(world, source, on_commit)
    data = _zip_bytes(export)
    members = _members(data)
    assert len([n for n in members if n.endswith(".dcm")]) == 5  # 3 CT + RTSTRUCT + CT
    haystacks = [data, *members.values(), "\n".join(members).encode()]
    haystacks.append(repr(export.summary).encode() + repr(export.job.result).encode())
    haystacks += [repr(e.detail).encode() for e in AuditEvent.objects.all()]
    for needle in source.phi():
        for hay in haystacks:
            assert needle not in hay, needle
    assert hashlib.sha256(data).hexdigest() == export.sha256
    assert export.size_bytes == len(data)


def test_uids_are_consistent_across_the_series_and_inside_the_structure_set_references(
    world: World, source: Source, on_commit: Any
) -> None:
    datasets = _datasets(_zip_bytes(_export(world, source, on_commit)))
    study_a_cts = [d for d in datasets if d.Modality == "CT"]
    rt = next(d for d in datasets if d.Modality == "RTSTRUCT")
    series_a = {
        str(d.SeriesInstanceUID) for d in study_a_cts if d.StudyInstanceUID == rt.StudyInstanceUID
    }
    assert len(series_a) == 1
    ct_a = [d for d in study_a_cts if str(d.SeriesInstanceUID) in series_a]
    assert len(ct_a) == 3
    assert {str(d.FrameOfReferenceUID) for d in ct_a} == {str(rt.FrameOfReferenceUID)}
    frame_ref = rt.ReferencedFrameOfReferenceSequence[0]
    study_ref = frame_ref.RTReferencedStudySequence[0]
    series_ref = study_ref.RTReferencedSeriesSequence[0]
    assert str(frame_ref.FrameOfReferenceUID) == str(rt.FrameOfReferenceUID)
    assert str(study_ref.ReferencedSOPInstanceUID) == str(rt.StudyInstanceUID)
    assert str(series_ref.SeriesInstanceUID) == series_a.pop()
    referenced = {str(r.ReferencedSOPInstanceUID) for r in series_ref.ContourImageSequence}
    assert referenced == {str(d.SOPInstanceUID) for d in ct_a}
    assert all(str(d.SOPInstanceUID).startswith("2.25.") for d in datasets)
    for d in datasets:  # the method is recorded in every exported instance
        assert d.PatientIdentityRemoved == "YES"
        codes = {item.CodeValue for item in d.DeidentificationMethodCodeSequence}
        assert codes == {"113100", "113107"}


def test_a_second_export_of_the_same_study_maps_every_uid_identically(
    world: World, source: Source, on_commit: Any
) -> None:
    first = _members(_zip_bytes(_export(world, source, on_commit)))
    second = _members(_zip_bytes(_export(world, source, on_commit, [str(source.ct_a.public_id)])))
    ct_names = [n for n in second if n.endswith(".dcm")]
    assert len(ct_names) == 3
    for name in ct_names:  # same path (pseudonym/study/series/instance) and same bytes
        assert second[name] == first[name]


def test_the_interval_between_the_patients_two_studies_is_preserved(
    world: World, source: Source, on_commit: Any
) -> None:
    datasets = _datasets(_zip_bytes(_export(world, source, on_commit)))
    dates = sorted({date.fromisoformat(str(d.StudyDate)) for d in datasets if d.Modality == "CT"})
    assert len(dates) == 2
    assert dates[1] - dates[0] == DATE_B - DATE_A
    assert dates[0] < DATE_A  # shifted into the past, by one offset for the patient
    assert {str(d.PatientID) for d in datasets} == {str(datasets[0].PatientName)}
    assert str(datasets[0].PatientID).startswith("ANON-")


def test_pixel_data_is_byte_for_byte_the_source_pixel_data(
    world: World, source: Source, on_commit: Any
) -> None:
    datasets = _datasets(_zip_bytes(_export(world, source, on_commit)))
    uid_map = HmacUidMap(institution_deid_key(institution=world.institution))
    exported = {str(d.SOPInstanceUID): d for d in datasets}
    for original in [*source.cts_a, source.ct_b_ds]:
        out = exported[uid_map.get_or_create(str(original.SOPInstanceUID))]
        assert hashlib.sha256(out.PixelData).digest() == hashlib.sha256(original.PixelData).digest()
        assert out.Rows == original.Rows


def test_burned_in_instance_is_quarantined_and_only_counted_by_reason(
    world: World, source: Source, on_commit: Any
) -> None:
    export = _export(world, source, on_commit)
    assert export.summary["quarantined"] == 1
    assert export.summary["quarantine_reasons"] == {
        "modality US often carries burned-in annotation": 1
    }
    assert export.summary["exported"] == 5
    assert export.summary["instances"] == 6
    mapped_us = HmacUidMap(institution_deid_key(institution=world.institution)).get_or_create(
        US_SERIES_B + ".1"
    )
    assert mapped_us.encode() not in b"".join(_members(_zip_bytes(export)).values())
    assert not any(d.Modality == "US" for d in _datasets(_zip_bytes(export)))


def test_another_institution_maps_the_same_uids_differently(
    world: World, source: Source, on_commit: Any
) -> None:
    datasets = _datasets(_zip_bytes(_export(world, source, on_commit)))
    exported_studies = {str(d.StudyInstanceUID) for d in datasets}
    own = HmacUidMap(institution_deid_key(institution=world.institution))
    assert own.get_or_create(STUDY_A) in exported_studies
    other_institution = InstitutionFactory(code="east")
    other = HmacUidMap(institution_deid_key(institution=other_institution))
    assert other.get_or_create(STUDY_A) not in exported_studies
    assert other.get_or_create(STUDY_B) not in exported_studies


def test_a_crash_after_storing_registers_nothing_and_the_retry_stores_the_same_bytes(
    world: World, source: Source, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection (the one patched internal): the first attempt dies after the zip is in
    # storage, before the job commits, like a worker killed at that moment.
    from imaging.services import export as export_module

    real = export_module.audit_record_many
    calls = {"n": 0}

    def crash_once(**kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # 1: the create request's events; 2: the first build's
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(export_module, "audit_record_many", crash_once)
    export = _export(world, source, on_commit)
    assert export.job.attempts == 2
    root = Path(default_storage.path("imaging/exports"))
    stored = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert stored == [f"{world.institution.pk}/{export.public_id.hex}.zip"]  # no leftovers
    data = _zip_bytes(export)
    assert hashlib.sha256(data).hexdigest() == export.sha256
    # A rebuild gives the same bytes: the zip is deterministic, so a redelivered job is harmless.
    monkeypatch.setattr(export_module, "audit_record_many", real)
    research_export_build(export=ResearchExport.objects.get(pk=export.pk))
    assert _zip_bytes(export) == data


def test_a_job_that_dies_after_storing_on_every_attempt_leaves_no_file(
    world: World, source: Source, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.services import export as export_module

    real = export_module.audit_record_many

    def crash_in_builds(**kwargs: Any) -> int:
        if kwargs["events"][0]["action"] == "export":
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(export_module, "audit_record_many", crash_in_builds)
    with on_commit():
        export = research_export_create(
            user=world.oncologist, series_public_ids=source.series_ids, purpose="x"
        )
    export.refresh_from_db()
    assert export.job.status == JobStatus.FAILED
    assert export.job.error.startswith("RuntimeError at test_app_export.py:")  # no values
    assert (export.storage_name, export.sha256, export.size_bytes) == ("", "", None)
    root = Path(default_storage.path("imaging/exports"))
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_a_build_that_fails_leaves_no_file_and_no_registration(
    world: World, source: Source, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.services import export as export_module

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("storage unavailable")

    monkeypatch.setattr(export_module, "_store_whole", broken)
    with on_commit():
        export = research_export_create(
            user=world.oncologist, series_public_ids=source.series_ids, purpose="x"
        )
    export.refresh_from_db()
    assert export.job.status == JobStatus.FAILED
    assert export.job.attempts == export.job.max_attempts
    assert (export.storage_name, export.sha256, export.completed_at) == ("", "", None)
    assert not default_storage.exists("imaging/exports")


# --- who may export and download ------------------------------------------------------------


def _api_create(client: APIClient, source: Source, on_commit: Any) -> Any:
    with on_commit():
        return client.post(
            reverse("api-research-export-list"),
            {"series": source.series_ids, "purpose": "Registry submission"},
            format="json",
        )


def test_api_create_status_and_download_for_the_requester(
    world: World, source: Source, on_commit: Any, api_oncologist: APIClient
) -> None:
    response = _api_create(api_oncologist, source, on_commit)
    assert response.status_code == 202, response.content
    export_id = response.json()["public_id"]
    status = api_oncologist.get(
        reverse("api-research-export-detail", kwargs={"export_id": export_id})
    ).json()
    assert status["status"] == "succeeded"
    assert status["summary"]["quarantined"] == 1
    before = AuditEvent.objects.filter(action="export").count()
    download = api_oncologist.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        f'attachment; filename="research-export-{export_id}.zip"'
    )
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == status["sha256"]
    events = AuditEvent.objects.filter(action="export").order_by("id")[before:]
    assert [(e.patient_id, e.object_id, e.detail["result"]) for e in events] == [
        (world.patient.pk, export_id, "downloaded")
    ]
    created = AuditEvent.objects.get(action="create", object_type="research_export")
    assert created.patient_id == world.patient.pk


@pytest.mark.parametrize(
    ("who", "expected"),
    [("outsider_oncologist", 404), ("member", 403), ("integration", 403), ("anonymous", 401)],
)
def test_only_oncologists_and_data_managers_of_the_care_team_can_export(
    world: World, source: Source, on_commit: Any, who: str, expected: int
) -> None:
    client = APIClient()
    if who == "outsider_oncologist":
        client.force_authenticate(
            UserFactory(
                role=Role.ONCOLOGIST, institution=world.institution, teams=[world.other_team]
            )
        )
    elif who == "integration":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.integration_token}")
    elif who == "member":
        client.force_authenticate(world.member)
    assert _api_create(client, source, on_commit).status_code == expected
    assert not ResearchExport.objects.exists()
    assert not Job.objects.exists()


def test_a_data_manager_of_the_care_team_can_export(
    world: World, source: Source, on_commit: Any
) -> None:
    client = APIClient()
    client.force_authenticate(
        UserFactory(role=Role.DATA_MANAGER, institution=world.institution, teams=[world.team])
    )
    assert _api_create(client, source, on_commit).status_code == 202


def test_nobody_but_the_requester_can_read_or_download_an_export(
    world: World, source: Source, on_commit: Any, api_oncologist: APIClient
) -> None:
    export_id = _api_create(api_oncologist, source, on_commit).json()["public_id"]
    colleague = UserFactory(role=Role.ONCOLOGIST, institution=world.institution, teams=[world.team])
    outsider = UserFactory(
        role=Role.ONCOLOGIST, institution=world.institution, teams=[world.other_team]
    )
    for user in (colleague, outsider, world.outsider):
        client = APIClient()
        client.force_authenticate(user)
        for name in ("api-research-export-detail", "api-research-export-download"):
            url = reverse(name, kwargs={"export_id": export_id})
            assert client.get(url).status_code == 404
        page = Client()
        page.force_login(user)
        url = reverse("imaging:export-download", kwargs={"export_id": export_id})
        assert page.get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="export", detail__result="downloaded").exists()


def test_a_requester_who_left_the_care_team_can_no_longer_download(
    world: World, source: Source, on_commit: Any, api_oncologist: APIClient
) -> None:
    export_id = _api_create(api_oncologist, source, on_commit).json()["public_id"]
    world.team.members.remove(world.oncologist)
    url = reverse("api-research-export-download", kwargs={"export_id": export_id})
    assert api_oncologist.get(url).status_code == 403


def test_series_of_an_invisible_patient_make_the_whole_request_404(
    world: World, source: Source, on_commit: Any, api_oncologist: APIClient
) -> None:
    stranger = PatientFactory(institution=world.institution, teams=[world.other_team])
    study = Study.objects.create(
        patient=stranger, institution=world.institution, study_instance_uid="1.2.3.999"
    )
    hidden = Series.objects.create(study=study, series_instance_uid="1.2.3.999.1", modality="CT")
    with on_commit():
        response = api_oncologist.post(
            reverse("api-research-export-list"),
            {"series": [*source.series_ids, str(hidden.public_id)], "purpose": "x"},
            format="json",
        )
    assert response.status_code == 404
    assert not ResearchExport.objects.exists()


def test_a_missing_purpose_is_refused_and_changes_nothing(
    world: World, source: Source, on_commit: Any, api_oncologist: APIClient
) -> None:
    with on_commit():
        response = api_oncologist.post(
            reverse("api-research-export-list"),
            {"series": source.series_ids, "purpose": "   "},
            format="json",
        )
    assert response.status_code == 400
    assert "purpose" in response.json()["error"]["fields"]
    assert not ResearchExport.objects.exists()


# --- pages ----------------------------------------------------------------------------------


def test_the_page_flow_choose_series_export_list_and_download(
    world: World, source: Source, on_commit: Any
) -> None:
    client = Client()
    client.force_login(world.oncologist)
    url = reverse("imaging:export-create", kwargs={"public_id": world.patient.public_id})
    page = client.get(url)
    assert page.status_code == 200
    assert str(source.ct_a.public_id).encode() in page.content
    refused = client.post(url, {"series": source.series_ids[:1], "purpose": ""})
    assert refused.status_code == 200
    assert b"This field is required" in refused.content
    assert not ResearchExport.objects.exists()
    with on_commit():
        created = client.post(url, {"series": source.series_ids[:2], "purpose": "Trial QA"})
    assert created.status_code == 302
    listing = client.get(reverse("imaging:export-list"))
    export = ResearchExport.objects.get()
    assert b"Succeeded" in listing.content
    assert b"Trial QA" in listing.content
    download = client.get(
        reverse("imaging:export-download", kwargs={"export_id": export.public_id})
    )
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == export.sha256
    for needle in source.phi():
        assert needle not in download["Content-Disposition"].encode()


def test_the_imaging_page_links_to_the_research_export_for_those_who_may_export(
    world: World, source: Source
) -> None:
    studies = reverse("imaging:study-list", kwargs={"public_id": world.patient.public_id})
    url = reverse("imaging:export-create", kwargs={"public_id": world.patient.public_id})
    oncologist = Client()
    oncologist.force_login(world.oncologist)
    assert url.encode() in oncologist.get(studies).content
    clinician = Client()
    clinician.force_login(world.member)  # least privilege: a clinician does not export
    assert url.encode() not in clinician.get(studies).content
    assert clinician.get(url).status_code == 403


# --- the institution's key ------------------------------------------------------------------


def test_the_key_is_created_once_and_stored_sealed(world: World) -> None:
    key = institution_deid_key(institution=world.institution)
    assert len(key) == 32
    assert institution_deid_key(institution=world.institution) == key
    row = DeidentificationKey.objects.get(institution=world.institution)
    assert row.sealed_key.startswith("deid-v1.")
    for encoding in (key.hex(), key.hex().upper()):
        assert encoding not in row.sealed_key
    assert base64.urlsafe_b64encode(key).decode().rstrip("=")[:20] not in row.sealed_key
    assert unseal_key(row.sealed_key, institution_id=world.institution.pk) == key


def test_every_changed_byte_of_a_sealed_key_is_refused() -> None:
    key = bytes(range(32))
    sealed = seal_key(key, institution_id=7)
    version, kek_id, body = sealed.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body))
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        text = f"{version}.{kek_id}.{base64.urlsafe_b64encode(bytes(changed)).decode()}"
        with pytest.raises(DeidKeyError, match="integrity check"):
            unseal_key(text, institution_id=7)
    with pytest.raises(DeidKeyError, match="integrity check"):
        unseal_key(sealed, institution_id=8)  # copied onto another institution's row
    with pytest.raises(DeidKeyError, match="unknown format"):
        unseal_key("deid-v0." + sealed.split(".", 1)[1], institution_id=7)
    assert unseal_key(sealed, institution_id=7) == key


def test_a_changed_key_encryption_setting_is_named_in_the_error(settings: Any) -> None:
    sealed = seal_key(bytes(32), institution_id=1)
    settings.DEID_KEY_ENCRYPTION_KEY = "another-key-encryption-key-" + "z" * 40
    with pytest.raises(DeidKeyError, match="DEID_KEY_ENCRYPTION_KEY"):
        unseal_key(sealed, institution_id=1)
    settings.DEID_KEY_ENCRYPTION_KEY = "short"
    with pytest.raises(DeidKeyError, match="too short"):
        seal_key(bytes(32), institution_id=1)


def test_a_tampered_sealed_key_refuses_the_export_with_a_clear_error(
    world: World, source: Source, on_commit: Any, api_oncologist: APIClient
) -> None:
    institution_deid_key(institution=world.institution)
    row = DeidentificationKey.objects.get(institution=world.institution)
    version, kek_id, body = row.sealed_key.split(".")
    row.sealed_key = f"{version}.{kek_id}.{body[:10]}{'A' if body[10] != 'A' else 'B'}{body[11:]}"
    row.save()
    response = _api_create(api_oncologist, source, on_commit)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "deid_key_unavailable"
    assert "integrity check" in error["message"]
    assert not ResearchExport.objects.exists()
    page = Client()
    page.force_login(world.oncologist)
    url = reverse("imaging:export-create", kwargs={"public_id": world.patient.public_id})
    shown = page.post(url, {"series": source.series_ids, "purpose": "x"})
    assert b"integrity check" in shown.content
    assert not ResearchExport.objects.exists()


def test_a_key_tampered_after_the_request_fails_the_job_with_the_reason(
    world: World, source: Source, on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    institution_deid_key(institution=world.institution)
    DeidentificationKey.objects.update(sealed_key="deid-v1.00.AAAA")
    with on_commit():
        # The request's own check is what this test bypasses: the key breaks in between.
        from imaging.services import export as export_module

        monkeypatch.setattr(export_module, "institution_deid_key", lambda **kw: b"k" * 32)
        export = research_export_create(
            user=world.oncologist, series_public_ids=source.series_ids, purpose="x"
        )
        monkeypatch.undo()
    export.refresh_from_db()
    assert export.job.status == JobStatus.FAILED
    assert "de-identification key" in export.job.error
    assert export.storage_name == ""


@pytest.mark.django_db(transaction=True)
def test_two_requests_creating_the_key_at_once_get_the_same_key() -> None:
    institution = InstitutionFactory(code="race")
    CareTeamFactory(institution=institution)
    keys: list[bytes] = []
    started = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                keys.append(institution_deid_key(institution=institution))
                started.set()
                # Hold the uncommitted row while the second request tries to insert its own.
                threading.Event().wait(0.5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            started.set()
            connection.close()

    def second() -> None:
        try:
            started.wait(5)
            keys.append(institution_deid_key(institution=institution))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert DeidentificationKey.objects.filter(institution=institution).count() == 1
    assert deid_keys.KEY_BYTES == len(keys[0])


def test_status_says_queued_and_download_is_409_until_the_job_has_run(
    world: World, source: Source, api_oncologist: APIClient
) -> None:
    response = api_oncologist.post(  # no commit in this test: the job stays queued
        reverse("api-research-export-list"),
        {"series": source.series_ids, "purpose": "later"},
        format="json",
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["download_url"], body["summary"]) == ("queued", None, {})
    url = reverse("api-research-export-download", kwargs={"export_id": body["public_id"]})
    assert api_oncologist.get(url).status_code == 409
    listed = api_oncologist.get(reverse("api-research-export-list")).json()
    assert [e["public_id"] for e in listed] == [body["public_id"]]


def test_listing_my_exports_takes_a_fixed_number_of_queries(
    world: World, source: Source, api_oncologist: APIClient, django_assert_num_queries: Any
) -> None:
    for purpose in ("one", "two", "three"):
        api_oncologist.post(  # not committed: the jobs stay queued
            reverse("api-research-export-list"),
            {"series": source.series_ids, "purpose": purpose},
            format="json",
        )
    # The request's savepoint and its release (ATOMIC_REQUESTS), and one query: the exports with
    # their jobs and series counts.
    with django_assert_num_queries(3):
        listed = api_oncologist.get(reverse("api-research-export-list")).json()
    assert [e["purpose"] for e in listed] == ["three", "two", "one"]
    assert {e["series_count"] for e in listed} == {4}
