"""FHIR REST beyond import/export: the CapabilityStatement (what it claims is checked against
what the server does), reads by id, searches by patient, and the Patient search by identifier
in a form body; access (care team, institution) and audit as for the record API."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from rest_framework.test import APIClient

from core.models import AuditAction, AuditEvent
from oncology.fhir import codes
from oncology.models import Patient
from oncology.services.sync import patient_records_bulk_upsert
from tests.conftest import World
from tests.oncology.api.payloads import lung_record

pytestmark = pytest.mark.django_db

FHIR = "/api/v1/fhir"
FHIR_JSON = "application/fhir+json"


@pytest.fixture
def patient(world: World) -> Patient:
    """A thoracic-team patient with a full record (diagnosis, staging, labs, surgery, ...)."""
    (result,) = patient_records_bulk_upsert(
        actor=world.integration, institution=world.institution, records=[lung_record(3)]
    )
    assert result.status == "created", result.errors
    return Patient.objects.get(public_id=result.patient_public_id)


def _everything(client: APIClient, patient: Patient) -> list[dict[str, Any]]:
    url = reverse("api-fhir-patient-everything", kwargs={"public_id": patient.public_id})
    return [e["resource"] for e in client.get(url).json()["entry"]]


def _search(client: APIClient, path: str, **params: str) -> dict[str, Any]:
    response = client.get(f"{FHIR}/{path}", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    assert body["total"] == len(body.get("entry", []))
    return body


def _codes(resource: dict[str, Any]) -> set[str]:
    return {cd["code"] for cd in resource.get("code", {}).get("coding", [])}


# --- CapabilityStatement ---------------------------------------------------------------------


def test_the_capability_statement_is_public_valid_r4_and_names_the_mcode_profiles() -> None:
    response = APIClient().get(f"{FHIR}/metadata")  # no token: FHIR clients read it first

    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1"
    assert set(body["format"]) == {"application/fhir+json", "json"}
    (rest,) = body["rest"]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert set(by_type) == {
        "Patient",
        "Condition",
        "Observation",
        "Procedure",
        "MedicationRequest",
        "AdverseEvent",
        "CarePlan",
        "MedicationAdministration",
    }
    declared = {p for r in rest["resource"] for p in r.get("supportedProfile", [])}
    assert declared == set(codes.PROFILES.values())  # every profile the export uses, no other
    assert codes.PROFILES["secondary_cancer"] in by_type["Condition"]["supportedProfile"]
    assert [op["name"] for op in by_type["Patient"]["operation"]] == ["everything"]
    assert "interaction" not in by_type["MedicationAdministration"]  # import only
    assert [i["code"] for i in rest["interaction"]] == ["transaction"]


def test_every_interaction_and_search_parameter_claimed_is_served(
    world: World, patient: Patient, api_member: APIClient
) -> None:
    statement = APIClient().get(f"{FHIR}/metadata").json()
    for resource in statement["rest"][0]["resource"]:
        rtype = resource["type"]
        interactions = {i["code"] for i in resource.get("interaction", [])}
        if not interactions:
            assert api_member.get(f"{FHIR}/{rtype}").status_code == 404  # not routed
            continue
        assert interactions == {"read", "search-type"}
        key = "_id" if rtype == "Patient" else "patient"
        found = _search(api_member, rtype, **{key: str(patient.public_id)})
        for param in resource["searchParam"]:
            name = param["name"]
            if name == "identifier":  # only in a POST body: the URL form is refused
                response = api_member.get(f"{FHIR}/{rtype}", {"identifier": patient.mrn})
                assert response.status_code == 400
                continue
            value = str(patient.public_id) if name in ("patient", "subject", "_id") else "x|y"
            params = {key: str(patient.public_id), name: value}
            assert api_member.get(f"{FHIR}/{rtype}", params).status_code == 200, (rtype, name)
        for entry in found.get("entry", []):
            read = api_member.get(f"{FHIR}/{rtype}/{entry['resource']['id']}")
            assert read.status_code == 200, (rtype, entry["resource"]["id"])
            assert read.json() == entry["resource"]


# --- read --------------------------------------------------------------------------------------


def test_read_a_patient_by_its_public_id_is_access_checked_and_audited(
    world: World, patient: Patient, api_member: APIClient, api_foreign_integration: APIClient
) -> None:
    before = AuditEvent.objects.count()
    response = api_member.get(f"{FHIR}/Patient/{patient.public_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(patient.public_id)
    assert body["identifier"][0] == {
        "use": "usual",
        "type": body["identifier"][0]["type"],
        "system": codes.MRN_SYSTEM,
        "value": "SYN-000003",
    }
    assert codes.PROFILES["patient"] in body["meta"]["profile"]
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.action, e.object_type, e.patient_id) for e in events] == [
        (AuditAction.VIEW, "patient_fhir", patient.pk)
    ]
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    assert outsider.get(f"{FHIR}/Patient/{patient.public_id}").status_code == 404
    assert api_foreign_integration.get(f"{FHIR}/Patient/{patient.public_id}").status_code == 404
    assert api_member.get(f"{FHIR}/Patient/{uuid.uuid4()}").status_code == 404
    assert api_member.get(f"{FHIR}/Patient/not-a-uuid").status_code == 404


def test_a_resource_id_names_its_patient_so_another_patients_id_is_404(
    world: World, patient: Patient, api_member: APIClient
) -> None:
    (condition,) = _search(api_member, "Condition", patient=str(patient.public_id))["entry"]
    rid = condition["resource"]["id"]
    assert rid.startswith(patient.public_id.hex)
    assert len(rid) == 64
    # The same resource uuid under the world patient's id (visible too) is no resource.
    forged = world.patient.public_id.hex + rid[32:]
    assert api_member.get(f"{FHIR}/Condition/{forged}").status_code == 404
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    assert outsider.get(f"{FHIR}/Condition/{rid}").status_code == 404
    assert api_member.get(f"{FHIR}/Observation/{rid}").status_code == 404  # wrong type


# --- search ------------------------------------------------------------------------------------


def test_searches_by_patient_return_the_exported_resources_with_server_references(
    world: World, patient: Patient, api_integration: APIClient
) -> None:
    exported = _everything(api_integration, patient)
    for rtype in ("Condition", "Observation", "Procedure", "MedicationRequest", "AdverseEvent"):
        body = _search(api_integration, rtype, patient=f"Patient/{patient.public_id}")
        expected = [r for r in exported if r["resourceType"] == rtype]
        assert body["total"] == len(expected), rtype
        for entry, original in zip(body.get("entry", []), expected, strict=True):
            resource = entry["resource"]
            assert entry["search"] == {"mode": "match"}
            assert entry["fullUrl"].endswith(f"{FHIR}/{rtype}/{resource['id']}")
            assert resource["identifier"] == original["identifier"]
            assert resource["subject"] == {"reference": f"Patient/{patient.public_id}"}
            refs = [r["reference"] for r in resource.get("focus", [])]
            assert all(r.startswith("Condition/") for r in refs)

    labs = _search(
        api_integration, "Observation", patient=str(patient.public_id), category="laboratory"
    )
    loincs = sorted(next(iter(_codes(e["resource"]))) for e in labs["entry"])
    # lung_record's three labs and its grade (a laboratory Observation in mCODE), nothing else
    assert loincs == ["2160-0", "33732-9", "6690-2", "718-7"]
    staging = _search(
        api_integration,
        "Observation",
        subject=str(patient.public_id),
        code="http://loinc.org|21905-5,http://loinc.org|21908-9",  # cT, clinical stage group
    )
    values = sorted(
        e["resource"]["valueCodeableConcept"]["coding"][0]["code"] for e in staging["entry"]
    )
    assert values == ["IB", "T2a"]
    assert (
        _search(api_integration, "Observation", patient=str(patient.public_id), code="|21905-5")[
            "total"
        ]
        == 0
    )  # "|code" asks for a code without a system
    assert _search(api_integration, "Patient", _id=str(patient.public_id))["total"] == 1


def test_a_search_outside_the_care_team_is_empty_and_audited_without_a_patient(
    world: World, patient: Patient
) -> None:
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    before = AuditEvent.objects.count()

    body = _search(outsider, "Condition", patient=str(patient.public_id))

    assert body["total"] == 0
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.action, e.patient_id, e.detail) for e in events] == [
        (AuditAction.LIST, None, {"count": 0, "format": "Condition"})
    ]


def test_a_search_writes_one_list_event_for_its_patient(
    patient: Patient, api_member: APIClient
) -> None:
    before = AuditEvent.objects.count()
    body = _search(api_member, "Observation", patient=str(patient.public_id))
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.action, e.object_type, e.patient_id, e.detail) for e in events] == [
        (
            AuditAction.LIST,
            "patient_fhir",
            patient.pk,
            {"count": body["total"], "format": "Observation"},
        )
    ]


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("Condition", {}, "patient"),
        ("Condition", {"patient": "nope"}, "patient"),
        ("Condition", {"patient": "PID", "_count": "5"}, "_count"),
        ("Condition", {"patient": "PID", "_format": "xml"}, "_format"),
        ("MedicationRequest", {"patient": "PID", "code": "x"}, "code"),
        ("Patient", {"identifier": "SYN-000003"}, "identifier"),
        ("Patient", {"name": "Synthetic"}, "name"),
    ],
)
def test_a_search_parameter_we_do_not_support_is_a_400_naming_it(
    patient: Patient, api_member: APIClient, path: str, params: dict[str, str], param: str
) -> None:
    params = {k: str(patient.public_id) if v == "PID" else v for k, v in params.items()}
    before = AuditEvent.objects.count()
    response = api_member.get(f"{FHIR}/{path}", params)

    assert response.status_code == 400
    (issue,) = response.json()["issue"]
    assert issue["expression"] == [param]
    assert AuditEvent.objects.count() == before  # nothing was read
    assert "SYN-000003" not in response.content.decode()


# --- Patient search by identifier (POST, form body) ---------------------------------------


def _form(client: APIClient, data: dict[str, str]) -> Any:
    return client.post(
        f"{FHIR}/Patient/_search", urlencode(data), content_type="application/x-www-form-urlencoded"
    )


def test_patient_search_by_identifier_in_a_form_body(
    world: World, patient: Patient, api_integration: APIClient, api_foreign_integration
) -> None:
    url = f"{FHIR}/Patient/_search"
    before = AuditEvent.objects.count()

    body = _form(api_integration, {"identifier": f"{codes.MRN_SYSTEM}|SYN-000003"}).json()

    Bundle.model_validate(body)
    (entry,) = body["entry"]
    assert entry["resource"]["id"] == str(patient.public_id)
    assert "SYN-000003" not in body["link"][0]["url"]  # the self link does not echo the MRN
    (event,) = AuditEvent.objects.order_by("pk")[before:]
    assert (event.action, event.patient_id) == (AuditAction.LIST, patient.pk)
    assert "SYN-000003" not in str(event.detail)
    found = api_integration.post(url, {"identifier": "SYN-000003"}, format="json").json()
    assert found["total"] == 1
    for identifier in ("http://other.example/mrn|SYN-000003", "SYN-999999"):
        assert _form(api_integration, {"identifier": identifier}).json()["total"] == 0
    assert _form(api_foreign_integration, {"identifier": "SYN-000003"}).json()["total"] == 0
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    assert _form(outsider, {"identifier": "SYN-000003"}).json()["total"] == 0
    bad = _form(api_integration, {"identifier": "SYN-000003", "name": "x"})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["name"]
    assert _form(api_integration, {}).status_code == 400
    assert api_integration.get(url).status_code == 405
