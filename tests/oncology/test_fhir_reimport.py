"""A record entered through the web forms, exported as FHIR and imported back into the same
database: the items carry `oncoboard-<section>-<id>` identifiers, and an import updates those
items in place (idempotent upsert), it never copies them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditAction, AuditEvent
from oncology.models import RECORD_SECTIONS, Diagnosis, LabResult
from oncology.services.payload import record_payload
from tests.conftest import World
from tests.oncology.test_views import valid_posts

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/fhir/"


def _counts() -> dict[str, int]:
    return {s: m.objects.count() for s, m in RECORD_SECTIONS.items()}  # type: ignore[attr-defined]


def _enter_through_the_forms(world: World, member_client: Client) -> None:
    pid = world.patient.public_id
    world.patient.diagnoses.all().delete()  # the factory's diagnosis; the forms make their own
    posts = valid_posts(0)
    url = reverse("oncology:record-create", args=[pid, "diagnoses"])
    assert member_client.post(url, posts.pop("diagnoses")).status_code == 302
    dx = Diagnosis.objects.get(patient=world.patient)
    assert dx.external_id is None
    for section, data in valid_posts(dx.pk).items():
        if section == "diagnoses":
            continue
        url = reverse("oncology:record-create", args=[pid, section])
        response = member_client.post(url, data)
        assert response.status_code == 302, (section, response.content.decode()[-2000:])
    for model in RECORD_SECTIONS.values():
        assert not model.objects.exclude(external_id=None).exists()  # type: ignore[attr-defined]


def _export(api: APIClient, world: World) -> dict[str, Any]:
    url = reverse("api-fhir-patient-everything", kwargs={"public_id": world.patient.public_id})
    response = api.get(url)
    assert response.status_code == 200
    return response.json()


def test_web_entered_items_reimported_into_the_same_database_are_updated_not_copied(
    world: World, member_client: Client, api_integration: APIClient
) -> None:
    _enter_through_the_forms(world, member_client)
    bundle = _export(api_integration, world)
    lab = LabResult.objects.get(patient=world.patient)
    idents = [
        i["value"] for e in bundle["entry"] for i in _identifiers(e["resource"]) if "value" in i
    ]
    assert f"oncoboard-labs-{lab.pk}" in idents
    counts = _counts()
    before = record_payload(world.patient)

    for _ in range(2):
        response = api_integration.post(IMPORT, bundle, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["summary"] == {"created": 0, "updated": 0, "unchanged": 1}

    assert _counts() == counts
    world.patient.refresh_from_db()
    assert record_payload(world.patient) == before
    for model in RECORD_SECTIONS.values():  # still web-entered items: no external id given
        assert not model.objects.exclude(external_id=None).exists()  # type: ignore[attr-defined]
    actions = list(
        AuditEvent.objects.filter(object_type="patient").values_list("action", flat=True)
    )
    assert actions[-2:] == [AuditAction.SYNC_UNCHANGED, AuditAction.SYNC_UNCHANGED]


def test_a_changed_value_of_a_web_entered_item_updates_that_item(
    world: World, member_client: Client, api_integration: APIClient
) -> None:
    _enter_through_the_forms(world, member_client)
    bundle = _export(api_integration, world)
    lab = LabResult.objects.get(patient=world.patient)
    for entry in bundle["entry"]:
        if any(
            i.get("value") == f"oncoboard-labs-{lab.pk}" for i in _identifiers(entry["resource"])
        ):
            entry["resource"]["valueQuantity"]["value"] = 11.7
    counts = _counts()

    response = api_integration.post(IMPORT, bundle, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["summary"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert _counts() == counts
    lab.refresh_from_db()
    assert (lab.value, lab.external_id) == (11.7, None)
    event = AuditEvent.objects.filter(object_type="patient").latest("id")
    assert (event.action, event.detail) == (AuditAction.UPDATE, {"fields": ["labs"]})


def test_the_alias_of_another_patients_item_is_a_new_item(
    world: World, member_client: Client, api_integration: APIClient
) -> None:
    # The alias names a row of this patient only: a Bundle of another patient that carries it
    # creates that patient's own item (with the alias as its external id).
    _enter_through_the_forms(world, member_client)
    bundle = _export(api_integration, world)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["identifier"][0]["value"] = "OTHER-1"
    counts = _counts()

    response = api_integration.post(IMPORT, bundle, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["summary"]["created"] == 1
    after = _counts()
    assert all(after[s] == 2 * counts[s] for s in counts), (counts, after)
    lab = LabResult.objects.get(patient__mrn="OTHER-1")
    original = LabResult.objects.get(patient=world.patient)
    assert lab.external_id == f"oncoboard-labs-{original.pk}"


def _identifiers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    idents = resource.get("identifier") or []
    return [idents] if isinstance(idents, dict) else list(idents)
