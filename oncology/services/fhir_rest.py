"""FHIR REST reads over a patient's record: read by id, search by patient (and by identifier,
in a request body), and the server's CapabilityStatement. Access-checked and audited.

Every answer is cut from the patient's export (oncology.services.fhir_export), so a resource
read or searched is the very resource `$everything` gives, with two changes that a server's
resources need: each has an `id`, and references point at `<type>/<id>` instead of the
export's `urn:uuid:` fullUrls. Ids: a Patient's is its public id; any other resource's is the
patient's public id and the resource's export uuid as 64 hex digits, so a read finds the
patient (and checks access to it) from the id alone, and ids are stable across exports.

Audit: a read writes one VIEW event for the patient, a search one LIST event per patient
returned (one without a patient when nothing was), object type "patient_fhir". Events carry
ids and counts, never a search value (an identifier is an MRN).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.http import Http404
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from core.audit import audit_record
from core.models import AuditAction, User
from oncology.fhir import codes as c
from oncology.models import Patient
from oncology.selectors import patient_visible_queryset
from oncology.services.fhir_export import AUDIT_OBJECT, patient_fhir_bundle

# Resource types a search or read reaches (those the export holds), and their search
# parameters besides `patient`/`subject` (tokens on CodeableConcept elements).
SEARCHABLE: dict[str, dict[str, str]] = {
    "Patient": {},
    "Condition": {"code": "code", "category": "category"},
    "Observation": {"code": "code", "category": "category"},
    "Procedure": {"code": "code", "category": "category"},
    "MedicationRequest": {},
    "AdverseEvent": {},
    "CarePlan": {"category": "category"},
}
# Parameters every search accepts and that change nothing in a JSON-only server.
_NEUTRAL = {"_format": {"json", "application/json", "application/fhir+json"}}
_RESOURCE_ID = re.compile(r"^[0-9a-f]{64}$")


class FhirSearchError(ValueError):
    """A search parameter we cannot honour (HTTP 400, an OperationOutcome)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


# --- ids and references ----------------------------------------------------------------------


def resource_id(patient_public_id: uuid.UUID, full_url: str) -> str:
    return patient_public_id.hex + uuid.UUID(full_url.removeprefix("urn:uuid:")).hex


def _server_resources(patient: Patient, bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The export's resources with ids, and references rewritten to `<type>/<id>`."""
    names: dict[str, str] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            rid = str(patient.public_id)
        else:
            rid = resource_id(patient.public_id, entry["fullUrl"])
        names[entry["fullUrl"]] = f"{resource['resourceType']}/{rid}"

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: rewrite(v) for k, v in value.items()}
            if isinstance(out.get("reference"), str) and out["reference"] in names:
                out["reference"] = names[out["reference"]]
            return out
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    resources = []
    for entry in bundle["entry"]:
        resource = rewrite(entry["resource"])
        resource["id"] = names[entry["fullUrl"]].split("/", 1)[1]
        resources.append(resource)
    return resources


def _searchset(base: str, resources: list[dict[str, Any]], self_link: str) -> dict[str, Any]:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": self_link}],
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


def _audit_search(user: User, patient: Patient | None, count: int, rtype: str) -> None:
    audit_record(
        actor=user,
        action=AuditAction.LIST,
        object_type=AUDIT_OBJECT,
        object_id=patient.public_id if patient else "",
        patient_id=patient.pk if patient else None,
        institution_id=patient.institution_id if patient else user.institution_id,
        detail={"count": count, "format": rtype},  # the resource type searched
    )


# --- read ------------------------------------------------------------------------------------


def fhir_read(*, user: User, resource_type: str, rid: str) -> dict[str, Any]:
    """The resource `resource_type`/`rid`; Http404 when there is none or its patient is not
    visible to `user`. One VIEW event for the patient."""
    if resource_type not in SEARCHABLE:
        raise Http404("No such resource")
    if resource_type == "Patient":
        try:
            public_id = uuid.UUID(rid)
        except ValueError as exc:
            raise Http404("No such resource") from exc
    elif _RESOURCE_ID.match(rid):
        public_id = uuid.UUID(rid[:32])
    else:
        raise Http404("No such resource")
    patient, bundle = patient_fhir_bundle(
        user=user, public_id=public_id, audit_action=AuditAction.VIEW, with_patient=True
    )
    for resource in _server_resources(patient, bundle):
        if resource["resourceType"] == resource_type and resource["id"] == rid:
            return resource
    raise Http404("No such resource")


# --- search ----------------------------------------------------------------------------------


def _token_match(concepts: Any, token: str) -> bool:
    """FHIR token search on CodeableConcept(s): `code`, `system|code`, `|code` (no system) or
    `system|` (any code of the system)."""
    if isinstance(concepts, dict):
        concepts = [concepts]
    system, sep, code = token.partition("|")
    if not sep:
        system, code = "", token
    for concept in concepts or []:
        for coding in concept.get("coding", []):
            if sep and system and coding.get("system") != system:
                continue
            if sep and not system and coding.get("system"):
                continue
            if code and coding.get("code") != code:
                continue
            return True
    return False


def _patient_param(value: str) -> uuid.UUID | None:
    text = value.removeprefix("Patient/")
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def fhir_search(
    *, user: User, resource_type: str, params: Mapping[str, list[str]], base: str, self_link: str
) -> dict[str, Any]:
    """A searchset Bundle of `resource_type` for one patient, named by `patient` (or `subject`,
    or `_id` for Patient): the patient's id or `Patient/<id>`. A patient that does not exist or
    that `user` may not see gives an empty searchset. Raises FhirSearchError for a parameter we
    do not support or cannot read (identifiers go to patient_search_by_identifier)."""
    if resource_type not in SEARCHABLE:
        raise FhirSearchError("resourceType", f"{resource_type} is not searched here.")
    allowed = SEARCHABLE[resource_type]
    patient_keys = ("_id",) if resource_type == "Patient" else ("patient", "subject")
    patient_id: uuid.UUID | None = None
    tokens: list[tuple[str, list[str]]] = []
    for name, values in params.items():
        if name in _NEUTRAL:
            if any(v not in _NEUTRAL[name] for v in values):
                raise FhirSearchError(name, "Only JSON is served.")
            continue
        if name == "identifier" and resource_type == "Patient":
            raise FhirSearchError(
                name,
                "An identifier (an MRN) stays out of URLs: POST it as a form to Patient/_search.",
            )
        if name in patient_keys:
            if len(values) != 1 or "," in values[0]:
                raise FhirSearchError(name, "Give one patient.")
            patient_id = _patient_param(values[0])
            if patient_id is None:
                raise FhirSearchError(name, "Not a patient id (Patient/<id>).")
            continue
        if name in allowed:
            tokens.append((allowed[name], [v for value in values for v in value.split(",")]))
            continue
        supported = ", ".join(sorted({*patient_keys, *allowed, *_NEUTRAL}))
        raise FhirSearchError(name, f"Not a supported search parameter (supported: {supported}).")
    if patient_id is None:
        raise FhirSearchError(patient_keys[0], f"A search names its patient ({patient_keys[0]}).")
    try:
        patient, bundle = patient_fhir_bundle(
            user=user, public_id=patient_id, audit_action=None, with_patient=True
        )
    except Http404:
        _audit_search(user, None, 0, resource_type)
        return _searchset(base, [], self_link)
    found = [
        r
        for r in _server_resources(patient, bundle)
        if r["resourceType"] == resource_type
        # each parameter must match; the values of one parameter are alternatives
        and all(any(_token_match(r.get(el), v) for v in vs) for el, vs in tokens)
    ]
    _audit_search(user, patient, len(found), resource_type)
    return _searchset(base, found, self_link)


def patient_search_by_identifier(
    *, user: User, identifier: str, base: str, self_link: str
) -> dict[str, Any]:
    """POST Patient/_search with `identifier`: the visible patient of the user's institution
    with that MRN (`<system>|<mrn>` with OncoBoard's MRN system, `|<mrn>` or `<mrn>`), as a
    searchset of one or none."""
    system, sep, value = identifier.partition("|")
    if not sep:
        system, value = "", identifier
    if not value or len(value) > 64:
        raise FhirSearchError("identifier", "Give an identifier: <system>|<value> or <value>.")
    patient = None
    if system in ("", c.MRN_SYSTEM) and user.institution_id is not None:
        patient = (
            patient_visible_queryset(user=user)
            .filter(institution_id=user.institution_id, mrn=value)
            .first()
        )
    if patient is None:
        _audit_search(user, None, 0, "Patient")
        return _searchset(base, [], self_link)
    _, bundle = patient_fhir_bundle(
        user=user, public_id=patient.public_id, audit_action=None, with_patient=True
    )
    resources = [r for r in _server_resources(patient, bundle) if r["resourceType"] == "Patient"]
    _audit_search(user, patient, len(resources), "Patient")
    return _searchset(base, resources, self_link)


# --- CapabilityStatement ------------------------------------------------------------------


def _profiles(*names: str) -> list[str]:
    return [c.PROFILES[n] for n in names]


_RESOURCE_PROFILES: dict[str, list[str]] = {
    "Patient": _profiles("patient"),
    "Condition": _profiles("primary_cancer", "secondary_cancer"),
    "Observation": _profiles(
        "tnm_stage_group",
        "tnm_t",
        "tnm_n",
        "tnm_m",
        "grade",
        "tumor_marker",
        "ecog",
        "disease_status",
        "genomic_variant",
    ),
    "Procedure": _profiles("surgery", "radiotherapy"),
    "MedicationRequest": _profiles("medication_request"),
    "AdverseEvent": [],
    "CarePlan": [],
}
_TOKEN_DOCS = {
    "code": "token on the resource's code (system|code, code, |code or system|)",
    "category": "token on the resource's category",
}


def capability_statement(*, base: str) -> dict[str, Any]:
    """What this server really does (docs/interop-fhir.md), validated as an R4B model."""
    resources: list[dict[str, Any]] = []
    for rtype, params in SEARCHABLE.items():
        search = [
            {"name": name, "type": "token", "documentation": _TOKEN_DOCS[name]} for name in params
        ]
        if rtype == "Patient":
            search = [
                {"name": "_id", "type": "token", "documentation": "the patient's public id"},
                {
                    "name": "identifier",
                    "type": "token",
                    "documentation": "the MRN (system "
                    f"{c.MRN_SYSTEM}); only in the body of POST Patient/_search, never a URL",
                },
            ]
        else:
            search = [
                {
                    "name": "patient",
                    "type": "reference",
                    "documentation": "required: the patient's public id or Patient/<id>",
                },
                {"name": "subject", "type": "reference", "documentation": "as patient"},
                *search,
            ]
        entry: dict[str, Any] = {
            "type": rtype,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": search,
        }
        if _RESOURCE_PROFILES[rtype]:
            entry["supportedProfile"] = _RESOURCE_PROFILES[rtype]
        if rtype == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": "the whole record as a collection Bundle; no parameters",
                }
            ]
        resources.append(entry)
    resources.append(
        {
            "type": "MedicationAdministration",
            "documentation": "read from imported Bundles (systemic therapy); not served",
        }
    )
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-24",
        "publisher": "OncoBoard",
        "kind": "instance",
        "software": {"name": "OncoBoard"},
        "implementation": {"description": "OncoBoard FHIR API (mCODE)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "See docs/interop-fhir.md. Search results are not paged.",
                "security": {
                    "description": "Every call but this one needs `Authorization: Token <key>`; "
                    "a person reaches the patients of their care teams, a hospital system those "
                    "of its institution; reads and searches are audited."
                },
                "resource": resources,
                "interaction": [
                    {
                        "code": "transaction",
                        "documentation": "POST a transaction or collection Bundle to the base: "
                        "all or nothing, upserted by identifier (entry.request is not read; the "
                        "answer is a summary, not a transaction-response Bundle); integration "
                        "clients only",
                    }
                ],
            }
        ],
    }
    return CapabilityStatement.model_validate(statement).model_dump(mode="json", exclude_none=True)
