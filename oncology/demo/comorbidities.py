"""Charlson comorbidities of a synthetic patient, more frequent with age.

Base prevalences are for a 65-year-old with cancer and rise (or fall) by the per-decade factor:
round figures from Charlson-index studies of cancer cohorts (Sarfati et al., CA Cancer J Clin
2016;66:337-350; Edwards et al., Cancer 2014;120:1290-1314) and UK general-population
prevalence. Lung cancer patients carry more COPD and vascular disease (smoking); nearly all
hepatocellular carcinoma arises in cirrhosis (EASL guidelines 2018), so liver disease is
recorded for most HCC patients. The index cancer itself is never a comorbidity.
"""

from __future__ import annotations

import numpy as np

from oncology.clinical.charlson import CONDITIONS

# key -> (prevalence at 65, multiplier per decade of age)
_BASE: dict[str, tuple[float, float]] = {
    "myocardial_infarction": (0.07, 1.4),
    "chf": (0.05, 1.8),
    "peripheral_vascular_disease": (0.05, 1.5),
    "cerebrovascular_disease": (0.05, 1.7),
    "dementia": (0.015, 3.0),
    "chronic_pulmonary_disease": (0.12, 1.2),
    "connective_tissue_disease": (0.03, 1.1),
    "peptic_ulcer_disease": (0.03, 1.2),
    "diabetes_uncomplicated": (0.13, 1.2),
    "diabetes_end_organ": (0.04, 1.3),
    "moderate_severe_renal": (0.05, 1.8),
    "hemiplegia": (0.01, 1.5),
}
# Diseases smoking makes more likely (relative risk among ever smokers).
_SMOKING_RR = {
    "chronic_pulmonary_disease": 2.5,
    "myocardial_infarction": 1.6,
    "peripheral_vascular_disease": 2.0,
    "cerebrovascular_disease": 1.4,
}


def draw_comorbidities(
    rng: np.random.Generator, *, site: str, age: float, smoking: str
) -> list[tuple[str, float]]:
    """Charlson condition keys with years since each was diagnosed (before the cancer)."""
    out: list[tuple[str, float]] = []
    decades = (age - 65) / 10
    for key, (base, per_decade) in _BASE.items():
        p = base * per_decade**decades
        if smoking in {"former", "current"}:
            p *= _SMOKING_RR.get(key, 1.0)
        if site == "lung" and key == "chronic_pulmonary_disease":
            p *= 1.3
        if site == "liver" and key.startswith("diabetes"):
            p *= 1.8  # diabetes and fatty liver disease are HCC risk factors
        if rng.random() < min(p, 0.8):
            out.append((key, _years_before(rng, age)))
    if site == "liver":
        r = rng.random()
        if r < 0.45:
            out.append(("moderate_severe_liver", _years_before(rng, age)))
        elif r < 0.85:
            out.append(("mild_liver", _years_before(rng, age)))
    # One form of a disease only, at its worst (Charlson 1987).
    keys = {k for k, _ in out}
    if "diabetes_end_organ" in keys:
        out = [(k, y) for k, y in out if k != "diabetes_uncomplicated"]
    unknown = {k for k, _ in out} - CONDITIONS.keys()
    if unknown:  # the code list is the clinical library's; fail here, not in validation
        raise KeyError(f"not Charlson conditions: {sorted(unknown)}")
    return out


def _years_before(rng: np.random.Generator, age: float) -> float:
    # Long-standing conditions, but not before adulthood (the caller clamps to age 18).
    return float(min(rng.exponential(7.0) + 0.5, max(age - 18, 0.5)))
