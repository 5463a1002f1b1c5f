"""Cohort import pages: who may use them, the dry run, the confirm, the job status page."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent, Job, JobStatus, Role, User
from oncology.models import Patient
from tests.conftest import World
from tests.factories import InstitutionFactory, UserFactory

COHORT = (
    b"mrn,given_name,family_name,sex,birth_date,care_teams,primary_site,morphology,"
    b"diagnosis_date,clinical_t,clinical_n,clinical_m,clinical_stage\r\n"
    b"CSV001,Ann,Import,female,1960-01-02,thoracic,C34.1,8140/3,2021-03-02,T2a,N0,M0,IB\r\n"
    b"CSV002,Bob,Import,male,1955-07-08,thoracic,,,,,,,\r\n"
)

LIST = reverse("imports:list")
CONFIRM = reverse("imports:confirm")


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


@pytest.fixture
def dm_client(data_manager: User) -> Client:
    c = Client()
    c.force_login(data_manager)
    return c


def _post_file(client: Client, data: bytes = COHORT):
    return client.post(LIST, {"file": SimpleUploadedFile("cohort.csv", data, "text/csv")})


def _status_url(job: Job) -> str:
    return reverse("imports:status", args=[job.public_id])


def _job(user: User, institution_id: int, **fields) -> Job:
    return Job.objects.create(
        kind="cohort_import",
        idempotency_key=f"k-{uuid.uuid4().hex}",
        payload={"institution_id": institution_id, "actor_id": user.pk, "upload": {}},
        created_by=user,
        **fields,
    )


# --- who may import ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_user_is_sent_to_login(world: World, data_manager: User) -> None:
    job = _job(data_manager, world.institution.pk)
    for response in (Client().get(LIST), Client().get(_status_url(job))):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["member", "oncologist", "outsider"])
def test_clinical_roles_get_403_on_every_import_route(
    world: World, data_manager: User, persona: str
) -> None:
    client = Client()
    client.force_login(getattr(world, persona))
    job = _job(data_manager, world.institution.pk)
    assert client.get(LIST).status_code == 403
    assert _post_file(client).status_code == 403
    assert client.post(CONFIRM, {"token": "x"}).status_code == 403
    assert client.get(_status_url(job)).status_code == 403
    assert not Patient.objects.filter(mrn__startswith="CSV").exists()


@pytest.mark.django_db
def test_integration_client_token_cannot_reach_the_import_pages(world: World) -> None:
    response = Client().get(LIST, HTTP_AUTHORIZATION=f"Token {world.integration_token}")
    assert response.status_code == 302  # pages use sessions; a token is no login


@pytest.mark.django_db
def test_data_manager_sees_the_upload_form_and_recent_imports_of_the_institution(
    world: World, data_manager: User, dm_client: Client, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        _job(data_manager, world.institution.pk, status=JobStatus.SUCCEEDED)
    foreign = InstitutionFactory(code="elsewhere")
    _job(data_manager, foreign.pk)  # another institution's import: not listed
    # Session, user, institution, jobs with their creators; the rest are savepoints and the
    # session save. Constant in the number of jobs.
    with django_assert_max_num_queries(9):
        response = dm_client.get(LIST)
    assert response.status_code == 200
    assert b'type="file"' in response.content
    assert len(response.context["jobs"]) == 5


@pytest.mark.django_db
def test_administrator_may_not_open_the_import_page(world: World) -> None:
    admin = UserFactory(username="admin1", role=Role.ADMINISTRATOR, institution=world.institution)
    client = Client()
    client.force_login(admin)
    assert client.get(LIST).status_code == 403


@pytest.mark.django_db
def test_import_of_another_institution_is_a_404(world: World, data_manager: User) -> None:
    foreign = InstitutionFactory(code="elsewhere")
    other_dm = UserFactory(username="dm2", role=Role.DATA_MANAGER, institution=foreign)
    client = Client()
    client.force_login(other_dm)
    job = _job(data_manager, world.institution.pk)
    assert client.get(_status_url(job)).status_code == 404
    assert client.get(reverse("imports:status", args=[uuid.uuid4()])).status_code == 404


# --- dry run -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_upload_shows_the_dry_run_and_writes_nothing(world: World, dm_client: Client) -> None:
    patients, events = Patient.objects.count(), AuditEvent.objects.count()

    response = _post_file(dm_client)

    assert response.status_code == 200
    assert response.templates[0].name == "oncology/import_preview.html"
    content = response.content.decode()
    assert content.count("Would create") == 3  # the count line and both rows
    assert 'name="token"' in content
    assert "CSV001" not in content
    assert "Ann" not in content
    assert Patient.objects.count() == patients
    assert AuditEvent.objects.count() == events
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_dry_run_with_errors_lists_them_by_row_and_column_and_offers_no_import(
    world: World, dm_client: Client
) -> None:
    response = _post_file(dm_client, COHORT.replace(b"1955-07-08", b"8 July 1955"))
    content = response.content.decode()
    assert response.status_code == 200
    assert response.context["can_confirm"] is False
    assert response.context["token"] is None  # nothing to confirm with
    assert 'name="token"' not in content
    assert "birth_date" in content
    assert "Not a date in the form YYYY-MM-DD." in content
    assert "8 July 1955" not in content
    # The file can never be confirmed: it is not kept.
    assert default_storage.listdir("imports")[1] == []


@pytest.mark.django_db
def test_a_file_in_another_format_is_shown_as_file_errors(world: World, dm_client: Client) -> None:
    response = _post_file(dm_client, b"\xff\xfe not utf-8 at all")
    assert response.status_code == 200
    assert "not UTF-8" in response.content.decode()
    assert response.context["can_confirm"] is False


@pytest.mark.django_db
def test_upload_without_a_file_redisplays_the_form(world: World, dm_client: Client) -> None:
    response = dm_client.post(LIST, {})
    assert response.status_code == 200
    assert response.context["form"].errors["file"]


# --- confirm and status ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_confirm_starts_the_job_and_its_page_shows_the_rows_created(
    world: World, data_manager: User, dm_client: Client
) -> None:
    token = _post_file(dm_client).context["token"]
    events_before = AuditEvent.objects.count()

    response = dm_client.post(CONFIRM, {"token": token})

    job = Job.objects.get(kind="cohort_import")
    assert response.status_code == 302
    assert response["Location"] == _status_url(job)
    assert job.created_by == data_manager
    page = dm_client.get(response["Location"])
    assert page.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert page.content.decode().count(">Created<") == 3  # the count line and both rows
    assert "Refresh" not in page
    assert Patient.objects.filter(mrn__startswith="CSV").count() == 2
    new_events = AuditEvent.objects.order_by("id")[events_before:]
    assert [(e.object_type, e.action) for e in new_events] == [("patient", "create")] * 2


@pytest.mark.django_db(transaction=True)
def test_confirming_twice_redirects_to_the_same_import(world: World, dm_client: Client) -> None:
    token = _post_file(dm_client).context["token"]
    first = dm_client.post(CONFIRM, {"token": token})
    second = dm_client.post(CONFIRM, {"token": token}, follow=True)
    assert second.redirect_chain[-1][0] == first["Location"]
    assert "already imported" in second.content.decode()
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_tampered_token_starts_nothing(world: World, dm_client: Client) -> None:
    token = _post_file(dm_client).context["token"]
    response = dm_client.post(CONFIRM, {"token": token[:-2] + "xx"}, follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert "expired or is not valid" in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_another_users_preview_cannot_be_confirmed(world: World, dm_client: Client) -> None:
    token = _post_file(dm_client).context["token"]
    colleague = UserFactory(
        username="dm3", role=Role.DATA_MANAGER, institution=world.institution, teams=[world.team]
    )
    client = Client()
    client.force_login(colleague)
    assert client.post(CONFIRM, {"token": token}).status_code == 403
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_signed_token_naming_a_file_outside_the_import_folder_is_refused(
    world: World, data_manager: User, dm_client: Client
) -> None:
    token = signing.dumps(
        {
            "name": "../secret_key",
            "sha256": "0" * 64,
            "size": 1,
            "user": data_manager.pk,
            "institution": world.institution.pk,
        },
        salt="oncology.cohort-import.upload",
    )
    response = dm_client.post(CONFIRM, {"token": token})
    assert response.status_code == 302
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_status_page_of_a_running_import_refreshes_itself(
    world: World, data_manager: User, dm_client: Client
) -> None:
    job = _job(data_manager, world.institution.pk, status=JobStatus.RUNNING, attempts=1)
    response = dm_client.get(_status_url(job))
    assert response.status_code == 200
    assert response["Refresh"] == "3"
    assert "Running" in response.content.decode()


@pytest.mark.django_db
def test_status_page_of_a_failed_import_shows_its_error(
    world: World, data_manager: User, dm_client: Client
) -> None:
    job = _job(
        data_manager,
        world.institution.pk,
        status=JobStatus.FAILED,
        attempts=3,
        error="JobError: The uploaded file is no longer stored; upload it again.",
    )
    response = dm_client.get(_status_url(job))
    assert "Refresh" not in response
    assert "no longer stored" in response.content.decode()
