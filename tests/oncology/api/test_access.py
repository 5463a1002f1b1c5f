"""Who may call which endpoint: the persona matrix for every route of /api/v1/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.models import AuditAction, AuditEvent, Role
from oncology.models import Patient
from tests.factories import UserFactory
from tests.oncology.api.payloads import lung_record

pytestmark = pytest.mark.django_db

LIST = "/api/v1/patients/"
BULK = "/api/v1/patients/bulk/"
ME = "/api/v1/me/"


def detail(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.public_id}/"


@pytest.fixture
def api_outsider(world):
    client = APIClient()
    client.force_authenticate(world.outsider)
    return client


def _listed(response) -> set[str]:
    return {row["public_id"] for row in response.json()["results"]}


# --- GET /patients/ ---------------------------------------------------------------------------


def test_a_care_team_member_lists_their_patient(world, api_member):
    response = api_member.get(LIST)
    assert response.status_code == 200
    assert _listed(response) == {str(world.patient.public_id)}


def test_a_clinician_outside_the_care_team_does_not_see_the_patient_in_the_list(
    world, api_outsider
):
    response = api_outsider.get(LIST)
    assert response.status_code == 200
    assert str(world.patient.public_id) not in _listed(response)


def test_the_integration_client_lists_every_patient_of_its_institution(world, api_integration):
    response = api_integration.get(LIST)
    assert response.status_code == 200
    assert _listed(response) == {str(world.patient.public_id)}


def test_another_institutions_integration_client_lists_none_of_ours(world, api_foreign_integration):
    response = api_foreign_integration.get(LIST)
    assert response.status_code == 200
    assert _listed(response) == set()


# --- GET /patients/{id}/ ----------------------------------------------------------------------


def test_a_care_team_member_reads_the_full_record(world, api_member):
    response = api_member.get(detail(world.patient))
    assert response.status_code == 200
    body = response.json()
    assert body["public_id"] == str(world.patient.public_id)
    assert body["diagnoses"][0]["primary_site"] == "C34.1"


def test_the_integration_client_reads_a_record_of_its_institution(world, api_integration):
    assert api_integration.get(detail(world.patient)).status_code == 200


@pytest.mark.parametrize("persona", ["api_outsider", "api_foreign_integration"])
def test_a_client_that_may_not_see_the_patient_gets_404_and_no_view_event(world, persona, request):
    client = request.getfixturevalue(persona)
    response = client.get(detail(world.patient))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW).exists()


# --- POST /patients/ and /patients/bulk/ ------------------------------------------------------


def test_a_care_team_member_creates_a_patient_in_their_team(world, api_member):
    response = api_member.post(LIST, lung_record(1), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "created"


def test_a_clinician_outside_the_care_team_cannot_overwrite_the_patient(world, api_outsider):
    record = {"mrn": world.patient.mrn, "given_name": "Changed", "care_teams": ["breast"]}
    response = api_outsider.post(LIST, record, format="json")
    assert response.status_code == 403
    world.patient.refresh_from_db()
    assert world.patient.given_name != "Changed"


def test_the_integration_client_updates_a_patient_of_its_institution(world, api_integration):
    response = api_integration.post(
        LIST, {"mrn": world.patient.mrn, "given_name": "Changed"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "updated"
    world.patient.refresh_from_db()
    assert world.patient.given_name == "Changed"


def test_another_institutions_client_writes_only_into_its_own_institution(
    world, api_foreign_integration
):
    record = lung_record(1, mrn=world.patient.mrn, care_teams=[])
    response = api_foreign_integration.post(LIST, record, format="json")
    assert response.status_code == 201
    assert response.json()["patient_public_id"] != str(world.patient.public_id)
    world.patient.refresh_from_db()
    assert world.patient.institution == world.institution
    assert world.patient.given_name != "Ada"


def test_the_bulk_endpoint_applies_the_same_rules_per_record(world, api_outsider):
    records = [lung_record(1, care_teams=["breast"]), {"mrn": world.patient.mrn, "sex": "male"}]
    response = api_outsider.post(BULK, {"records": records}, format="json")
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["created", "error"]
    world.patient.refresh_from_db()
    assert world.patient.sex == "female"


def test_the_integration_client_bulk_upserts(world, api_integration):
    response = api_integration.post(BULK, {"records": [lung_record(1)]}, format="json")
    assert response.status_code == 200
    assert response.json()["summary"]["created"] == 1


@pytest.mark.parametrize("path", [LIST, BULK])
def test_a_role_that_cannot_edit_the_record_gets_403(world, path):
    admin = UserFactory(role=Role.ADMINISTRATOR, institution=world.institution)
    client = APIClient()
    client.force_authenticate(admin)
    body = lung_record(1) if path == LIST else {"records": [lung_record(1)]}
    response = client.post(path, body, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Patient.objects.filter(mrn="SYN-000001").exists()


# --- anonymous, and GET /me/ ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", LIST), ("post", LIST), ("post", BULK), ("get", ME), ("get", "detail")],
)
def test_an_anonymous_client_gets_401_in_the_error_format(world, method, path):
    url = detail(world.patient) if path == "detail" else path
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not AuditEvent.objects.exists()


def test_a_bad_token_gets_401(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(LIST).status_code == 401


def test_me_tells_an_integrator_who_and_where_they_are_without_audit(world, api_integration):
    response = api_integration.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "username": world.integration.username,
        "role": "integration",
        "is_integration_client": True,
        "can_edit_record": True,
        "institution": {"code": "north", "name": "North Hospital"},
        "care_teams": [],
    }
    assert not AuditEvent.objects.exists()


def test_me_lists_a_clinicians_care_teams(world, api_member):
    assert api_member.get(ME).json()["care_teams"] == ["thoracic"]


def test_another_institutions_bulk_call_cannot_reach_our_patient(world, api_foreign_integration):
    records = [{"mrn": world.patient.mrn, "given_name": "Changed"}]
    response = api_foreign_integration.post(BULK, {"records": records}, format="json")
    result = response.json()["results"][0]
    # For South the MRN is new, and a creation needs the demographics: nothing is written.
    assert result["status"] == "error"
    assert set(result["errors"]) == {"family_name", "sex", "birth_date"}
    world.patient.refresh_from_db()
    assert world.patient.given_name != "Changed"


@pytest.mark.parametrize("persona", ["api_outsider", "api_foreign_integration"])
def test_me_answers_every_authenticated_client_about_itself_only(world, persona, request):
    body = request.getfixturevalue(persona).get(ME).json()
    assert body["username"] != world.member.username
    assert "patients" not in body
