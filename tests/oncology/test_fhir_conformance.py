"""mCODE conformance of the export, over the demo cohort: every resource validates as its R4B
model, declares the mCODE profile its content calls for (and no other), and carries the
profile's must-support elements we have data for (oncology/fhir/conformance.py); the
item-dependent ones (a focus on the item's diagnosis, deceased[x] for a known vital status) are
checked here against the record."""

from __future__ import annotations

import copy
from collections import Counter
from functools import cache
from typing import Any

import pytest

from oncology.demo import generate_cohort
from oncology.fhir import codes
from oncology.fhir.conformance import MCODE, check_resource, expected_profile
from oncology.fhir.export import record_to_bundle

N_RECORDS = 120

GENOMICS = [
    {
        "public_id": "00000000-0000-4000-8000-000000000001",
        "collection_date": "2023-03-01",
        "tmb": 12.5,
        "msi_status": "MSS",
        "variants": [{"gene": "EGFR", "hgvs_c": "c.2573T>G", "hgvs_p": "p.Leu858Arg", "vaf": 0.31}],
    }
]


@cache
def _bundles() -> tuple[tuple[dict[str, Any], dict[str, Any]], ...]:
    out = []
    for i, record in enumerate(generate_cohort(N_RECORDS)):
        genomics = GENOMICS if i % 10 == 0 else []
        out.append((record, record_to_bundle(record, key=f"demo-{i}", genomics=genomics)))
    return tuple(out)


def test_every_exported_resource_of_the_demo_cohort_conforms() -> None:
    problems: list[tuple[str, str, list[str]]] = []
    profiles: Counter[str] = Counter()
    for record, bundle in _bundles():
        for entry in bundle["entry"]:
            resource = entry["resource"]
            found = check_resource(resource)
            if found:
                problems.append((record["mrn"], resource["resourceType"], found))
            profiles[expected_profile(resource) or "-"] += 1
    assert problems == [], problems[:5]
    # The cohort exercises every profile the export declares (else this proves little).
    declared = {url.removeprefix(MCODE) for url in codes.PROFILES.values()}
    assert declared <= set(profiles), declared - set(profiles)


def _by_identifier(bundle: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        idents = resource.get("identifier") or []
        for ident in [idents] if isinstance(idents, dict) else idents:
            out.setdefault((ident.get("system", ""), ident["value"]), []).append(entry)
    return out


def _references(resource: dict[str, Any]) -> set[str]:
    refs = {r["reference"] for r in resource.get("focus", []) + resource.get("reasonReference", [])}
    for ext in resource.get("extension", []):
        if ext["url"] == codes.MCODE_RELATED_PRIMARY_EXT:
            refs.add(ext["valueReference"]["reference"])
    return refs


def test_items_tied_to_a_diagnosis_reference_its_condition_and_the_patient_its_status() -> None:
    checked = Counter()
    for record, bundle in _bundles():
        index = _by_identifier(bundle)
        dx_url = {
            dx["external_id"]: index[(codes.identifier_system("diagnoses"), dx["external_id"])][0][
                "fullUrl"
            ]
            for dx in record["diagnoses"]
        }
        for section in ("biomarkers", "surgeries", "radiotherapies", "disease_events"):
            for item in record.get(section, []):
                if not item.get("diagnosis_external_id"):
                    continue
                (entry,) = index[(codes.identifier_system(section), item["external_id"])]
                assert _references(entry["resource"]) == {dx_url[item["diagnosis_external_id"]]}
                checked[section] += 1
        for st in record.get("systemic_therapies", []):
            if st.get("diagnosis_external_id"):
                system = codes.identifier_system("systemic_therapies.drug")
                for entry in (e for (s, v), es in index.items() if s == system for e in es):
                    if entry["resource"]["groupIdentifier"]["value"] == st["external_id"]:
                        assert _references(entry["resource"]) == {
                            dx_url[st["diagnosis_external_id"]]
                        }
                        checked["systemic_therapies"] += 1
        patient = bundle["entry"][0]["resource"]
        if record.get("vital_status") in ("alive", "dead"):
            assert "deceasedBoolean" in patient or "deceasedDateTime" in patient
            checked["vital_status"] += 1
        for fu in record.get("follow_ups", []):
            if fu.get("ecog") is not None:
                (entry,) = index[(codes.identifier_system("follow_ups"), fu["external_id"])]
                assert entry["resource"]["component"][0]["valueInteger"] == fu["ecog"]
                checked["follow_up_ecog"] += 1
    assert all(checked[k] > 0 for k in ("biomarkers", "surgeries", "disease_events")), checked


# --- the checker itself can fail --------------------------------------------------------------


def _resource(profile_name: str) -> dict[str, Any]:
    for _, bundle in _bundles():
        for entry in bundle["entry"]:
            if expected_profile(entry["resource"]) == profile_name:
                return copy.deepcopy(entry["resource"])
    raise AssertionError(profile_name)


@pytest.mark.parametrize(
    ("profile_name", "change", "problem"),
    [
        (
            "mcode-tnm-stage-group",
            lambda r: r.pop("method"),
            "mcode-tnm-stage-group: must-support method missing",
        ),
        (
            "mcode-tnm-stage-group",
            lambda r: r["meta"].update(profile=[codes.PROFILES["tnm_t"]]),
            "should be",
        ),
        (
            "mcode-primary-cancer-condition",
            lambda r: r["bodySite"][0].pop("extension"),
            "must-support bodySite.extension:mcode-laterality-qualifier missing",
        ),
        (
            "mcode-radiotherapy-course-summary",
            lambda r: r.update(
                extension=[e for e in r["extension"] if e["url"] != codes.MCODE_RT_SESSIONS_EXT]
            ),
            "must-support extension:mcode-radiotherapy-sessions missing",
        ),
        ("mcode-cancer-patient", lambda r: r.update(birthDate="1958-13-45"), "not a valid R4B"),
        ("mcode-cancer-patient", lambda r: r.pop("meta"), "should be"),
    ],
)
def test_the_checker_reports_what_breaks_conformance(
    profile_name: str, change: Any, problem: str
) -> None:
    resource = _resource(profile_name)
    assert check_resource(resource) == []
    change(resource)
    found = check_resource(resource)
    assert any(problem in p for p in found), found
