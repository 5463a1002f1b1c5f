"""FHIR endpoints: export of a record (and of genomics and a signed board decision), import of
a Bundle (validated, atomic, idempotent), access and audit, and the round trip of demo records
from one institution's database into another's."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditAction, AuditEvent
from genomics.models import GenomicReport, Variant
from oncology.demo import generate_cohort
from oncology.fhir import codes
from oncology.fhir.export import record_to_bundle
from oncology.models import RECORD_SECTIONS, CareTeam, Institution, Patient
from oncology.models_board import BoardCase, BoardDecision
from oncology.services.payload import record_payload
from oncology.services.sync import patient_records_bulk_upsert
from tests.factories import integration_client
from tests.oncology.api.payloads import lung_record
from tests.oncology.board_data import meeting_for

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/fhir/"
FHIR_JSON = "application/fhir+json"


def _everything(public_id: object) -> str:
    return reverse("api-fhir-patient-everything", kwargs={"public_id": public_id})


def _post(client: APIClient, bundle: dict[str, Any]) -> Any:
    return client.post(IMPORT, bundle, format="json")


def _row_state() -> dict[str, list[tuple]]:
    state = {"patients": sorted(Patient.objects.values_list("pk", "updated_at"))}
    for section, model in RECORD_SECTIONS.items():
        state[section] = sorted(model.objects.values_list("pk", "updated_at"))  # type: ignore[attr-defined]
    return state


def _transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out["type"] = "transaction"
    for entry in out["entry"]:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    return out


def test_the_export_is_a_valid_bundle_of_the_record_and_is_audited(world, api_integration):
    response = api_integration.get(_everything(world.patient.public_id))

    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types.count("Patient") == 1
    assert types.count("Condition") == 1  # the factory's diagnosis
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, event.patient_id) == (
        AuditAction.EXPORT,
        "patient_fhir",
        world.patient.pk,
    )
    assert world.patient.mrn not in str(event.__dict__)  # no PHI in the audit row


def test_a_patient_outside_the_care_team_or_institution_is_not_exported(
    world, api_foreign_integration
):
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)
    assert outsider.get(_everything(world.patient.public_id)).status_code == 404
    assert api_foreign_integration.get(_everything(world.patient.public_id)).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_genomics_and_a_signed_board_decision_travel_with_the_export(
    world, api_integration, api_foreign_integration
):
    diagnosis = world.patient.diagnoses.get()
    report = GenomicReport.objects.create(
        patient=world.patient,
        assay_name="Panel",
        covered_mb=1.5,
        specimen_type="primary",
        collection_date=diagnosis.diagnosis_date,
        source_format="vcf",
        source_sha256="0" * 64,
        tmb=12.5,
        msi_status="MSS",
    )
    Variant.objects.create(
        report=report,
        chrom="7",
        pos=55191822,
        ref="T",
        alt="G",
        gene="EGFR",
        hgvs_c="c.2573T>G",
        hgvs_p="p.Leu858Arg",
        vaf=0.31,
    )
    case = BoardCase.objects.create(
        meeting=meeting_for(world), patient=world.patient, question="Adjuvant therapy?"
    )
    BoardDecision.objects.create(
        case=case, version=1, chosen_option="surgery", plan="Lobectomy.", rationale="Stage IB."
    )  # a draft: not exported
    BoardDecision.objects.create(
        case=case,
        version=2,
        status="signed",
        chosen_option="surgery+chemotherapy",
        plan="Lobectomy, then adjuvant cisplatin-vinorelbine.",
        rationale="Stage IIB after pathology.",
        signed_by=world.oncologist,
        signed_at=timezone.now(),
    )

    bundle = api_integration.get(_everything(world.patient.public_id)).json()

    resources = [e["resource"] for e in bundle["entry"]]
    (care_plan,) = [r for r in resources if r["resourceType"] == "CarePlan"]
    assert care_plan["title"] == "surgery+chemotherapy"
    assert care_plan["description"].startswith("Lobectomy, then adjuvant")
    by_code = {
        r["code"]["coding"][0]["code"]: r for r in resources if r["resourceType"] == "Observation"
    }
    assert by_code["94076-7"]["valueQuantity"]["value"] == 12.5  # TMB, mutations/Mb
    assert by_code["81695-9"]["valueCodeableConcept"]["text"] == "MSS"
    variant = by_code["69548-6"]
    assert codes.PROFILES["genomic_variant"] in variant["meta"]["profile"]
    components = {c["code"]["coding"][0]["code"]: c for c in variant["component"]}
    assert components["48018-6"]["valueCodeableConcept"]["text"] == "EGFR"
    assert components["48005-3"]["valueCodeableConcept"]["text"] == "p.Leu858Arg"
    assert components["81258-6"]["valueQuantity"]["value"] == 0.31

    # Imported elsewhere, the export-only resources (genomics, CarePlan) are ignored; the
    # diagnosis entered without an external id travels under its OncoBoard identifier.
    response = _post(api_foreign_integration, bundle)
    assert response.status_code == 200, response.content
    copy_ = Patient.objects.get(mrn=world.patient.mrn, institution__code="south")
    assert copy_.diagnoses.get().external_id == f"oncoboard-diagnoses-{diagnosis.pk}"
    assert not GenomicReport.objects.filter(patient=copy_).exists()


def test_an_imported_bundle_creates_the_record_and_resending_it_changes_nothing(
    world, api_integration
):
    record = lung_record(7)
    bundle = record_to_bundle(record, key="sender")

    first = _post(api_integration, _transaction(bundle))
    assert first.status_code == 200, first.content
    assert first.json()["summary"] == {"created": 1, "updated": 0, "unchanged": 0}
    patient = Patient.objects.get(mrn=record["mrn"])
    stored = record_payload(patient)
    for section in ("diagnoses", "labs", "biomarkers", "systemic_therapies"):
        assert len(stored[section]) == len(record.get(section, [])), section
    assert stored["diagnoses"][0]["clinical_stage"] == "IB"
    state = _row_state()

    again = _post(api_integration, bundle)  # the same content, as a collection

    assert again.json()["summary"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert _row_state() == state
    assert AuditEvent.objects.filter(action=AuditAction.SYNC_UNCHANGED).count() == 1


def test_a_changed_resource_updates_only_its_item(world, api_integration):
    bundle = record_to_bundle(lung_record(8), key="sender")
    assert _post(api_integration, bundle).status_code == 200
    lab = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "718-7"
    )
    lab["valueQuantity"]["value"] = 11.9

    response = _post(api_integration, bundle)

    assert response.json()["summary"] == {"created": 0, "updated": 1, "unchanged": 0}
    patient = Patient.objects.get(mrn="SYN-000008")
    assert patient.labs.get(code="718-7").value == 11.9


def test_a_bundle_with_a_clinical_error_stores_nothing_and_names_the_resource(
    world, api_integration
):
    good = record_to_bundle(lung_record(1), key="a")
    bad = record_to_bundle(lung_record(2), key="b")
    t_category = next(
        i
        for i, e in enumerate(bad["entry"])
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "21905-5"
    )
    bad["entry"][t_category]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = "T9"
    both = {**good, "entry": good["entry"] + bad["entry"]}
    condition = next(
        i
        for i, e in enumerate(both["entry"])
        if e["resource"]["resourceType"] == "Condition" and i >= len(good["entry"])
    )

    response = _post(api_integration, both)

    assert response.status_code == 400
    assert response["Content-Type"] == FHIR_JSON
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    paths = [issue["expression"][0] for issue in outcome["issue"]]
    # The sync service's error on diagnoses[0].clinical_t, pointed at the Condition it maps.
    assert f"entry[{condition}].resource (diagnoses.clinical_t)" in paths
    assert not Patient.objects.filter(mrn__in=["SYN-000001", "SYN-000002"]).exists()
    assert not AuditEvent.objects.exists()


def test_a_structurally_invalid_bundle_is_refused_with_paths(world, api_integration):
    bundle = record_to_bundle(lung_record(3), key="a")
    bundle["entry"][0]["resource"]["birthDate"] = "1958-13-45"

    response = _post(api_integration, bundle)

    assert response.status_code == 400
    paths = [issue["expression"][0] for issue in response.json()["issue"]]
    assert paths == ["entry[0].resource.birthDate"]
    assert not Patient.objects.filter(mrn="SYN-000003").exists()


def test_the_import_accepts_the_fhir_media_type(world, api_integration):
    import json

    bundle = record_to_bundle(lung_record(4), key="a")
    response = api_integration.post(IMPORT, json.dumps(bundle), content_type=FHIR_JSON)
    assert response.status_code == 200, response.content


def test_only_integration_clients_import(world):
    member = APIClient()
    member.force_authenticate(world.member)
    response = _post(member, record_to_bundle(lung_record(5), key="a"))
    assert response.status_code == 403
    assert not Patient.objects.filter(mrn="SYN-000005").exists()


def test_demo_records_round_trip_through_fhir_into_another_institution(world):
    """Record -> FHIR -> a second institution's (empty) record -> the same record."""
    source = Institution.objects.create(code="demo-src", name="Demo source")
    target = Institution.objects.create(code="demo-dst", name="Demo target")
    cohort = generate_cohort(40)
    for code in {p["care_teams"][0] for p in cohort}:
        CareTeam.objects.create(institution=source, code=code, name=code)
    source_client, source_token = integration_client(source, name="src")
    target_client_user, target_token = integration_client(target, name="dst")
    results = patient_records_bulk_upsert(actor=source_client, institution=source, records=cohort)
    assert {r.status for r in results} == {"created"}
    exporter, importer = APIClient(), APIClient()
    exporter.credentials(HTTP_AUTHORIZATION=f"Token {source_token}")
    importer.credentials(HTTP_AUTHORIZATION=f"Token {target_token}")

    for result in results:
        bundle = exporter.get(_everything(result.patient_public_id)).json()
        response = _post(importer, bundle)
        assert response.status_code == 200, response.content

    assert Patient.objects.filter(institution=target).count() == len(cohort)
    ignored = {"public_id", "research_id", "care_teams"}  # ids of the database; teams not sent
    for patient in Patient.objects.filter(institution=source):
        copy_ = Patient.objects.get(institution=target, mrn=patient.mrn)
        original = {k: v for k, v in record_payload(patient).items() if k not in ignored}
        imported = {k: v for k, v in record_payload(copy_).items() if k not in ignored}
        assert imported == original, patient.mrn
    assert target_client_user.institution == target


def _minimal_bundle(*, category: bool) -> dict[str, Any]:
    """A Bundle as another system might write it: its own identifier systems, no OncoBoard
    profiles, a MedicationAdministration rather than a MedicationRequest."""
    subject = {"reference": "urn:uuid:5f0c6a52-1f7e-4a43-9c39-6d4b1c2a7e01"}
    condition = "urn:uuid:5f0c6a52-1f7e-4a43-9c39-6d4b1c2a7e02"
    administration: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "identifier": [{"system": "urn:oid:1.2.3.4.5", "value": "adm-77"}],
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"display": "osimertinib"}]},
        "subject": subject,
        "effectivePeriod": {"start": "2023-05-02"},
        "reasonReference": [{"reference": condition}],
        "dosage": {"dose": {"value": 80, "unit": "mg"}},
    }
    if category:
        administration["extension"] = [
            {"url": codes.EXT["category"], "valueCode": "targeted"},
        ]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": subject["reference"],
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [
                        {
                            "type": {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                        "code": "MR",
                                    }
                                ]
                            },
                            "system": "urn:oid:1.2.3.4",
                            "value": "EXT-42",
                        }
                    ],
                    "name": [{"family": "Synthetic", "given": ["Bea"]}],
                    "gender": "female",
                    "birthDate": "1960-01-31",
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": condition,
                "resource": {
                    "resourceType": "Condition",
                    "identifier": [{"system": "urn:oid:1.2.3.4.6", "value": "dx-9"}],
                    "extension": [
                        {
                            "url": codes.MCODE_HISTOLOGY_EXT,
                            "valueCodeableConcept": {
                                "coding": [{"system": codes.ICDO3, "code": "8140/3"}]
                            },
                        }
                    ],
                    "code": {"coding": [{"system": codes.ICD10, "code": "C34.1"}]},
                    "bodySite": [{"coding": [{"system": codes.ICDO3, "code": "C34.1"}]}],
                    "subject": subject,
                    "onsetDateTime": "2023-02-14",
                },
                "request": {"method": "POST", "url": "Condition"},
            },
            {
                "fullUrl": "urn:uuid:5f0c6a52-1f7e-4a43-9c39-6d4b1c2a7e03",
                "resource": administration,
                "request": {"method": "POST", "url": "MedicationAdministration"},
            },
        ],
    }


def test_a_bundle_from_another_system_maps_by_its_own_identifiers(world, api_integration):
    response = _post(api_integration, _minimal_bundle(category=True))

    assert response.status_code == 200, response.content
    patient = Patient.objects.get(mrn="EXT-42")
    assert (patient.given_name, patient.sex, str(patient.birth_date)) == (
        "Bea",
        "female",
        "1960-01-31",
    )
    diagnosis = patient.diagnoses.get()
    assert (diagnosis.external_id, diagnosis.primary_site, diagnosis.morphology) == (
        "urn:oid:1.2.3.4.6|dx-9",
        "C34.1",
        "8140/3",
    )
    therapy = patient.systemic_therapies.get()
    assert therapy.external_id == "urn:oid:1.2.3.4.5|adm-77"
    assert therapy.diagnosis == diagnosis
    assert therapy.drugs == [{"name": "osimertinib", "dose": 80.0, "unit": "mg"}]
    assert (therapy.category, str(therapy.start_date)) == ("targeted", "2023-05-02")
    assert _post(api_integration, _minimal_bundle(category=True)).json()["summary"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
    }


def test_a_value_the_record_needs_and_fhir_leaves_out_is_an_error_not_a_guess(
    world, api_integration
):
    response = _post(api_integration, _minimal_bundle(category=False))

    assert response.status_code == 400
    issues = {i["expression"][0]: i["diagnostics"] for i in response.json()["issue"]}
    assert list(issues) == ["entry[2].resource (systemic_therapies.category)"]
    assert not Patient.objects.filter(mrn="EXT-42").exists()
