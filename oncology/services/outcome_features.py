"""Feature assembly: one patient's clinical record mapped onto a model's declared features.

Each feature name a model may declare has one extractor here (``EXTRACTORS``); a declared
feature with no extractor, or whose source the record lacks, is *missing*. What happens to a
missing value is the feature's declared policy (``oncology.outcomes.features``): ``reject``
refuses the prediction (``MissingRequiredInputs``); any other policy lets the fitted encoder
impute it, and the assembly says so in a warning. The mapping (docs/outcomes-registry.md):

| feature | from the record |
| --- | --- |
| ``age`` | completed years at the primary diagnosis (today when there is none) |
| ``sex`` | the patient's sex (``female`` / ``male``; other values are missing) |
| ``ecog`` | the latest ECOG performance status |
| ``stage`` | the primary diagnosis's pathological, else clinical, stage group reduced to its
  Roman numeral (``IIIA`` -> ``III``; stage 0 is missing) |
| ``comorbidity_index`` | Charlson index of the recorded comorbidities, without age points |
| ``tumour_size_mm`` | radiomics: ``morph_maximum_3d_diameter`` (IBSI L0JK, mm) of the latest
  completed radiomics run |
| ``radiomics:<key>`` | radiomics: the feature ``<key>`` (``imaging.radiomics.selection``
  keys, e.g. ``radiomics:morph_volume``) of the latest completed radiomics run |
| ``tmb``, ``msi_high`` | genomics: the latest genomic report's TMB (mutations/Mb) and MSI
  (1 for MSI-H, 0 for MSS) |
| ``genomics:<key>`` | genomics: the key of the latest genomic report's gene-level feature
  vector (``genomics.variants.summary.feature_keys``: ``EGFR_mut``, ``TMB``, ``MSI_H``...) |
| ``marker_positive``, ``texture_heterogeneity`` | simulated-cohort abstractions with no
  record counterpart: missing |

"Latest": the radiomics run with the latest completion time (one with no feature values does
not count), the genomic report with the latest collection date. A value the run or report does
not hold is missing, and the feature's declared policy applies. A feature is read only from the
source its specification declares (``source``: clinical, radiomics or genomics); a declared
source that does not match where the record holds the name makes the feature missing, with a
warning.

The plain names match the simulated cohort (``oncology.outcomes.simulate.feature_specs``), so a
model trained with ``--source simulated`` can predict for the demo patients. Of the public
cohorts' names, those the record truly holds are mapped:

| feature | from the record |
| --- | --- |
| ``grade`` | the primary diagnosis's grade G1/G2/G3 as I/II/III (G4, GX: missing) |
| ``er_positive`` | the latest ER biomarker: positive 1, negative 0 |
| ``positive_nodes`` | 0 when the pathological N category is N0; missing for N1+ (no count) |
| ``tumour_size`` | a breast primary's pT as Rotterdam's band: T1 ``<=20``, T2 ``20-50``,
  T3 ``>50`` (T4, Tis, TX, other sites: missing) |
| ``clinical_stage`` | the clinical stage group's Roman numeral |
| ``haemoglobin_g_l`` | the latest haemoglobin (LOINC 718-7) in g/L |

Every other public-cohort feature stays missing (docs/outcomes-registry.md lists them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from oncology.clinical.charlson import CONDITIONS, charlson_index
from oncology.models import Diagnosis, Patient


class MissingRequiredInputs(ValueError):
    """A feature whose policy is ``reject`` has no value in the record."""

    def __init__(self, names: list[str]):
        self.names = names
        super().__init__("The record lacks inputs this model requires: " + ", ".join(names) + ".")


@dataclass
class AssembledFeatures:
    values: dict[str, Any]  # feature name -> value, None when missing
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _primary_diagnosis(patient: Patient) -> Diagnosis | None:
    return patient.diagnoses.order_by("diagnosis_date", "pk").first()


def _age(patient: Patient) -> float | None:
    dx = _primary_diagnosis(patient)
    on = dx.diagnosis_date if dx else timezone.localdate()
    years = on.year - patient.birth_date.year
    years -= (on.month, on.day) < (patient.birth_date.month, patient.birth_date.day)
    return float(years)


def _sex(patient: Patient) -> str | None:
    value = str(patient.sex).lower()
    return value if value in ("female", "male") else None


def _ecog(patient: Patient) -> float | None:
    latest = patient.performance_statuses.order_by("-assessed_on", "-pk").first()
    return float(latest.ecog) if latest else None


_ROMAN = re.compile(r"^(IV|III|II|I)(?![IV])")


def _stage(patient: Patient) -> str | None:
    dx = _primary_diagnosis(patient)
    if dx is None:
        return None
    group = (dx.pathological_stage or dx.clinical_stage or "").strip().upper()
    found = _ROMAN.match(group)
    return found.group(1) if found else None


def _comorbidity_index(patient: Patient) -> float | None:
    keys = [c.condition for c in patient.comorbidities.all() if c.condition in CONDITIONS]
    return float(charlson_index(keys))


def _latest_radiomics(patient: Patient) -> dict[str, float | None]:
    from imaging.models import RadiomicsRun

    runs = RadiomicsRun.objects.filter(patient=patient, completed_at__isnull=False)
    for run in runs.order_by("-completed_at", "-pk").only("features")[:5]:
        if run.features:
            return {row["feature"]: row.get("value") for row in run.features}
    return {}


def _latest_genomics(patient: Patient) -> Any:
    from genomics.models import GenomicReport

    return (
        GenomicReport.objects.filter(patient=patient)
        .order_by("-collection_date", "-pk")
        .only("tmb", "msi_status", "features")
        .first()
    )


def radiomics_value(patient: Patient, key: str) -> float | None:
    value = _latest_radiomics(patient).get(key)
    return None if value is None else float(value)


def genomics_value(patient: Patient, key: str) -> float | None:
    report = _latest_genomics(patient)
    value = (report.features or {}).get(key) if report is not None else None
    return None if value is None else float(value)


def _tumour_size_mm(patient: Patient) -> float | None:
    return radiomics_value(patient, "morph_maximum_3d_diameter")


def _tmb(patient: Patient) -> float | None:
    report = _latest_genomics(patient)
    return None if report is None or report.tmb is None else float(report.tmb)


def _msi_high(patient: Patient) -> float | None:
    report = _latest_genomics(patient)
    if report is None or report.msi_status not in ("MSI-H", "MSS"):
        return None
    return 1.0 if report.msi_status == "MSI-H" else 0.0


# -- public-cohort names (docs/outcomes-registry.md, "Public-cohort features") -------------------
_GRADES = {"G1": "I", "G2": "II", "G3": "III"}


def _grade(patient: Patient) -> str | None:
    dx = _primary_diagnosis(patient)
    return _GRADES.get(dx.grade) if dx else None


def _latest_biomarker(patient: Patient, name: str) -> Any:
    return patient.biomarkers.filter(name=name).order_by("-test_date", "-pk").first()


def _er_positive(patient: Patient) -> float | None:
    marker = _latest_biomarker(patient, "ER")
    if marker is None or marker.result not in ("positive", "negative"):
        return None
    return 1.0 if marker.result == "positive" else 0.0


def _category(value: str, prefixes: tuple[str, ...]) -> str:
    """``pN1a`` / ``N1a`` / ``ypN0`` -> ``N1A`` / ``N0`` (the category without its prefix)."""
    text = value.strip().upper()
    for prefix in ("YP", "P", "C", "YC"):
        if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] in prefixes:
            return text[len(prefix) :]
    return text


def _positive_nodes(patient: Patient) -> float | None:
    """0 when the pathological N category is N0 (no regional node involved); the count is not
    recorded for N1 and above, so it is missing there."""
    dx = _primary_diagnosis(patient)
    if dx is None or not dx.pathological_n:
        return None
    return 0.0 if _category(dx.pathological_n, ("N",)).startswith("N0") else None


def _tumour_size_band(patient: Patient) -> str | None:
    """The Rotterdam cohort's size band from a BREAST primary's pathological T category
    (AJCC: T1 <= 20 mm, T2 > 20-50 mm, T3 > 50 mm; T4 is defined by extension, not size)."""
    dx = _primary_diagnosis(patient)
    if dx is None or not dx.primary_site.upper().startswith("C50") or not dx.pathological_t:
        return None
    category = _category(dx.pathological_t, ("T",))
    for prefix, band in (("T1", "<=20"), ("T2", "20-50"), ("T3", ">50")):
        if category.startswith(prefix):
            return band
    return None


def _clinical_stage(patient: Patient) -> str | None:
    dx = _primary_diagnosis(patient)
    if dx is None:
        return None
    found = _ROMAN.match((dx.clinical_stage or "").strip().upper())
    return found.group(1) if found else None


def _haemoglobin_g_l(patient: Patient) -> float | None:
    from oncology.clinical.labs import to_canonical

    lab = patient.labs.filter(code="718-7").order_by("-collected_on", "-pk").first()
    if lab is None:
        return None
    try:
        return round(10.0 * to_canonical("718-7", lab.value, lab.unit), 3)  # g/dL -> g/L
    except ValueError:
        return None


EXTRACTORS: dict[str, Callable[[Patient], Any]] = {
    "age": _age,
    "sex": _sex,
    "ecog": _ecog,
    "stage": _stage,
    "comorbidity_index": _comorbidity_index,
    "tumour_size_mm": _tumour_size_mm,
    "tmb": _tmb,
    "msi_high": _msi_high,
    "grade": _grade,
    "er_positive": _er_positive,
    "positive_nodes": _positive_nodes,
    "tumour_size": _tumour_size_band,
    "clinical_stage": _clinical_stage,
    "haemoglobin_g_l": _haemoglobin_g_l,
}
# where each named extractor reads (the ``source`` a feature specification must declare)
EXTRACTOR_SOURCES: dict[str, str] = {
    "tumour_size_mm": "radiomics",
    "tmb": "genomics",
    "msi_high": "genomics",
}
PREFIXES: dict[str, Callable[[Patient, str], Any]] = {
    "radiomics": radiomics_value,
    "genomics": genomics_value,
}


def feature_source(name: str) -> str | None:
    """Where the record holds the feature ``name`` ("clinical", "radiomics", "genomics"), or
    None when the record does not hold it at all."""
    prefix, sep, _ = name.partition(":")
    if sep and prefix in PREFIXES:
        return prefix
    if name not in EXTRACTORS:
        return None
    return EXTRACTOR_SOURCES.get(name, "clinical")


def _extract(patient: Patient, name: str) -> Any:
    prefix, sep, key = name.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix](patient, key)
    extractor = EXTRACTORS.get(name)
    return extractor(patient) if extractor else None


def outcome_features_assemble(
    *, patient: Patient, feature_spec: list[dict[str, Any]]
) -> AssembledFeatures:
    """The patient's value for every declared feature; raises MissingRequiredInputs when a
    ``reject`` feature is missing. The caller has checked access to ``patient``."""
    values: dict[str, Any] = {}
    missing: list[str] = []
    refused: list[str] = []
    warnings: list[str] = []
    for spec in feature_spec:
        name = spec["name"]
        declared = spec.get("source", "clinical")
        held = feature_source(name)
        if held is not None and held != declared:
            value = None
            warnings.append(
                f"{name} is declared a {declared} feature but the record holds it under "
                f"{held}: treated as missing."
            )
        else:
            value = _extract(patient, name)
        values[name] = value
        if value is None:
            missing.append(name)
            if spec["missing"] == "reject":
                refused.append(name)
            else:
                warnings.append(
                    f"{name} is not in the record; imputed by the model's "
                    f"'{spec['missing']}' policy."
                )
    if refused:
        raise MissingRequiredInputs(refused)
    return AssembledFeatures(values=values, missing=missing, warnings=warnings)
