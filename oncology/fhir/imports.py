"""FHIR R4 Bundle -> record payloads (oncology.services.payload's shape). Pure.

`parse_bundle` validates the Bundle with fhir.resources and lists each error with its path
("entry[2].resource.birthDate"); `bundle_to_records` maps a valid Bundle to one record payload
per Patient in it, or errors (with the path of the resource) for what cannot be mapped. The
clinical checks (codes, staging, dates) are the sync service's, applied to the payloads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle

from oncology.fhir import codes as c

ACCEPTED_TYPES = ("collection", "transaction")
Resource = dict[str, Any]


@dataclass
class MappedBundle:
    records: list[dict[str, Any]] = field(default_factory=list)
    # index of each record -> the entry index of its Patient, for error paths
    patient_entries: list[int] = field(default_factory=list)
    # index of each record -> section -> the entry index of each item, for error paths
    item_entries: list[dict[str, list[int]]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # path -> what was read but not stored (the record has no place for it)
    warnings: dict[str, list[str]] = field(default_factory=dict)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_bundle(data: Any) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """(the Bundle as plain JSON data, {}) when `data` is a valid Bundle, else (None, errors)."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        return None, {"resourceType": ["Expected a FHIR Bundle."]}
    try:
        bundle = Bundle.model_validate(data)
    except pydantic.ValidationError as exc:
        errors: dict[str, list[str]] = defaultdict(list)
        for err in exc.errors():
            errors[_path(tuple(err["loc"])) or "Bundle"].append(str(err["msg"]))
        return None, dict(errors)
    if bundle.type not in ACCEPTED_TYPES:
        return None, {"type": [f"Expected a Bundle of type {' or '.join(ACCEPTED_TYPES)}."]}
    return bundle.model_dump(mode="json", exclude_none=True), {}


def _codes(concept: Any) -> list[tuple[str, str]]:
    if not isinstance(concept, Mapping):
        return []
    return [(cd.get("system", ""), cd.get("code", "")) for cd in concept.get("coding", [])]


def _code(concept: Mapping[str, Any] | None, system: str) -> str | None:
    return next((code for s, code in _codes(concept) if s == system), None)


def _reverse(table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {v[0]: k for k, v in table.items()}


_SMOKING = _reverse(c.SMOKING_STATUS)
_VITAL = _reverse(c.VITAL_STATUS)
_LATERALITY = _reverse(c.LATERALITY)
_INTENT = _reverse(c.INTENT)
_RESULT = _reverse(c.BIOMARKER_RESULT)
_DISEASE_STATUS = _reverse(c.DISEASE_STATUS)
_TNM = {loinc: f for f, (loinc, _) in c.TNM_LOINC.items()}
_BIOMARKER_BY_LOINC = {loinc: name for name, (loinc, _) in c.BIOMARKER_LOINC.items()}
_UNIT_FROM_UCUM = {v: k for k, v in c.UCUM_CODE.items()}


def _date(value: str | None) -> str | None:
    return value[:10] if value else None


def _ext(resource: Mapping[str, Any], url: str) -> Any:
    for e in resource.get("extension", []):
        if e.get("url") == url:
            for key, value in e.items():
                if key.startswith("value"):
                    return value
    return None


def _identifier(resource: Mapping[str, Any], system: str) -> str | None:
    idents = resource.get("identifier")
    if isinstance(idents, dict):
        idents = [idents]
    for ident in idents or []:
        if ident.get("system") == system:
            return ident.get("value")
    return None


def _any_identifier(resource: Mapping[str, Any], section: str) -> str | None:
    """The item's external id: OncoBoard's identifier for the section, else the first one."""
    own = _identifier(resource, c.identifier_system(section))
    if own:
        return own
    idents = resource.get("identifier")
    if isinstance(idents, dict):
        idents = [idents]
    for ident in idents or []:
        if ident.get("value"):
            system = ident.get("system", "")
            return f"{system}|{ident['value']}" if system else ident["value"]
    return None


def _mrn(patient: Mapping[str, Any]) -> str | None:
    idents = patient.get("identifier", [])
    for ident in idents:
        if ident.get("system") == c.MRN_SYSTEM:
            return ident.get("value")
    for ident in idents:
        if ("http://terminology.hl7.org/CodeSystem/v2-0203", "MR") in _codes(ident.get("type")):
            return ident.get("value")
    return idents[0].get("value") if idents else None


def _quantity_unit(q: Mapping[str, Any]) -> str:
    if q.get("unit"):
        return str(q["unit"])
    return _UNIT_FROM_UCUM.get(q.get("code", ""), q.get("code", ""))


def _number(value: Any) -> float | None:
    """A quantity's value as a float; None when absent (the sync service then says which field
    is missing)."""
    return None if value is None else float(value)


class _Mapper:
    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.entries = bundle.get("entry", [])
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.warnings: dict[str, list[str]] = defaultdict(list)
        self.secondaries: list[tuple[int, Resource]] = []  # mapped after every primary
        # reference string -> entry index
        self.index: dict[str, int] = {}
        for i, entry in enumerate(self.entries):
            resource = entry.get("resource") or {}
            if entry.get("fullUrl"):
                self.index[entry["fullUrl"]] = i
            if resource.get("id"):
                self.index[f"{resource['resourceType']}/{resource['id']}"] = i
        self.records: dict[int, dict[str, Any]] = {}  # patient entry index -> record
        self.diagnosis_of: dict[int, str] = {}  # condition entry index -> external id
        self.sources: dict[int, dict[str, list[int]]] = {}  # id(record) -> section -> entries
        self.current = 0  # the entry being mapped

    def _add(self, record: dict, section: str, item: dict, i: int | None = None) -> None:
        record[section].append(item)
        sources = self.sources.setdefault(id(record), defaultdict(list))
        sources[section].append(self.current if i is None else i)

    def error(self, i: int, where: str, message: str) -> None:
        self.errors[f"entry[{i}].resource{('.' + where) if where else ''}"].append(message)

    def target(self, ref: Mapping[str, Any] | None) -> int | None:
        if not ref or "reference" not in ref:
            return None
        return self.index.get(ref["reference"])

    def record_for(
        self, i: int, resource: Mapping[str, Any], where: str = "subject"
    ) -> dict | None:
        target = self.target(resource.get(where) if where != "patient" else resource.get("patient"))
        if target is None or target not in self.records:
            self.error(i, where, "Must reference a Patient in this Bundle.")
            return None
        return self.records[target]

    def run(self) -> MappedBundle:
        kinds = defaultdict(list)
        for i, entry in enumerate(self.entries):
            resource = entry.get("resource")
            if resource is None:
                self.error(i, "", "Entry without a resource.")
                continue
            kinds[resource["resourceType"]].append((i, resource))
        handlers = (
            ("Patient", self._patient),
            ("Condition", self._condition),
            ("Observation", self._observation),
            ("Procedure", self._procedure),
        )
        for rtype, handler in handlers:
            for i, res in kinds.pop(rtype, []):
                self.current = i
                handler(i, res)
            if rtype == "Condition":
                for i, res in self.secondaries:
                    self.current = i
                    self._secondary_cancer(i, res)
        requests = kinds.pop("MedicationRequest", []) + kinds.pop("MedicationAdministration", [])
        self._medications(requests)
        for i, res in kinds.pop("AdverseEvent", []):
            self.current = i
            self._adverse_event(i, res)
        kinds.pop("CarePlan", None)  # board decisions are export only: one sent back is ignored
        for rtype, items in kinds.items():
            for i, _ in items:
                self.error(i, "resourceType", f"{rtype} is not imported.")
        out = MappedBundle(errors=dict(self.errors), warnings=dict(self.warnings))
        for i, record in self.records.items():
            # Measurements were collected per external id.
            measurements = record.pop("_measurements")
            record["measurements"] = [item for item, _ in measurements.values()]
            sources = self.sources.setdefault(id(record), defaultdict(list))
            sources["measurements"] = [entry for _, entry in measurements.values()]
            out.records.append(record)
            out.patient_entries.append(i)
            out.item_entries.append(dict(sources))
        return out

    # -- resources --------------------------------------------------------------------------------

    def _patient(self, i: int, res: Resource) -> None:
        mrn = _mrn(res)
        if not mrn:
            self.error(i, "identifier", "A Patient needs an identifier (the MRN).")
            return
        record: dict[str, Any] = {"mrn": mrn}
        names = res.get("name") or []
        if names:
            if names[0].get("family"):
                record["family_name"] = names[0]["family"]
            if names[0].get("given"):
                record["given_name"] = " ".join(names[0]["given"])
        if res.get("gender"):
            record["sex"] = res["gender"]
        if res.get("birthDate"):
            record["birth_date"] = res["birthDate"]
        if res.get("deceasedDateTime"):
            record["vital_status"] = "dead"
            record["death_date"] = _date(res["deceasedDateTime"])
        elif res.get("deceasedBoolean") is True:
            record["vital_status"] = "dead"
        elif res.get("deceasedBoolean") is False:
            record["vital_status"] = "alive"
        for section in (
            "diagnoses",
            "biomarkers",
            "performance_statuses",
            "comorbidities",
            "labs",
            "surgeries",
            "radiotherapies",
            "systemic_therapies",
            "follow_ups",
            "disease_events",
            "toxicities",
        ):
            record[section] = []
        record["_measurements"] = {}
        self.records[i] = record

    def _condition(self, i: int, res: Resource) -> None:
        record = self.record_for(i, res)
        if record is None:
            return
        charlson = _code(res.get("code"), c.CS["charlson"])
        if charlson:
            item: dict[str, Any] = {"condition": charlson, "diagnosed_on": None}
            ext = _identifier(res, c.identifier_system("comorbidities"))
            item["external_id"] = ext
            if res.get("onsetDateTime"):
                item["diagnosed_on"] = _date(res["onsetDateTime"])
            self._add(record, "comorbidities", item, i)
            return
        if _is_secondary_cancer(res):
            self.secondaries.append((i, res))
            return
        ext = _any_identifier(res, "diagnoses")
        if not ext:
            self.error(i, "identifier", "A Condition needs an identifier.")
            return
        site = None
        laterality = "unknown"
        for body_site in res.get("bodySite", []):
            site = site or _code(body_site, c.ICDO3)
            lat = _ext(body_site, c.MCODE_LATERALITY_EXT)
            if lat and _code(lat, c.SNOMED) in _LATERALITY:
                laterality = _LATERALITY[_code(lat, c.SNOMED) or ""]
        site = site or _code(res.get("code"), c.ICDO3) or _code(res.get("code"), c.ICD10)
        histology = _ext(res, c.MCODE_HISTOLOGY_EXT)
        morphology = _code(histology, c.ICDO3) if histology else None
        onset = _date(res.get("onsetDateTime") or res.get("recordedDate"))
        for name, value, where in (
            ("primary_site", site, "bodySite"),
            ("morphology", morphology, "extension"),
            ("diagnosis_date", onset, "onsetDateTime"),
        ):
            if not value:
                self.error(i, where, f"No {name.replace('_', ' ')} (see docs/interop-fhir.md).")
        if not (site and morphology and onset):
            return
        self._add(
            record,
            "diagnoses",
            {
                "external_id": ext,
                "primary_site": site,
                "morphology": morphology,
                "laterality": laterality,
                "diagnosis_date": onset,
                "grade": "",
                **dict.fromkeys(c.TNM_LOINC, ""),
            },
        )
        self.diagnosis_of[i] = ext

    def _secondary_cancer(self, i: int, res: Resource) -> None:
        """A secondary cancer condition is the record's distant recurrence: its onset is the
        event's date, its related primary the event's diagnosis. The record keeps no site or
        histology of a metastasis: those are read, not stored, and the answer says so."""
        record = self.record_for(i, res)
        if record is None:
            return
        ext = _any_identifier(res, "disease_events")
        onset = _date(res.get("onsetDateTime") or res.get("recordedDate"))
        if not ext:
            self.error(i, "identifier", "A Condition needs an identifier.")
        if not onset:
            self.error(i, "onsetDateTime", "No onset date (see docs/interop-fhir.md).")
        diagnosis = None
        for k, e in enumerate(res.get("extension", [])):
            if e.get("url") != c.MCODE_RELATED_PRIMARY_EXT:
                continue
            target = self.target(e.get("valueReference"))
            if target not in self.diagnosis_of:
                self.error(
                    i,
                    f"extension[{k}].valueReference",
                    "Must reference a primary cancer Condition in this Bundle.",
                )
                return
            diagnosis = self.diagnosis_of[target]
        if not (ext and onset):
            return
        for k in range(len(res.get("bodySite", []))):
            self.warnings[f"entry[{i}].resource.bodySite[{k}]"].append(
                "Not stored: the record keeps no site of a metastasis."
            )
        primary = self._diagnosis_item(record, diagnosis)
        own = primary["morphology"].rsplit("/", 1)[0] + "/6" if primary else None
        for k, e in enumerate(res.get("extension", [])):
            if (
                e.get("url") == c.MCODE_HISTOLOGY_EXT
                and _code(e.get("valueCodeableConcept"), c.ICDO3) != own
            ):
                self.warnings[f"entry[{i}].resource.extension[{k}]"].append(
                    "Not stored: in the record a metastasis has its primary's histology (/6)."
                )
        self._add(
            record,
            "disease_events",
            {
                "external_id": ext,
                "diagnosis_external_id": diagnosis,
                "event_type": "distant_recurrence",
                "event_date": onset,
            },
        )

    def _diagnosis_ref(self, res: Resource, where: str) -> str | None:
        refs = res.get(where) or []
        for ref in refs:
            target = self.target(ref)
            if target in self.diagnosis_of:
                return self.diagnosis_of[target]
        return None

    def _diagnosis_item(self, record: dict, ext: str | None) -> dict | None:
        return next((d for d in record["diagnoses"] if d["external_id"] == ext), None)

    def _observation(self, i: int, res: Resource) -> None:
        record = self.record_for(i, res)
        if record is None:
            return
        code = res.get("code")
        loinc = _code(code, c.LOINC)
        effective = _date(
            res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("start")
        )
        profiles = (res.get("meta") or {}).get("profile", [])
        if c.PROFILES["genomic_variant"] in profiles or any(
            (ident.get("system") or "").startswith(c.identifier_system("genomics"))
            for ident in res.get("identifier", [])
        ):
            return  # genomics observations are export only
        value_cc = res.get("valueCodeableConcept")
        if loinc in _TNM or loinc == c.GRADE_LOINC[0]:
            dx = self._diagnosis_item(record, self._diagnosis_ref(res, "focus"))
            if dx is None:
                self.error(i, "focus", "A staging or grade Observation must focus on a Condition.")
                return
            if loinc == c.GRADE_LOINC[0]:
                dx["grade"] = _code(value_cc, c.CS["grade"]) or (value_cc or {}).get("text", "")
            else:
                dx[_TNM[loinc]] = _code(value_cc, c.AJCC) or (value_cc or {}).get("text", "")
            return
        if loinc == c.SMOKING_LOINC[0]:
            record["smoking_status"] = _SMOKING.get(_code(value_cc, c.SNOMED) or "", "unknown")
            for comp in res.get("component", []):
                if _code(comp.get("code"), c.LOINC) == c.PACK_YEARS_LOINC[0]:
                    record["smoking_pack_years"] = _number(
                        (comp.get("valueQuantity") or {}).get("value")
                    )
            return
        if loinc == c.VITAL_STATUS_LOINC[0]:
            record["vital_status"] = _VITAL.get(_code(value_cc, c.SNOMED) or "", "unknown")
            if effective:
                record["last_contact_date"] = effective
            return
        ext = _any_identifier(res, "_")
        if loinc in (c.WEIGHT_LOINC[0], c.HEIGHT_LOINC[0]):
            field_name = "weight_kg" if loinc == c.WEIGHT_LOINC[0] else "height_cm"
            key = _identifier(res, c.identifier_system(f"measurements.{field_name}")) or ext
            if not key:
                self.error(i, "identifier", "An Observation needs an identifier.")
                return
            item, _ = record["_measurements"].setdefault(
                (key, effective),
                (
                    {
                        "external_id": key,
                        "measured_on": effective,
                        "weight_kg": None,
                        "height_cm": None,
                    },
                    i,
                ),
            )
            item[field_name] = _number((res.get("valueQuantity") or {}).get("value"))
            return
        sections = {
            c.ECOG_LOINC[0]: "performance_statuses",
            c.DISEASE_STATUS_LOINC[0]: "follow_ups",
        }
        biomarker = _code(code, c.CS["biomarker"]) or _BIOMARKER_BY_LOINC.get(loinc or "")
        if _code(code, c.CS["disease_event_code"]) == c.DISEASE_EVENT_CODE:
            section = "disease_events"
        elif loinc in sections:
            section = sections[loinc]
        elif biomarker and value_cc is not None:
            section = "biomarkers"
        elif loinc and "valueQuantity" in res:
            section = "labs"
        else:
            self.error(i, "code", "This Observation is not mapped (see docs/interop-fhir.md).")
            return
        ext = _any_identifier(res, section)
        if not ext:
            self.error(i, "identifier", "An Observation needs an identifier.")
            return
        if section == "performance_statuses":
            self._add(
                record,
                section,
                {"external_id": ext, "assessed_on": effective, "ecog": res.get("valueInteger")},
            )
        elif section == "follow_ups":
            ecog = None
            for comp in res.get("component", []):
                if _code(comp.get("code"), c.LOINC) == c.ECOG_LOINC[0]:
                    ecog = comp.get("valueInteger")
            status = _DISEASE_STATUS.get(_code(value_cc, c.SNOMED) or "", "unknown")
            self._add(
                record,
                section,
                {
                    "external_id": ext,
                    "visit_date": effective,
                    "disease_status": status,
                    "ecog": ecog,
                },
            )
        elif section == "disease_events":
            self._add(
                record,
                section,
                {
                    "external_id": ext,
                    "diagnosis_external_id": self._diagnosis_ref(res, "focus"),
                    "event_type": _code(value_cc, c.CS["disease_event"]),
                    "event_date": effective,
                },
            )
        elif section == "biomarkers":
            value = None
            for comp in res.get("component", []):
                if "valueQuantity" in comp:
                    value = _number((comp.get("valueQuantity") or {}).get("value"))
            self._add(
                record,
                section,
                {
                    "external_id": ext,
                    "diagnosis_external_id": self._diagnosis_ref(res, "focus"),
                    "name": biomarker,
                    "result": _RESULT.get(_code(value_cc, c.SNOMED) or "", "not_done"),
                    "value": value,
                    "test_date": effective,
                },
            )
        else:
            q = res.get("valueQuantity") or {}
            self._add(
                record,
                section,
                {
                    "external_id": ext,
                    "code": loinc,
                    "value": _number(q.get("value")),
                    "unit": _quantity_unit(q),
                    "collected_on": effective,
                },
            )

    def _procedure(self, i: int, res: Resource) -> None:
        record = self.record_for(i, res)
        if record is None:
            return
        intent_cc = _ext(res, c.MCODE_INTENT_EXT)
        intent = (
            _INTENT.get(_code(intent_cc, c.SNOMED) or "", "unknown") if intent_cc else "curative"
        )
        dx = self._diagnosis_ref(res, "reasonReference")
        best = _ext(res, c.EXT["best_response"]) or ""
        if _code(res.get("code"), c.SNOMED) == c.RADIOTHERAPY_CODE[1]:
            ext = _any_identifier(res, "radiotherapies")
            period = res.get("performedPeriod") or {}
            dose = _ext(res, c.EXT["total_dose"])
            sites = res.get("bodySite") or [{}]
            self._add(
                record,
                "radiotherapies",
                {
                    "external_id": ext,
                    "diagnosis_external_id": dx,
                    "target": sites[0].get("text", ""),
                    "total_dose_gy": _number(dose.get("value")) if isinstance(dose, dict) else None,
                    "fractions": _first_not_none(
                        _ext(res, c.EXT["fractions"]), _ext(res, c.MCODE_RT_SESSIONS_EXT)
                    ),
                    "technique": _ext(res, c.EXT["technique"]),
                    "start_date": _date(period.get("start") or res.get("performedDateTime")),
                    "end_date": _date(period.get("end")),
                    "intent": intent,
                    "best_response": best,
                },
            )
            return
        ext = _any_identifier(res, "surgeries")
        code = res.get("code") or {}
        name = code.get("text") or next(
            (cd.get("display") or cd.get("code") for cd in code.get("coding", [])), ""
        )
        self._add(
            record,
            "surgeries",
            {
                "external_id": ext,
                "diagnosis_external_id": dx,
                "procedure": name,
                "performed_on": _date(
                    res.get("performedDateTime") or (res.get("performedPeriod") or {}).get("start")
                ),
                "margin_status": _ext(res, c.EXT["margin"]) or "",
                "intent": intent,
            },
        )

    def _medications(self, items: list[tuple[int, Resource]]) -> None:
        groups: dict[tuple[int, str], list[tuple[int, int, Resource]]] = defaultdict(list)
        for i, res in items:
            target = self.target(res.get("subject"))
            if target is None or target not in self.records:
                self.error(i, "subject", "Must reference a Patient in this Bundle.")
                continue
            group = res.get("groupIdentifier") or {}
            key = group.get("value") or _any_identifier(res, "systemic_therapies")
            if not key:
                self.error(i, "identifier", "A MedicationRequest needs an identifier.")
                continue
            order = _ext(res, c.EXT["drug_index"])
            order = order if isinstance(order, int) else None
            groups[(target, key)].append((order if order is not None else len(groups), i, res))
        for (target, key), members in groups.items():
            members.sort(key=lambda m: (m[0], m[1]))
            first = members[0][2]
            self.current = members[0][1]
            intent_cc = _ext(first, c.MCODE_INTENT_EXT)
            start, end = _medication_period(first)
            drugs = []
            for order, _i, res in members:
                if order == -1:
                    continue
                q = _medication_dose(res)
                drugs.append(
                    {
                        "name": _medication_name(res),
                        "dose": _number(q["value"]) if "value" in q else None,
                        "unit": _quantity_unit(q) if q else "",
                    }
                )
            self._add(
                self.records[target],
                "systemic_therapies",
                {
                    "external_id": key,
                    "diagnosis_external_id": self._diagnosis_ref(first, "reasonReference"),
                    "regimen": _ext(first, c.EXT["regimen"]) or _medication_name(first),
                    # No default: a category the sender does not state is an error.
                    "category": _ext(first, c.EXT["category"]),
                    "drugs": drugs,
                    "cycles": _ext(first, c.EXT["cycles"]),
                    "start_date": start,
                    "end_date": end,
                    "intent": _INTENT.get(_code(intent_cc, c.SNOMED) or "", "unknown")
                    if intent_cc
                    else "curative",
                    "best_response": _ext(first, c.EXT["best_response"]) or "",
                },
            )

    def _adverse_event(self, i: int, res: Resource) -> None:
        record = self.record_for(i, res)
        if record is None:
            return
        ext = _any_identifier(res, "toxicities")
        self._add(
            record,
            "toxicities",
            {
                "external_id": ext,
                "term": _code(res.get("event"), c.CS["ctcae"])
                or (res.get("event") or {}).get("text", ""),
                "grade": _ext(res, c.EXT["ctcae_grade"]),
                "onset_date": _date(res.get("date")),
                "attributed_to": _ext(res, c.EXT["attributed_to"]) or "unknown",
            },
        )


def _first_not_none(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _is_secondary_cancer(res: Mapping[str, Any]) -> bool:
    """A Condition shaped as an mCODE secondary cancer condition: by its profile, its related
    primary, its code (SNOMED CT 128462008, ICD-10 C77-C79) or a metastatic (/6) histology."""
    if c.PROFILES["secondary_cancer"] in (res.get("meta") or {}).get("profile", []):
        return True
    if any(e.get("url") == c.MCODE_RELATED_PRIMARY_EXT for e in res.get("extension", [])):
        return True
    codes = _codes(res.get("code"))
    if (c.SNOMED, c.SECONDARY_CANCER_CODE[0]) in codes:
        return True
    if any(s == c.ICD10 and code.startswith(c.SECONDARY_ICD10_PREFIXES) for s, code in codes):
        return True
    histology = _code(_ext(res, c.MCODE_HISTOLOGY_EXT), c.ICDO3)
    return bool(histology and histology.endswith("/6"))


def _medication_name(res: Mapping[str, Any]) -> str:
    concept = res.get("medicationCodeableConcept") or {}
    if concept.get("text"):
        return str(concept["text"])
    coding = (concept.get("coding") or [{}])[0]
    return str(coding.get("display") or coding.get("code") or "")


def _medication_dose(res: Mapping[str, Any]) -> dict[str, Any]:
    """The dose of a MedicationRequest's first dosage instruction or a MedicationAdministration."""
    if res["resourceType"] == "MedicationAdministration":
        return dict((res.get("dosage") or {}).get("dose") or {})
    dose_and_rate = (res.get("dosageInstruction") or [{}])[0].get("doseAndRate") or [{}]
    return dict(dose_and_rate[0].get("doseQuantity") or {})


def _medication_period(res: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if res["resourceType"] == "MedicationAdministration":
        period = res.get("effectivePeriod") or {}
        start = period.get("start") or res.get("effectiveDateTime")
        return _date(start), _date(period.get("end") or res.get("effectiveDateTime"))
    dosage = (res.get("dosageInstruction") or [{}])[0]
    bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
    return _date(bounds.get("start") or res.get("authoredOn")), _date(bounds.get("end"))


def bundle_to_records(bundle: Mapping[str, Any]) -> MappedBundle:
    """Map a Bundle that parse_bundle accepted to record payloads, one per Patient."""
    return _Mapper(bundle).run()
