"""The pure FHIR mapping (oncology/fhir): record payload -> Bundle -> record payload, the codes
it writes (checked against the published code systems: LOINC, SNOMED CT, ICD-O-3, UCUM), and
validation errors with their paths. No database."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import pytest

from oncology.demo import generate_cohort
from oncology.fhir import codes
from oncology.fhir.export import record_to_bundle
from oncology.fhir.imports import bundle_to_records, parse_bundle
from tests.oncology.api.payloads import lung_record

SECTIONS_CARRIED = (
    "diagnoses",
    "biomarkers",
    "performance_statuses",
    "comorbidities",
    "labs",
    "measurements",
    "surgeries",
    "radiotherapies",
    "systemic_therapies",
    "follow_ups",
    "disease_events",
    "toxicities",
)


@cache
def _cohort() -> tuple[dict[str, Any], ...]:
    return tuple(generate_cohort(300))


def _round_trip(record: dict[str, Any]) -> dict[str, Any]:
    bundle = record_to_bundle(record, key=record["mrn"])
    parsed, errors = parse_bundle(json.loads(json.dumps(bundle)))  # as sent over the wire
    assert errors == {}
    assert parsed is not None
    mapped = bundle_to_records(parsed)
    assert mapped.errors == {}
    assert len(mapped.records) == 1
    return mapped.records[0]


def _canonical(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # In item-key order; values compare with == (5 == 5.0: JSON does not tell them apart).
    return sorted(items, key=lambda item: str(item.get("external_id") or item.get("condition")))


def test_every_demo_record_survives_the_round_trip_through_fhir() -> None:
    cohort = _cohort()
    # The sample exercises every section (else the test proves less than it says).
    for section in SECTIONS_CARRIED:
        assert any(p[section] for p in cohort), section
    for record in cohort:
        back = _round_trip(record)
        for name in (
            "mrn",
            "given_name",
            "family_name",
            "sex",
            "birth_date",
            "smoking_status",
            "smoking_pack_years",
            "vital_status",
            "death_date",
            "last_contact_date",
        ):
            assert back.get(name) == record[name], (record["mrn"], name)
        for section in SECTIONS_CARRIED:
            assert _canonical(back[section]) == _canonical(record[section]), (
                record["mrn"],
                section,
            )


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _by_loinc(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [
        r
        for r in _resources(bundle, "Observation")
        if {"system": codes.LOINC, "code": code}.items()
        <= {k: v for k, v in r["code"]["coding"][0].items() if k in ("system", "code")}.items()
    ]


def test_a_lung_record_is_coded_as_mcode_expects() -> None:
    record = lung_record(1)
    record["labs"].append(
        {
            "external_id": "lab-plt",
            "code": "777-3",
            "value": 250.0,
            "unit": "10^9/L",
            "collected_on": "2023-02-10",
        }
    )
    record["performance_statuses"] = [
        {"external_id": "ps-1", "assessed_on": "2023-02-14", "ecog": 1}
    ]
    bundle = record_to_bundle(record, key="k")

    (patient,) = _resources(bundle, "Patient")
    assert patient["identifier"][0]["type"]["coding"][0]["code"] == "MR"  # HL7 v2 table 0203
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1958-04-11"
    assert patient["deceasedBoolean"] is False

    (condition,) = _resources(bundle, "Condition")
    assert codes.PROFILES["primary_cancer"] in condition["meta"]["profile"]
    # C34.1 = upper lobe, lung (ICD-O-3 topography; ICD-10 uses the same code for a carcinoma).
    assert {"system": "http://hl7.org/fhir/sid/icd-10", "code": "C34.1"} in [
        {"system": c["system"], "code": c["code"]} for c in condition["code"]["coding"]
    ]
    assert condition["bodySite"][0]["coding"][0]["system"] == codes.ICDO3
    assert condition["bodySite"][0]["coding"][0]["code"] == "C34.1"
    laterality = condition["bodySite"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert (laterality["system"], laterality["code"]) == ("http://snomed.info/sct", "24028007")
    histology = condition["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert (histology["system"], histology["code"]) == (codes.ICDO3, "8140/3")  # adenocarcinoma
    assert condition["onsetDateTime"] == "2023-02-14"

    # LOINC 21908-9 clinical stage group, 21905-5 cT, 21906-3 cN, 21907-1 cM.
    stage = _by_loinc(bundle, "21908-9")[0]
    assert stage["valueCodeableConcept"]["coding"][0]["code"] == "IB"
    assert stage["focus"][0]["reference"] == _entry_url(bundle, condition)
    assert stage["method"]["coding"][0]["code"] == "897275008"  # AJCC 8th edition
    assert _by_loinc(bundle, "21905-5")[0]["valueCodeableConcept"]["coding"][0]["code"] == "T2a"
    assert _by_loinc(bundle, "21906-3")[0]["valueCodeableConcept"]["coding"][0]["code"] == "N0"
    assert _by_loinc(bundle, "21907-1")[0]["valueCodeableConcept"]["coding"][0]["code"] == "M0"
    assert _by_loinc(bundle, "21902-2") == []  # no pathological stage in this record

    assert _by_loinc(bundle, "89247-1")[0]["valueInteger"] == 1  # ECOG
    smoking = _by_loinc(bundle, "72166-2")[0]
    assert smoking["valueCodeableConcept"]["coding"][0]["code"] == "8517006"  # ex-smoker
    assert smoking["component"][0]["valueQuantity"]["value"] == 30.0

    haemoglobin = _by_loinc(bundle, "718-7")[0]["valueQuantity"]
    assert (haemoglobin["value"], haemoglobin["code"], haemoglobin["system"]) == (
        13.1,
        "g/dL",
        "http://unitsofmeasure.org",
    )
    # The record's "10^9/L" is "10*9/L" in UCUM.
    assert _by_loinc(bundle, "777-3")[0]["valueQuantity"]["code"] == "10*9/L"


def _entry_url(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    return next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is resource)


def test_the_same_record_exports_the_same_bundle() -> None:
    record = _cohort()[0]
    assert record_to_bundle(record, key="a") == record_to_bundle(copy.deepcopy(record), key="a")


def test_an_invalid_bundle_is_refused_with_the_path_of_each_error() -> None:
    bundle = record_to_bundle(lung_record(1), key="k")
    bundle["entry"][0]["resource"]["birthDate"] = "11/04/1958"
    bundle["entry"][3]["resource"]["status"] = 42
    parsed, errors = parse_bundle(bundle)
    assert parsed is None
    assert "entry[0].resource.birthDate" in errors
    assert any(path.startswith("entry[3].resource") for path in errors)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ({"resourceType": "Bundle", "type": "searchset"}, "type"),
    ],
)
def test_only_a_transaction_or_collection_bundle_is_accepted(data: dict, path: str) -> None:
    parsed, errors = parse_bundle(data)
    assert parsed is None
    assert list(errors) == [path]


def test_resources_that_are_not_mapped_are_errors_not_silently_dropped() -> None:
    bundle = record_to_bundle(lung_record(1), key="k")
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:0d8f1a36-3f7c-4c47-9d2a-8d47b3b2d5a1",
            "resource": {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"code": "AMB"},
            },
        }
    )
    orphan = copy.deepcopy(next(e for e in bundle["entry"] if e["resource"].get("valueQuantity")))
    orphan["fullUrl"] = "urn:uuid:7a3c9f3e-6c1b-4b8e-8f5e-2a9b6f1c0d11"
    orphan["resource"]["subject"] = {"reference": "Patient/unknown"}
    bundle["entry"].append(orphan)
    parsed, errors = parse_bundle(bundle)
    assert errors == {}
    assert parsed is not None
    mapped = bundle_to_records(parsed)
    n = len(bundle["entry"])
    assert mapped.errors == {
        f"entry[{n - 2}].resource.resourceType": ["Encounter is not imported."],
        f"entry[{n - 1}].resource.subject": ["Must reference a Patient in this Bundle."],
    }


def test_every_code_of_the_map_is_documented() -> None:
    # docs/interop-fhir.md is the code map integrators read; it must not drift from the data.
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "interop-fhir.md").read_text()
    expected: list[str] = []
    for table in (
        codes.SMOKING_STATUS,
        codes.VITAL_STATUS,
        codes.LATERALITY,
        codes.INTENT,
        codes.DISEASE_STATUS,
        codes.BIOMARKER_RESULT,
        codes.TNM_LOINC,
        codes.BIOMARKER_LOINC,
    ):
        expected.extend(code for code, _ in table.values())
    expected.extend(codes.UCUM_CODE.values())
    expected.extend(url.rsplit("/", 1)[1] for url in codes.EXT.values())
    expected.extend(url.rsplit("/", 1)[1] for url in codes.CS.values())
    expected.extend(url.rsplit("/", 1)[1] for url in codes.PROFILES.values())
    for pair in (
        codes.GRADE_LOINC,
        codes.ECOG_LOINC,
        codes.SMOKING_LOINC,
        codes.PACK_YEARS_LOINC,
        codes.VITAL_STATUS_LOINC,
        codes.DISEASE_STATUS_LOINC,
        codes.WEIGHT_LOINC,
        codes.HEIGHT_LOINC,
        codes.TMB_LOINC,
        codes.MSI_LOINC,
        codes.VARIANT_LOINC,
        codes.GENE_STUDIED_LOINC,
        codes.HGVS_C_LOINC,
        codes.HGVS_P_LOINC,
        codes.VAF_LOINC,
        codes.TNM_METHOD[1:],
        codes.SURGERY_CATEGORY[1:],
        codes.RADIOTHERAPY_CODE[1:],
    ):
        expected.append(pair[0])
    missing = [code for code in expected if code not in text]
    assert missing == [], missing


def test_a_resource_missing_any_element_is_mapped_or_refused_never_a_crash() -> None:
    # Every exported resource with each of its elements removed in turn (and every extension
    # with its value replaced by another type): the import maps it or names an error path.
    record = next(p for p in _cohort() if p["radiotherapies"] and p["systemic_therapies"])
    bundle = record_to_bundle(record, key="k")
    for index, entry in enumerate(bundle["entry"]):
        variants = []
        for name in entry["resource"]:
            if name != "resourceType":
                changed = copy.deepcopy(entry["resource"])
                del changed[name]
                variants.append(changed)
        if "extension" in entry["resource"]:
            changed = copy.deepcopy(entry["resource"])
            changed["extension"] = [
                {"url": e["url"], "valueString": "x"} for e in changed["extension"]
            ]
            variants.append(changed)
        for resource in variants:
            trial = copy.deepcopy(bundle)
            trial["entry"][index]["resource"] = resource
            parsed, errors = parse_bundle(trial)
            if parsed is None:
                assert errors
                continue
            mapped = bundle_to_records(parsed)
            assert mapped.errors or len(mapped.records) <= 1


def test_a_delete_entry_is_refused_not_ignored() -> None:
    bundle = record_to_bundle(lung_record(1), key="k")
    bundle["type"] = "transaction"
    bundle["entry"].append({"request": {"method": "DELETE", "url": "Observation/1"}})
    parsed, errors = parse_bundle(bundle)
    assert errors == {}
    assert parsed is not None
    n = len(bundle["entry"]) - 1
    assert bundle_to_records(parsed).errors == {
        f"entry[{n}].resource": ["Entry without a resource."]
    }
