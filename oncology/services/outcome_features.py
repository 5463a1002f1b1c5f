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
| ``tumour_size_mm``, ``marker_positive``, ``texture_heterogeneity`` | not in the record yet
  (radiomics / genomics features are not wired): missing |

The names match the simulated cohort (``oncology.outcomes.simulate.feature_specs``), so a model
trained with ``--source simulated`` can predict for the demo patients. Public-cohort models
declare other names (nodes, receptors, grade...) that are missing here.
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


EXTRACTORS: dict[str, Callable[[Patient], Any]] = {
    "age": _age,
    "sex": _sex,
    "ecog": _ecog,
    "stage": _stage,
    "comorbidity_index": _comorbidity_index,
}


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
        extractor = EXTRACTORS.get(name)
        value = extractor(patient) if extractor else None
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
