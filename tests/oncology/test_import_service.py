"""Cohort import service: the dry run writes nothing, the job writes once, audits per patient."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent, Job, JobStatus, Role, User
from oncology.models import Diagnosis, Patient, SystemicTherapy
from oncology.services import imports
from tests.conftest import World
from tests.factories import InstitutionFactory, PatientFactory, UserFactory

COHORT = (
    b"mrn,given_name,family_name,sex,birth_date,care_teams,primary_site,morphology,laterality,"
    b"diagnosis_date,clinical_t,clinical_n,clinical_m,clinical_stage,systemic_regimen,"
    b"systemic_category,systemic_drugs,systemic_start_date\r\n"
    b"CSV001,Ann,Import,female,1960-01-02,thoracic,C34.1,8140/3,right,2021-03-02,T2a,N0,M0,IB,"
    b"carboplatin-pemetrexed,chemotherapy,carboplatin 5 AUC; pemetrexed 500 mg/m2,2021-05-01\r\n"
    b"CSV002,Bob,Import,male,1955-07-08,thoracic,,,,,,,,,,,,\r\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def data_manager(world: World) -> User:
    return UserFactory(
        username="datamanager",
        role=Role.DATA_MANAGER,
        institution=world.institution,
        teams=[world.team],
    )


def _upload(data: bytes = COHORT) -> imports.StoredUpload:
    return imports.cohort_upload_store(file=SimpleUploadedFile("cohort.csv", data))


@pytest.mark.django_db
def test_upload_is_stored_under_imports_with_its_sha256(world: World) -> None:
    upload = _upload()
    assert upload.name.startswith("imports/")
    assert upload.name.endswith(".csv")
    assert upload.size == len(COHORT)
    assert len(upload.sha256) == 64
    with default_storage.open(upload.name, "rb") as fh:
        assert fh.read() == COHORT


@pytest.mark.django_db
def test_preview_reports_each_row_and_writes_nothing_not_even_audit_events(
    world: World, data_manager: User
) -> None:
    patients, events = Patient.objects.count(), AuditEvent.objects.count()

    preview = imports.cohort_import_preview(
        actor=data_manager, institution=world.institution, upload=_upload()
    )

    assert preview["file_errors"] == []
    assert preview["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 0}
    assert [(r["row"], r["status"], r["patient"]) for r in preview["rows"]] == [
        (2, "created", None),
        (3, "created", None),
    ]
    assert Patient.objects.count() == patients
    assert not Diagnosis.objects.filter(external_id="csv-dx1").exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_preview_says_update_or_unchanged_for_patients_already_stored(
    world: World, data_manager: User
) -> None:
    upload = _upload()
    imports.cohort_import_apply(actor=data_manager, institution=world.institution, upload=upload)
    changed = _upload(COHORT.replace(b"1955-07-08", b"1955-07-09"))

    preview = imports.cohort_import_preview(
        actor=data_manager, institution=world.institution, upload=changed
    )

    stored = Patient.objects.get(institution=world.institution, mrn="CSV001")
    assert [(r["status"], r["patient"]) for r in preview["rows"]] == [
        ("unchanged", str(stored.public_id)),
        ("updated", str(Patient.objects.get(mrn="CSV002").public_id)),
    ]
    assert str(Patient.objects.get(mrn="CSV002").birth_date) == "1955-07-08"


@pytest.mark.django_db
def test_preview_reports_the_sync_services_errors_by_csv_column(
    world: World, data_manager: User
) -> None:
    data = COHORT.replace(b",thoracic,C34.1", b",nosuchteam,C34.1").replace(b",male,", b",xx,")
    preview = imports.cohort_import_preview(
        actor=data_manager, institution=world.institution, upload=_upload(data)
    )
    first, second = preview["rows"]
    assert first["status"] == "error"
    assert "care_teams" in first["errors"]
    assert second["status"] == "error"
    assert list(second["errors"]) == ["sex"]
    assert preview["counts"]["error"] == 2


@pytest.mark.django_db
def test_preview_reports_parse_errors_without_asking_the_sync_service(
    world: World, data_manager: User
) -> None:
    data = COHORT.replace(b"1960-01-02", b"02/01/1960")
    preview = imports.cohort_import_preview(
        actor=data_manager, institution=world.institution, upload=_upload(data)
    )
    assert preview["rows"][0] == {
        "row": 2,
        "status": "error",
        "patient": None,
        "errors": {"birth_date": ["Not a date in the form YYYY-MM-DD."]},
    }
    assert preview["rows"][1]["status"] == "created"


@pytest.mark.django_db
def test_preview_of_a_file_in_another_format_lists_file_errors_only(
    world: World, data_manager: User
) -> None:
    preview = imports.cohort_import_preview(
        actor=data_manager, institution=world.institution, upload=_upload(b"name,dob\r\nA,B\r\n")
    )
    assert preview["rows"] == []
    assert "not the cohort format" in preview["file_errors"][0]


@pytest.mark.django_db(transaction=True)
def test_confirmed_import_runs_as_a_job_that_writes_once_and_audits_each_patient(
    world: World, data_manager: User
) -> None:
    events_before = AuditEvent.objects.count()
    upload = _upload()

    job, created = imports.cohort_import_start(
        actor=data_manager, institution=world.institution, upload=upload
    )

    job.refresh_from_db()
    assert created
    assert job.kind == "cohort_import"
    assert job.status == JobStatus.SUCCEEDED
    assert job.created_by == data_manager
    assert job.result["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 0}
    ann = Patient.objects.get(institution=world.institution, mrn="CSV001")
    assert job.result["rows"][0]["patient"] == str(ann.public_id)
    assert list(ann.care_teams.values_list("code", flat=True)) == ["thoracic"]
    therapy = SystemicTherapy.objects.get(patient=ann)
    assert therapy.external_id == "csv-systemic1"
    assert therapy.diagnosis == Diagnosis.objects.get(patient=ann, external_id="csv-dx1")
    # One event per patient written, from the job, and nothing else.
    events = AuditEvent.objects.order_by("id")[events_before:]
    assert [(e.object_type, e.action, e.channel) for e in events] == [
        ("patient", "create", "job"),
        ("patient", "create", "job"),
    ]
    assert {e.request_id for e in events} == {job.public_id.hex}
    assert {e.actor_id for e in events} == {data_manager.pk}


@pytest.mark.django_db(transaction=True)
def test_confirming_the_same_file_twice_gives_one_job(world: World, data_manager: User) -> None:
    first, created_first = imports.cohort_import_start(
        actor=data_manager, institution=world.institution, upload=_upload()
    )
    second, created_second = imports.cohort_import_start(
        actor=data_manager, institution=world.institution, upload=_upload()
    )
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Job.objects.filter(kind="cohort_import").count() == 1
    assert Patient.objects.filter(mrn__startswith="CSV").count() == 2


@pytest.mark.django_db(transaction=True)
def test_import_job_whose_file_disappeared_fails_with_a_readable_error(
    world: World, data_manager: User
) -> None:
    upload = _upload()
    default_storage.delete(upload.name)
    job, _ = imports.cohort_import_start(
        actor=data_manager, institution=world.institution, upload=upload
    )
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "JobError: The uploaded file is no longer stored; upload it again."
    assert not Patient.objects.filter(mrn__startswith="CSV").exists()


@pytest.mark.django_db(transaction=True)
def test_import_job_of_a_file_changed_after_upload_writes_nothing(
    world: World, data_manager: User
) -> None:
    upload = _upload()
    with default_storage.open(upload.name, "wb") as fh:
        fh.write(COHORT.replace(b"CSV001", b"CSV009"))
    job, _ = imports.cohort_import_start(
        actor=data_manager, institution=world.institution, upload=upload
    )
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "changed since it was uploaded" in job.error
    assert not Patient.objects.filter(mrn__startswith="CSV").exists()


@pytest.mark.django_db
def test_rows_with_errors_are_reported_and_the_valid_rows_of_the_job_are_written(
    world: World, data_manager: User
) -> None:
    PatientFactory(institution=world.institution, mrn="CSV002", teams=[world.other_team])
    summary = imports.cohort_import_apply(
        actor=data_manager, institution=world.institution, upload=_upload()
    )
    assert [r["status"] for r in summary["rows"]] == ["created", "error"]
    # CSV002 belongs to a care team the data manager is not in: refused, not overwritten.
    assert "mrn" in summary["rows"][1]["errors"]
    assert Patient.objects.get(mrn="CSV002").given_name != "Bob"


@pytest.mark.django_db
def test_roles_that_may_not_import_are_refused(world: World) -> None:
    for user in (world.member, world.oncologist, world.outsider, world.integration):
        with pytest.raises(PermissionDenied):
            imports.cohort_import_check_actor(actor=user)


@pytest.mark.django_db
def test_a_data_manager_cannot_start_an_import_into_another_institution(
    world: World, data_manager: User
) -> None:
    other = InstitutionFactory(code="elsewhere")
    with pytest.raises(PermissionDenied):
        imports.cohort_import_start(actor=data_manager, institution=other, upload=_upload())
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_stored_upload_name_from_outside_the_import_folder_is_refused() -> None:
    with pytest.raises(imports.ImportRefused):
        imports.StoredUpload.from_dict({"name": "../secret_key", "sha256": "0", "size": 1})


@pytest.mark.django_db
def test_an_upload_over_the_size_cap_is_refused_before_it_is_stored(settings) -> None:
    settings.COHORT_IMPORT_MAX_BYTES = 10
    with pytest.raises(imports.ImportRefused, match="larger than"):
        _upload()
    assert not default_storage.exists("imports") or not default_storage.listdir("imports")[1]


@pytest.mark.django_db
def test_the_example_file_of_the_documentation_imports_cleanly(
    world: World, data_manager: User
) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "import.md"
    example = re.search(r"```csv\n(.*?)```", docs.read_text(), re.S)
    assert example is not None
    summary = imports.cohort_import_apply(
        actor=data_manager, institution=world.institution, upload=_upload(example[1].encode())
    )
    assert summary["file_errors"] == []
    assert [(r["status"], r["errors"]) for r in summary["rows"]] == [("created", {})] * 2
    ann = Patient.objects.get(institution=world.institution, mrn="A100")
    assert ann.diagnoses.get().clinical_stage == "IB"
    assert ann.systemic_therapies.get().drugs[1] == {
        "name": "pemetrexed",
        "dose": 500.0,
        "unit": "mg/m2",
    }
    assert ann.disease_events.get().diagnosis == ann.diagnoses.get()


@pytest.mark.django_db
def test_an_administrator_may_not_import_and_nothing_is_written(world: World) -> None:
    # Administrators manage people and care teams; the clinical record is not theirs to write.
    admin = UserFactory(
        username="admin2",
        role=Role.ADMINISTRATOR,
        institution=world.institution,
        teams=[world.team],
    )
    with pytest.raises(imports.ImportRefused):
        imports.cohort_import_preview(actor=admin, institution=world.institution, upload=_upload())
    assert not Patient.objects.filter(mrn__startswith="CSV").exists()


@pytest.mark.django_db(transaction=True)
def test_the_uploaded_file_is_deleted_once_its_import_has_committed(
    world: World, data_manager: User
) -> None:
    upload = _upload()
    job, _ = imports.cohort_import_start(
        actor=data_manager, institution=world.institution, upload=upload
    )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert not default_storage.exists(upload.name)


@pytest.mark.django_db
def test_stale_uploads_are_purged_unless_an_import_still_needs_them(
    world: World, data_manager: User, settings
) -> None:
    stale, fresh, pending = _upload(), _upload(), _upload()
    day_ago = time.time() - 25 * 3600
    for upload in (stale, pending):
        os.utime(Path(settings.MEDIA_ROOT) / upload.name, (day_ago, day_ago))
    Job.objects.create(
        kind="cohort_import",
        idempotency_key="pending-import",
        payload={"upload": pending.as_dict()},
    )

    assert imports.cohort_uploads_purge() == 1

    assert not default_storage.exists(stale.name)
    assert default_storage.exists(fresh.name)
    assert default_storage.exists(pending.name)
