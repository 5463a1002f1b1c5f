"""OncoBoard's own mCODE conformance checks on an exported resource. Pure.

Not a profile validator (no StructureDefinition is evaluated): three checks that catch what a
mapping bug would break, written apart from the export so they do not share its mistakes:

1. the resource validates as its FHIR R4B model (`fhir.resources`);
2. `meta.profile` names the mCODE profile that the resource's *content* calls for (decided
   here from the codes mCODE fixes, e.g. LOINC 21908-9 is a TNM stage group), and no other;
3. the profile's must-support elements that OncoBoard always has data for are present.

Elements that depend on the item (a focus on its diagnosis when the item names one) are
checked against the record by the caller (tests/oncology/test_fhir_conformance.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from fhir.resources.R4B import get_fhir_model_class

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

# Observation LOINC codes -> the mCODE profile they are the fixed code of.
_OBSERVATION_PROFILES = {
    **dict.fromkeys(("21905-5", "21899-0"), "mcode-tnm-primary-tumor-category"),
    **dict.fromkeys(("21906-3", "21900-6"), "mcode-tnm-regional-nodes-category"),
    **dict.fromkeys(("21907-1", "21901-4"), "mcode-tnm-distant-metastases-category"),
    **dict.fromkeys(("21908-9", "21902-2"), "mcode-tnm-stage-group"),
    "33732-9": "mcode-histologic-grade",
    "89247-1": "mcode-ecog-performance-status",
    "97509-4": "mcode-cancer-disease-status",
    "69548-6": "mcode-genomic-variant",
    # Tumour markers: receptors, Ki-67, MSI, TMB, and the serum markers among the labs
    # (CEA 2039-6, CA 15-3 6875-9, CA 19-9 24108-3, CA-125 10334-1, AFP 1834-1, PSA 2857-1).
    **dict.fromkeys(
        (
            "16112-5",
            "16113-3",
            "48676-1",
            "29593-1",
            "81695-9",
            "94076-7",
            "2039-6",
            "6875-9",
            "24108-3",
            "10334-1",
            "1834-1",
            "2857-1",
        ),
        "mcode-tumor-marker-test",
    ),
}
_LOCAL_BIOMARKER = "http://oncoboard.example.org/fhir/CodeSystem/biomarker"

# Must-support elements OncoBoard always has data for, per profile. "a.b" descends (any item
# of a list); "extension:<name>" is an extension with the mCODE url <name>; "x|y" either.
MUST_SUPPORT: dict[str, tuple[str, ...]] = {
    "mcode-cancer-patient": ("identifier.value", "name.family", "gender", "birthDate"),
    "mcode-primary-cancer-condition": (
        "extension:mcode-histology-morphology-behavior",
        "verificationStatus",
        "category",
        "code.coding.code",
        "bodySite.coding.code",
        "bodySite.extension:mcode-laterality-qualifier",
        "subject.reference",
        "onsetDateTime",
        "recordedDate",
    ),
    "mcode-secondary-cancer-condition": (
        "verificationStatus",
        "category",
        "code.coding.code",
        "subject.reference",
        "onsetDateTime",
        "recordedDate",
    ),
    **{
        name: (
            "status",
            "category",
            "code",
            "subject.reference",
            "effectiveDateTime",
            "valueCodeableConcept.coding.code",
            "method",
            "focus.reference",
        )
        for name in (
            "mcode-tnm-primary-tumor-category",
            "mcode-tnm-regional-nodes-category",
            "mcode-tnm-distant-metastases-category",
            "mcode-tnm-stage-group",
        )
    },
    "mcode-histologic-grade": (
        "status",
        "code",
        "subject.reference",
        "effectiveDateTime",
        "valueCodeableConcept.coding.code",
        "focus.reference",
    ),
    "mcode-tumor-marker-test": (
        "status",
        "category",
        "code",
        "subject.reference",
        "effectiveDateTime",
        "valueCodeableConcept|valueQuantity",
    ),
    "mcode-ecog-performance-status": (
        "status",
        "code",
        "subject.reference",
        "effectiveDateTime",
        "valueInteger",
    ),
    "mcode-cancer-disease-status": (
        "status",
        "code",
        "subject.reference",
        "effectiveDateTime",
        "valueCodeableConcept.coding.code",
    ),
    "mcode-genomic-variant": (
        "status",
        "category",
        "code",
        "subject.reference",
        "effectiveDateTime",
        "valueCodeableConcept",
    ),
    "mcode-cancer-related-surgical-procedure": (
        "status",
        "code",
        "subject.reference",
        "performedDateTime",
        "extension:mcode-procedure-intent",
    ),
    "mcode-radiotherapy-course-summary": (
        "status",
        "code.coding.code",
        "subject.reference",
        "performedPeriod.start",
        "extension:mcode-procedure-intent",
        "extension:mcode-radiotherapy-sessions",
        "bodySite",
    ),
    "mcode-cancer-related-medication-request": (
        "status",
        "intent",
        "medicationCodeableConcept",
        "subject.reference",
        "authoredOn",
        "extension:mcode-procedure-intent",
        "dosageInstruction.timing.repeat.boundsPeriod.start",
    ),
}


def _codes(concept: Any) -> set[tuple[str, str]]:
    if isinstance(concept, list):
        return {c for item in concept for c in _codes(item)}
    if not isinstance(concept, Mapping):
        return set()
    return {(cd.get("system", ""), cd.get("code", "")) for cd in concept.get("coding", [])}


def expected_profile(resource: Mapping[str, Any]) -> str | None:
    """The mCODE profile (its name) the resource's content calls for, or None."""
    rtype = resource.get("resourceType")
    code = _codes(resource.get("code"))
    if rtype == "Patient":
        return "mcode-cancer-patient"
    if rtype == "Condition":
        if (SNOMED, "128462008") in code:
            return "mcode-secondary-cancer-condition"
        histology = [e for e in resource.get("extension", []) if e.get("url", "").startswith(MCODE)]
        return "mcode-primary-cancer-condition" if histology else None  # a comorbidity: none
    if rtype == "Observation":
        loinc = {c for s, c in code if s == LOINC}
        for value in loinc:
            if value in _OBSERVATION_PROFILES:
                return _OBSERVATION_PROFILES[value]
        if any(s == _LOCAL_BIOMARKER for s, _ in code):
            return "mcode-tumor-marker-test"
        return None
    if rtype == "Procedure":
        if (SNOMED, "1217123003") in code:
            return "mcode-radiotherapy-course-summary"
        if (SNOMED, "387713003") in _codes(resource.get("category")):
            return "mcode-cancer-related-surgical-procedure"
        return None
    if rtype == "MedicationRequest":
        return "mcode-cancer-related-medication-request"
    return None


def _present(value: Any, path: list[str]) -> bool:
    if not path:
        return value not in (None, "", [], {})
    if isinstance(value, list):
        return any(_present(item, path) for item in value)
    if not isinstance(value, Mapping):
        return False
    head, rest = path[0], path[1:]
    if head.startswith("extension:"):
        url = MCODE + head.split(":", 1)[1]
        return any(
            _present(e, rest or ["url"]) for e in value.get("extension", []) if e.get("url") == url
        )
    return _present(value.get(head), rest)


def has_element(resource: Mapping[str, Any], element: str) -> bool:
    return any(_present(resource, alt.split(".")) for alt in element.split("|"))


def check_resource(resource: Mapping[str, Any]) -> list[str]:
    """The problems of one exported resource (empty when it conforms)."""
    problems: list[str] = []
    rtype = str(resource.get("resourceType"))
    try:
        get_fhir_model_class(rtype).model_validate(dict(resource))
    except (KeyError, ValueError, pydantic.ValidationError) as exc:
        problems.append(f"not a valid R4B {rtype}: {exc}")
    declared = set((resource.get("meta") or {}).get("profile", []))
    expected = expected_profile(resource)
    wanted = {MCODE + expected} if expected else set()
    if declared != wanted:
        problems.append(f"meta.profile {sorted(declared)} should be {sorted(wanted)}")
    for element in MUST_SUPPORT.get(expected or "", ()):
        if not has_element(resource, element):
            problems.append(f"{expected}: must-support {element} missing")
    return problems
