"""mCODE secondary cancer conditions: the record's distant recurrence goes out as a
SecondaryCancerCondition (related primary, the primary's histology as metastatic, onset) and a
SecondaryCancerCondition comes in as a distant recurrence; what the record has no place for
(the metastasis' body site) is named in the answer's warnings, not silently lost."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from oncology.fhir import codes
from oncology.fhir.export import record_to_bundle
from oncology.fhir.imports import bundle_to_records, parse_bundle
from oncology.models import DiseaseEvent, Patient
from tests.oncology.api.payloads import lung_record

IMPORT = "/api/v1/fhir/"
SECONDARY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-secondary-cancer-condition"
RELATED = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-primary-cancer-condition"


def _record() -> dict[str, Any]:
    record = lung_record(7)
    record["disease_events"] = [
        {
            "external_id": "ev-1",
            "diagnosis_external_id": "dx-1",
            "event_type": "distant_recurrence",
            "event_date": "2024-09-16",
        },
        {
            "external_id": "ev-0",
            "diagnosis_external_id": "dx-1",
            "event_type": "local_recurrence",
            "event_date": "2024-07-01",
        },
    ]
    return record


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_a_distant_recurrence_is_exported_as_a_secondary_cancer_condition() -> None:
    record = _record()
    bundle = record_to_bundle(record, key="k")
    primary_url = next(
        e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Condition"
        and codes.PROFILES["primary_cancer"] in e["resource"]["meta"]["profile"]
    )
    (secondary,) = [
        r
        for r in _resources(bundle, "Condition")
        if SECONDARY in r.get("meta", {}).get("profile", [])
    ]
    assert secondary["code"]["coding"] == [
        {
            "system": "http://snomed.info/sct",
            "code": "128462008",
            "display": "Secondary malignant neoplastic disease",
        }
    ]
    assert secondary["onsetDateTime"] == "2024-09-16"
    assert secondary["identifier"][0]["value"] == "ev-1"
    extensions = {e["url"]: e for e in secondary["extension"]}
    assert extensions[RELATED]["valueReference"] == {"reference": primary_url}
    histology = extensions[codes.MCODE_HISTOLOGY_EXT]["valueCodeableConcept"]["coding"][0]
    assert histology["code"] == "8140/6"  # the primary's 8140/3, behaviour 6: metastatic site
    assert "bodySite" not in secondary  # the record keeps no site of a metastasis
    # The local recurrence stays a disease-event Observation; the distant one is not doubled.
    events = [
        r
        for r in _resources(bundle, "Observation")
        if r["code"]["coding"][0]["code"] == codes.DISEASE_EVENT_CODE
    ]
    assert [e["valueCodeableConcept"]["coding"][0]["code"] for e in events] == ["local_recurrence"]

    parsed, errors = parse_bundle(bundle)
    assert errors == {}
    mapped = bundle_to_records(parsed)
    assert mapped.errors == {}
    assert mapped.warnings == {}  # our own histology is the primary's: nothing lost
    (back,) = mapped.records
    assert sorted(back["disease_events"], key=lambda e: e["external_id"]) == sorted(
        record["disease_events"], key=lambda e: e["external_id"]
    )


def _incoming(extra_site: bool = True, primary_ref: str = "urn:uuid:primary") -> dict[str, Any]:
    """A Bundle as another system writes it: a primary, and a liver metastasis coded in ICD-10
    and SNOMED CT with a body site."""
    record = lung_record(8)
    record.pop("follow_ups")
    bundle = record_to_bundle(record, key="in")
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Condition":
            entry["fullUrl"] = "urn:uuid:primary"
            for other in bundle["entry"]:
                for ref in other["resource"].get("focus", []) + other["resource"].get(
                    "reasonReference", []
                ):
                    ref["reference"] = "urn:uuid:primary"
    patient_url = bundle["entry"][0]["fullUrl"]
    secondary: dict[str, Any] = {
        "resourceType": "Condition",
        "meta": {"profile": [SECONDARY]},
        "identifier": [{"system": "urn:oid:1.2.3.4", "value": "MET-77"}],
        "extension": [
            {"url": RELATED, "valueReference": {"reference": primary_ref}},
            {
                "url": codes.MCODE_HISTOLOGY_EXT,
                "valueCodeableConcept": {"coding": [{"system": codes.ICDO3, "code": "8070/6"}]},
            },
        ],
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {
            "coding": [
                {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C78.7"},
                {"system": "http://hl7.org/fhir/sid/icd-10", "code": "C78.7"},
            ]
        },
        "subject": {"reference": patient_url},
        "onsetDateTime": "2024-02-05T10:00:00Z",
    }
    if extra_site:
        secondary["bodySite"] = [
            {"coding": [{"system": "http://snomed.info/sct", "code": "10200004"}]}
        ]
    bundle["entry"].append({"fullUrl": "urn:uuid:met", "resource": secondary})
    return bundle


@pytest.mark.django_db
def test_an_incoming_secondary_cancer_condition_is_a_distant_recurrence_with_warnings(
    world, api_integration: APIClient
) -> None:
    bundle = _incoming()
    response = api_integration.post(IMPORT, bundle, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    met_entry = len(bundle["entry"]) - 1
    assert body["warnings"] == [
        {
            "expression": f"entry[{met_entry}].resource.bodySite[0]",
            "diagnostics": "Not stored: the record keeps no site of a metastasis.",
        },
        {
            "expression": f"entry[{met_entry}].resource.extension[1]",
            "diagnostics": "Not stored: in the record a metastasis has its primary's "
            "histology (/6).",
        },
    ]
    patient = Patient.objects.get(mrn="SYN-000008")
    event = DiseaseEvent.objects.get(patient=patient)
    assert event.event_type == "distant_recurrence"
    assert event.event_date.isoformat() == "2024-02-05"
    assert event.external_id == "urn:oid:1.2.3.4|MET-77"
    assert event.diagnosis is not None
    assert event.diagnosis.external_id == "dx-1"
    # Sent again: unchanged, still one event.
    again = api_integration.post(IMPORT, bundle, format="json").json()
    assert again["summary"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert DiseaseEvent.objects.filter(patient=patient).count() == 1


@pytest.mark.django_db
def test_a_secondary_whose_related_primary_is_not_in_the_bundle_is_refused(
    world, api_integration: APIClient
) -> None:
    bundle = _incoming(primary_ref="urn:uuid:nowhere")
    response = api_integration.post(IMPORT, bundle, format="json")

    assert response.status_code == 400
    issues = response.json()["issue"]
    met_entry = len(bundle["entry"]) - 1
    assert [i["expression"] for i in issues] == [
        [f"entry[{met_entry}].resource.extension[0].valueReference"]
    ]
    assert not Patient.objects.filter(mrn="SYN-000008").exists()


def test_a_metastatic_histology_alone_makes_a_secondary_not_a_primary() -> None:
    # Before secondaries were mapped, a Condition with ICD-O-3 site and 8140/6 became a
    # primary diagnosis. Without a related primary it is a distant recurrence of no diagnosis.
    bundle = _incoming(extra_site=False)
    met = bundle["entry"][-1]["resource"]
    met.pop("meta")
    met["extension"] = [met["extension"][1]]  # the histology only
    met["code"] = {"coding": [{"system": codes.ICDO3, "code": "C22.0"}]}
    met["bodySite"] = [{"coding": [{"system": codes.ICDO3, "code": "C22.0"}]}]
    parsed, errors = parse_bundle(copy.deepcopy(bundle))
    assert errors == {}
    mapped = bundle_to_records(parsed)
    assert mapped.errors == {}
    (record,) = mapped.records
    assert [d["external_id"] for d in record["diagnoses"]] == ["dx-1"]
    assert record["disease_events"] == [
        {
            "external_id": "urn:oid:1.2.3.4|MET-77",
            "diagnosis_external_id": None,
            "event_type": "distant_recurrence",
            "event_date": "2024-02-05",
        }
    ]
