"""POST /api/v1/patients/lookup/: find a record by MRN without putting the MRN in a URL."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditEvent
from tests.conftest import World
from tests.factories import PatientFactory

LOOKUP = reverse("api-patient-lookup")


def _client(world: World, persona: str) -> APIClient:
    client = APIClient()
    if persona == "integration":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.integration_token}")
    elif persona == "foreign":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.foreign_integration_token}")
    elif persona != "anonymous":
        client.force_authenticate(getattr(world, persona))
    return client


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("member", 200),
        ("outsider", 404),
        ("integration", 200),
        ("foreign", 404),
        ("anonymous", 401),
    ],
)
def test_lookup_by_mrn_follows_the_access_rule(world: World, persona: str, status: int) -> None:
    before = AuditEvent.objects.count()
    response = _client(world, persona).post(LOOKUP, {"mrn": world.patient.mrn}, format="json")
    assert response.status_code == status
    if status == 200:
        assert response.json()["public_id"] == str(world.patient.public_id)
        event = AuditEvent.objects.get(pk__gt=before)
        assert (event.action, event.patient_id) == ("view", world.patient.pk)
    else:
        assert AuditEvent.objects.count() == before
        assert world.patient.mrn not in response.content.decode()


def test_an_unknown_mrn_is_a_404_in_the_error_format(world: World) -> None:
    response = _client(world, "integration").post(LOOKUP, {"mrn": "NOPE-1"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_lookup_without_an_mrn_is_a_400_naming_the_field(world: World) -> None:
    response = _client(world, "integration").post(LOOKUP, {"name": "x"}, format="json")
    assert response.status_code == 400
    assert "mrn" in response.json()["error"]["fields"]


def test_the_list_takes_no_identifying_query_parameters(world: World) -> None:
    # Query strings reach access logs; a name or MRN filter there would leak PHI.
    PatientFactory(institution=world.institution, family_name="Other")
    client = _client(world, "integration")
    for query in (f"search={world.patient.family_name}", f"mrn={world.patient.mrn}"):
        response = client.get(reverse("api-patient-list") + "?" + query)
        assert response.status_code == 200
        assert response.json()["count"] == 2  # ignored, not applied
