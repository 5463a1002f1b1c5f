"""Record payload -> FHIR R4 Bundle (type collection) in the mCODE shape. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from oncology.clinical.biomarkers import BIOMARKERS
from oncology.clinical.icdo3 import MORPHOLOGY, TOPOGRAPHY
from oncology.fhir import codes as c

Resource = dict[str, Any]
_NAMESPACE = uuid.UUID("7f6d2a0e-3c1b-4e1f-9a43-0b8f1e2d9c55")


class _Builder:
    def __init__(self, key: str) -> None:
        self.key = key
        self.entries: list[dict[str, Any]] = []

    def url(self, kind: str, ident: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{self.key}/{kind}/{ident}')}"

    def add(self, url: str, resource: Resource) -> None:
        self.entries.append({"fullUrl": url, "resource": resource})


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _snomed(table: Mapping[str, tuple[str, str]], key: str) -> dict[str, Any]:
    code, display = table[key]
    return _concept(c.SNOMED, code, display)


def _loinc(code_display: tuple[str, str]) -> dict[str, Any]:
    return _concept(c.LOINC, *code_display)


def _ident(section: str, value: str) -> list[dict[str, str]]:
    return [{"system": c.identifier_system(section), "value": value}]


def _category(code: str) -> list[dict[str, Any]]:
    return [_concept(c.OBS_CATEGORY, code)]


def _profile(name: str) -> dict[str, Any]:
    return {"profile": [c.PROFILES[name]]}


def _intent_ext(intent: str) -> dict[str, Any]:
    return {"url": c.MCODE_INTENT_EXT, "valueCodeableConcept": _snomed(c.INTENT, intent)}


def icd10_for(primary_site: str, morphology: str) -> str | None:
    """The ICD-10 code of a malignant solid tumour: its ICD-O-3 topography code (C00-C80).

    Haematological morphologies (9590 and above) and non-malignant behaviours have ICD-10 codes
    that depend on the morphology; they are not mapped (the ICD-O-3 codes still travel).
    """
    behaviour = morphology.rsplit("/", 1)[-1]
    if behaviour != "3" or int(morphology[:4]) >= 9590:
        return None
    return primary_site


def record_to_bundle(
    record: Mapping[str, Any],
    *,
    key: str,
    genomics: Iterable[Mapping[str, Any]] = (),
    decisions: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One patient's record (the payload shape, dates as ISO strings) as a FHIR Bundle dict.

    `key` (the patient's public id) seeds the entries' urn:uuid fullUrls, so the same record
    exports the same Bundle. `genomics` (genomic reports with their variants) and `decisions`
    (signed board decisions) are export-only extras. Raises pydantic.ValidationError if a
    resource does not validate (a bug here, never the caller's input).
    """
    b = _Builder(key)
    patient_url = b.url("Patient", "1")
    subject = {"reference": patient_url}
    b.add(patient_url, _patient(record))
    _patient_observations(b, record, subject)

    dx_url: dict[str, str] = {}
    dx_by_ext: dict[str, Mapping[str, Any]] = {}
    for dx in record.get("diagnoses", []):
        ext = dx["external_id"]
        url = dx_url[ext] = b.url("Condition", ext)
        dx_by_ext[ext] = dx
        b.add(url, _condition(dx, subject))
        _diagnosis_observations(b, dx, subject, url)

    def focus(item: Mapping[str, Any]) -> str | None:
        ref = item.get("diagnosis_external_id")
        return dx_url.get(ref) if ref else None

    for bm in record.get("biomarkers", []):
        b.add(b.url("Biomarker", bm["external_id"]), _biomarker(bm, subject, focus(bm)))
    for ps in record.get("performance_statuses", []):
        b.add(
            b.url("Ecog", ps["external_id"]),
            {
                "resourceType": "Observation",
                "meta": _profile("ecog"),
                "identifier": _ident("performance_statuses", ps["external_id"]),
                "status": "final",
                "category": _category("survey"),
                "code": _loinc(c.ECOG_LOINC),
                "subject": subject,
                "effectiveDateTime": ps["assessed_on"],
                "valueInteger": ps["ecog"],
            },
        )
    for cm in record.get("comorbidities", []):
        b.add(b.url("Comorbidity", cm["condition"]), _comorbidity(cm, subject))
    for lab in record.get("labs", []):
        b.add(b.url("Lab", lab["external_id"]), _lab(lab, subject))
    for ms in record.get("measurements", []):
        for field, loinc, unit in (
            ("weight_kg", c.WEIGHT_LOINC, "kg"),
            ("height_cm", c.HEIGHT_LOINC, "cm"),
        ):
            if ms.get(field) is None:
                continue
            b.add(
                b.url(f"Measurement.{field}", ms["external_id"]),
                {
                    "resourceType": "Observation",
                    "identifier": _ident(f"measurements.{field}", ms["external_id"]),
                    "status": "final",
                    "category": _category("vital-signs"),
                    "code": _loinc(loinc),
                    "subject": subject,
                    "effectiveDateTime": ms["measured_on"],
                    "valueQuantity": _quantity(ms[field], unit),
                },
            )
    for sx in record.get("surgeries", []):
        b.add(b.url("Surgery", sx["external_id"]), _surgery(sx, subject, focus(sx)))
    for rt in record.get("radiotherapies", []):
        b.add(b.url("Radiotherapy", rt["external_id"]), _radiotherapy(rt, subject, focus(rt)))
    for st in record.get("systemic_therapies", []):
        for i, resource in enumerate(_medication_requests(st, subject, focus(st))):
            b.add(b.url("Systemic", f"{st['external_id']}#{i}"), resource)
    for fu in record.get("follow_ups", []):
        b.add(b.url("FollowUp", fu["external_id"]), _follow_up(fu, subject))
    for ev in record.get("disease_events", []):
        url = b.url("DiseaseEvent", ev["external_id"])
        if ev["event_type"] == "distant_recurrence":
            primary = dx_by_ext.get(ev.get("diagnosis_external_id") or "")
            b.add(url, _secondary_cancer(ev, subject, focus(ev), primary))
        else:
            b.add(url, _disease_event(ev, subject, focus(ev)))
    for tx in record.get("toxicities", []):
        b.add(b.url("Toxicity", tx["external_id"]), _toxicity(tx, subject))
    for report in genomics:
        _genomics(b, report, subject)
    for decision in decisions:
        b.add(b.url("CarePlan", decision["public_id"]), _care_plan(decision, subject, dx_url))

    bundle = {"resourceType": "Bundle", "type": "collection", "entry": b.entries}
    # Building the models validates every resource (types, cardinalities, value formats).
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": c.UCUM, "code": c.UCUM_CODE.get(unit, unit)}


def _patient(record: Mapping[str, Any]) -> Resource:
    out: Resource = {
        "resourceType": "Patient",
        "meta": _profile("patient"),
        "identifier": [
            {
                "use": "usual",
                "type": _concept(c.V2_ID_TYPE, "MR", "Medical record number"),
                "system": c.MRN_SYSTEM,
                "value": record["mrn"],
            }
        ],
        "name": [{"family": record["family_name"], "given": [record["given_name"]]}],
        "gender": record["sex"],
        "birthDate": record["birth_date"],
    }
    if record.get("vital_status") == "dead":
        if record.get("death_date"):
            out["deceasedDateTime"] = record["death_date"]
        else:
            out["deceasedBoolean"] = True
    elif record.get("vital_status") == "alive":
        out["deceasedBoolean"] = False
    return out


def _patient_observations(b: _Builder, record: Mapping[str, Any], subject: dict) -> None:
    smoking: Resource = {
        "resourceType": "Observation",
        "identifier": _ident("patient", "smoking-status"),
        "status": "final",
        "category": _category("social-history"),
        "code": _loinc(c.SMOKING_LOINC),
        "subject": subject,
        "valueCodeableConcept": _snomed(c.SMOKING_STATUS, record.get("smoking_status", "unknown")),
    }
    if record.get("smoking_pack_years") is not None:
        smoking["component"] = [
            {
                "code": _loinc(c.PACK_YEARS_LOINC),
                "valueQuantity": {
                    "value": record["smoking_pack_years"],
                    "unit": "pack-years",
                    "system": c.UCUM,
                    "code": "{PackYears}",
                },
            }
        ]
    b.add(b.url("Observation", "smoking-status"), smoking)
    vital: Resource = {
        "resourceType": "Observation",
        "identifier": _ident("patient", "vital-status"),
        "status": "final",
        "category": _category("survey"),
        "code": _loinc(c.VITAL_STATUS_LOINC),
        "subject": subject,
        "valueCodeableConcept": _snomed(c.VITAL_STATUS, record.get("vital_status", "alive")),
    }
    if record.get("last_contact_date"):
        # The vital status is known as of the last contact.
        vital["effectiveDateTime"] = record["last_contact_date"]
    b.add(b.url("Observation", "vital-status"), vital)


def _condition(dx: Mapping[str, Any], subject: dict) -> Resource:
    site, morph = dx["primary_site"], dx["morphology"]
    codings = []
    icd10 = icd10_for(site, morph)
    if icd10:
        codings.append(_coding(c.ICD10, icd10))
    codings.append(_coding(c.ICDO3, site, TOPOGRAPHY.get(site)))
    return {
        "resourceType": "Condition",
        "meta": _profile("primary_cancer"),
        "identifier": _ident("diagnoses", dx["external_id"]),
        "extension": [
            {
                "url": c.MCODE_HISTOLOGY_EXT,
                "valueCodeableConcept": _concept(c.ICDO3, morph, MORPHOLOGY.get(morph)),
            }
        ],
        "verificationStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
        ),
        "category": [_concept(c.CONDITION_CATEGORY, "problem-list-item")],
        "code": {"coding": codings},
        "bodySite": [
            {
                "extension": [
                    {
                        "url": c.MCODE_LATERALITY_EXT,
                        "valueCodeableConcept": _snomed(c.LATERALITY, dx["laterality"]),
                    }
                ],
                "coding": [_coding(c.ICDO3, site, TOPOGRAPHY.get(site))],
            }
        ],
        "subject": subject,
        "onsetDateTime": dx["diagnosis_date"],
        "recordedDate": dx["diagnosis_date"],
    }


def _diagnosis_observations(b: _Builder, dx: Mapping[str, Any], subject: dict, url: str) -> None:
    ext = dx["external_id"]
    if dx.get("grade"):
        b.add(
            b.url("Grade", ext),
            {
                "resourceType": "Observation",
                "meta": _profile("grade"),
                "identifier": _ident("diagnoses.grade", ext),
                "status": "final",
                "category": _category("laboratory"),
                "code": _loinc(c.GRADE_LOINC),
                "subject": subject,
                "focus": [{"reference": url}],
                "effectiveDateTime": dx["diagnosis_date"],
                "valueCodeableConcept": _concept(c.CS["grade"], dx["grade"]),
            },
        )
    for field, loinc in c.TNM_LOINC.items():
        if not dx.get(field):
            continue
        axis = field.rsplit("_", 1)[1]
        b.add(
            b.url(f"Tnm.{field}", ext),
            {
                "resourceType": "Observation",
                "meta": _profile(c.TNM_PROFILE[axis]),
                "identifier": _ident(f"diagnoses.{field}", ext),
                "status": "final",
                "category": _category("survey"),
                "code": _loinc(loinc),
                "subject": subject,
                "focus": [{"reference": url}],
                "effectiveDateTime": dx["diagnosis_date"],
                "method": _concept(*c.TNM_METHOD),
                "valueCodeableConcept": _concept(c.AJCC, dx[field]),
            },
        )


def _biomarker(bm: Mapping[str, Any], subject: dict, focus: str | None) -> Resource:
    name = bm["name"]
    codings = []
    if name in c.BIOMARKER_LOINC:
        codings.append(_coding(c.LOINC, *c.BIOMARKER_LOINC[name]))
    spec = BIOMARKERS.get(name)
    codings.append(_coding(c.CS["biomarker"], name, spec.label if spec else None))
    out: Resource = {
        "resourceType": "Observation",
        "meta": _profile("tumor_marker"),
        "identifier": _ident("biomarkers", bm["external_id"]),
        "status": "final",
        "category": _category("laboratory"),
        "code": {"coding": codings},
        "subject": subject,
        "effectiveDateTime": bm["test_date"],
        "valueCodeableConcept": _snomed(c.BIOMARKER_RESULT, bm["result"]),
    }
    if focus:
        out["focus"] = [{"reference": focus}]
    if bm.get("value") is not None:
        unit = (spec.unit if spec else None) or "1"
        out["component"] = [
            {
                "code": _concept(c.CS["biomarker"], f"{name}.value"),
                "valueQuantity": _quantity(bm["value"], unit),
            }
        ]
    return out


def _comorbidity(cm: Mapping[str, Any], subject: dict) -> Resource:
    out: Resource = {
        "resourceType": "Condition",
        "category": [_concept(c.CONDITION_CATEGORY, "problem-list-item")],
        "code": _concept(c.CS["charlson"], cm["condition"]),
        "subject": subject,
    }
    if cm.get("external_id"):
        out["identifier"] = _ident("comorbidities", cm["external_id"])
    if cm.get("diagnosed_on"):
        out["onsetDateTime"] = cm["diagnosed_on"]
    return out


def _lab(lab: Mapping[str, Any], subject: dict) -> Resource:
    out: Resource = {
        "resourceType": "Observation",
        "identifier": _ident("labs", lab["external_id"]),
        "status": "final",
        "category": _category("laboratory"),
        "code": _concept(c.LOINC, lab["code"]),
        "subject": subject,
        "effectiveDateTime": lab["collected_on"],
        "valueQuantity": _quantity(lab["value"], lab["unit"]),
    }
    if lab["code"] in c.TUMOUR_MARKER_LABS:
        out["meta"] = _profile("tumor_marker")
    return out


def _ext(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"url": c.EXT[name], kind: value}


def _surgery(sx: Mapping[str, Any], subject: dict, focus: str | None) -> Resource:
    extensions = [_intent_ext(sx["intent"])]
    if sx.get("margin_status"):
        extensions.append(_ext("margin", "valueCode", sx["margin_status"]))
    out: Resource = {
        "resourceType": "Procedure",
        "meta": _profile("surgery"),
        "extension": extensions,
        "identifier": _ident("surgeries", sx["external_id"]),
        "status": "completed",
        "category": _concept(c.SNOMED, *c.SURGERY_CATEGORY[1:]),
        "code": {"text": sx["procedure"]},
        "subject": subject,
        "performedDateTime": sx["performed_on"],
    }
    if focus:
        out["reasonReference"] = [{"reference": focus}]
    return out


def _radiotherapy(rt: Mapping[str, Any], subject: dict, focus: str | None) -> Resource:
    extensions = [
        _intent_ext(rt["intent"]),
        _ext("technique", "valueCode", rt["technique"]),
        _ext("total_dose", "valueQuantity", _quantity(rt["total_dose_gy"], "Gy")),
        _ext("fractions", "valueInteger", rt["fractions"]),
        # mCODE's number of sessions: one fraction a session, as the record counts them
        {"url": c.MCODE_RT_SESSIONS_EXT, "valueUnsignedInt": rt["fractions"]},
    ]
    if rt.get("best_response"):
        extensions.append(_ext("best_response", "valueCode", rt["best_response"]))
    period = {"start": rt["start_date"]}
    if rt.get("end_date"):
        period["end"] = rt["end_date"]
    out: Resource = {
        "resourceType": "Procedure",
        "meta": _profile("radiotherapy"),
        "extension": extensions,
        "identifier": _ident("radiotherapies", rt["external_id"]),
        "status": "completed" if rt.get("end_date") else "in-progress",
        "category": _concept(*c.RADIOTHERAPY_CATEGORY),
        "code": _concept(*c.RADIOTHERAPY_CODE),
        "subject": subject,
        "performedPeriod": period,
        "bodySite": [{"text": rt["target"]}],
    }
    if focus:
        out["reasonReference"] = [{"reference": focus}]
    return out


def _medication_requests(st: Mapping[str, Any], subject: dict, focus: str | None) -> list[Resource]:
    """One MedicationRequest per drug of the regimen, grouped by the regimen's external id."""
    ext = st["external_id"]
    drugs = list(st.get("drugs") or [])
    bounds = {"start": st["start_date"]}
    if st.get("end_date"):
        bounds["end"] = st["end_date"]
    out = []
    for i, drug in enumerate(drugs or [None]):
        extensions = [
            _intent_ext(st["intent"]),
            _ext("regimen", "valueString", st["regimen"]),
            _ext("category", "valueCode", st["category"]),
            _ext("drug_index", "valueInteger", i if drug is not None else -1),
        ]
        if st.get("cycles") is not None:
            extensions.append(_ext("cycles", "valueInteger", st["cycles"]))
        if st.get("best_response"):
            extensions.append(_ext("best_response", "valueCode", st["best_response"]))
        dosage: dict[str, Any] = {"timing": {"repeat": {"boundsPeriod": bounds}}}
        if drug is not None:
            dosage["doseAndRate"] = [{"doseQuantity": _quantity(drug["dose"], drug["unit"])}]
        resource: Resource = {
            "resourceType": "MedicationRequest",
            "meta": _profile("medication_request"),
            "extension": extensions,
            "identifier": _ident("systemic_therapies.drug", f"{ext}#{i}"),
            "groupIdentifier": {"system": c.identifier_system("systemic_therapies"), "value": ext},
            "status": "completed" if st.get("end_date") else "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": drug["name"] if drug else st["regimen"]},
            "subject": subject,
            "authoredOn": st["start_date"],
            "dosageInstruction": [dosage],
        }
        if focus:
            resource["reasonReference"] = [{"reference": focus}]
        out.append(resource)
    return out


def _follow_up(fu: Mapping[str, Any], subject: dict) -> Resource:
    out: Resource = {
        "resourceType": "Observation",
        "meta": _profile("disease_status"),
        "identifier": _ident("follow_ups", fu["external_id"]),
        "status": "final",
        "category": _category("survey"),
        "code": _loinc(c.DISEASE_STATUS_LOINC),
        "subject": subject,
        "effectiveDateTime": fu["visit_date"],
        "valueCodeableConcept": _snomed(c.DISEASE_STATUS, fu["disease_status"]),
    }
    if fu.get("ecog") is not None:
        out["component"] = [{"code": _loinc(c.ECOG_LOINC), "valueInteger": fu["ecog"]}]
    return out


def _disease_event(ev: Mapping[str, Any], subject: dict, focus: str | None) -> Resource:
    out: Resource = {
        "resourceType": "Observation",
        "identifier": _ident("disease_events", ev["external_id"]),
        "status": "final",
        "category": _category("survey"),
        "code": _concept(c.CS["disease_event_code"], c.DISEASE_EVENT_CODE),
        "subject": subject,
        "effectiveDateTime": ev["event_date"],
        "valueCodeableConcept": _concept(c.CS["disease_event"], ev["event_type"]),
    }
    if focus:
        out["focus"] = [{"reference": focus}]
    return out


def _secondary_cancer(
    ev: Mapping[str, Any],
    subject: dict,
    focus: str | None,
    primary: Mapping[str, Any] | None,
) -> Resource:
    """A distant recurrence as an mCODE secondary cancer condition. The record keeps no site of
    the metastasis (no bodySite); its histology is the primary's morphology with behaviour 6
    (metastatic site, ICD-O-3)."""
    extensions = []
    if focus:
        extensions.append(
            {"url": c.MCODE_RELATED_PRIMARY_EXT, "valueReference": {"reference": focus}}
        )
    if primary:
        morphology = primary["morphology"].rsplit("/", 1)[0] + "/6"
        extensions.append(
            {"url": c.MCODE_HISTOLOGY_EXT, "valueCodeableConcept": _concept(c.ICDO3, morphology)}
        )
    out: Resource = {
        "resourceType": "Condition",
        "meta": _profile("secondary_cancer"),
        "identifier": _ident("disease_events", ev["external_id"]),
        "verificationStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
        ),
        "category": [_concept(c.CONDITION_CATEGORY, "problem-list-item")],
        "code": _snomed({"x": c.SECONDARY_CANCER_CODE}, "x"),
        "subject": subject,
        "onsetDateTime": ev["event_date"],
        "recordedDate": ev["event_date"],
    }
    if extensions:
        out["extension"] = extensions
    return out


def _toxicity(tx: Mapping[str, Any], subject: dict) -> Resource:
    return {
        "resourceType": "AdverseEvent",
        "extension": [
            _ext("ctcae_grade", "valueInteger", tx["grade"]),
            _ext("attributed_to", "valueCode", tx["attributed_to"]),
        ],
        "identifier": _ident("toxicities", tx["external_id"])[0],
        "actuality": "actual",
        "event": _concept(c.CS["ctcae"], tx["term"]),
        "subject": subject,
        "date": tx["onset_date"],
    }


def _genomics(b: _Builder, report: Mapping[str, Any], subject: dict) -> None:
    """A genomic report's TMB, MSI and variants as mCODE genomics Observations (export only)."""
    rid = report["public_id"]
    date = report["collection_date"]
    if report.get("tmb") is not None:
        b.add(
            b.url("Genomics.tmb", rid),
            {
                "resourceType": "Observation",
                "meta": _profile("tumor_marker"),
                "identifier": _ident("genomics.tmb", rid),
                "status": "final",
                "category": _category("laboratory"),
                "code": _loinc(c.TMB_LOINC),
                "subject": subject,
                "effectiveDateTime": date,
                "valueQuantity": {
                    "value": report["tmb"],
                    "unit": "mutations/Mb",
                    "system": c.UCUM,
                    "code": "{mutations}/1000000{Base}",
                },
            },
        )
    if report.get("msi_status"):
        b.add(
            b.url("Genomics.msi", rid),
            {
                "resourceType": "Observation",
                "meta": _profile("tumor_marker"),
                "identifier": _ident("genomics.msi", rid),
                "status": "final",
                "category": _category("laboratory"),
                "code": _loinc(c.MSI_LOINC),
                "subject": subject,
                "effectiveDateTime": date,
                "valueCodeableConcept": {"text": report["msi_status"]},
            },
        )
    for i, variant in enumerate(report.get("variants", [])):
        components: list[dict[str, Any]] = []
        if variant.get("gene"):
            components.append(
                {
                    "code": _loinc(c.GENE_STUDIED_LOINC),
                    "valueCodeableConcept": {"text": variant["gene"]},
                }
            )
        for field, loinc in (("hgvs_c", c.HGVS_C_LOINC), ("hgvs_p", c.HGVS_P_LOINC)):
            if variant.get(field):
                components.append(
                    {"code": _loinc(loinc), "valueCodeableConcept": {"text": variant[field]}}
                )
        if variant.get("vaf") is not None:
            components.append(
                {
                    "code": _loinc(c.VAF_LOINC),
                    "valueQuantity": {"value": variant["vaf"], "system": c.UCUM, "code": "1"},
                }
            )
        b.add(
            b.url("Genomics.variant", f"{rid}#{i}"),
            {
                "resourceType": "Observation",
                "meta": _profile("genomic_variant"),
                "identifier": _ident("genomics.variant", f"{rid}#{i}"),
                "status": "final",
                "category": _category("laboratory"),
                "code": _loinc(c.VARIANT_LOINC),
                "subject": subject,
                "effectiveDateTime": date,
                "valueCodeableConcept": _concept(c.LOINC, "LA9633-4", "Present"),
                "component": components,
            },
        )


def _care_plan(decision: Mapping[str, Any], subject: dict, dx_url: Mapping[str, str]) -> Resource:
    """A signed tumour-board decision (export only)."""
    out: Resource = {
        "resourceType": "CarePlan",
        "identifier": _ident("board_decisions", decision["public_id"]),
        "status": "active",
        "intent": "plan",
        "category": [_concept(c.SNOMED, "395082007", "Cancer care plan")],
        "title": decision["chosen_option"],
        "description": decision["plan"],
        "subject": subject,
        "note": [{"text": f"Rationale: {decision['rationale']}"}],
    }
    if decision.get("signed_at"):
        out["created"] = decision["signed_at"]
    if decision.get("dissent"):
        out["note"].append({"text": f"Dissent: {decision['dissent']}"})
    addresses = [{"reference": dx_url[e]} for e in decision.get("diagnoses", []) if e in dx_url]
    if addresses:
        out["addresses"] = addresses
    return out
