"""The person around the tumour: smoking, comorbidities, performance status, body size and
laboratory values, all drawn with age, sex, site and stage in mind.

Sources for the round figures: smoking in lung cancer (about 85 % ever smokers; Cancer
Research UK), comorbidity prevalence in older cancer patients (Charlson-index studies of
colorectal and lung cancer cohorts, e.g. Sarfati et al., CA Cancer J Clin 2016;66:337-350),
ECOG at diagnosis by stage (national lung and bowel cancer audits), UK adult height and BMI
(Health Survey for England 2019), and the adult reference intervals of the Pathology
Harmony programme for laboratory values.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from oncology.demo.tumours import pick

# ---------------------------------------------------------------------------------------------
# Smoking
# ---------------------------------------------------------------------------------------------


def draw_smoking(rng: np.random.Generator, site: str, histology: str) -> tuple[str, float | None]:
    """Smoking status and pack-years (None for never smokers)."""
    if site == "lung":
        # Adenocarcinoma holds most never smokers; squamous and small-cell almost none.
        never = {"adenocarcinoma": 0.20, "squamous": 0.04, "sclc": 0.02}[histology]
        status = pick(rng, {"never": never, "former": 0.5, "current": 0.5 - never})
        median_pack_years = 40.0
    elif site == "liver":
        status = pick(rng, {"never": 0.40, "former": 0.40, "current": 0.20})
        median_pack_years = 25.0
    else:
        status = pick(rng, {"never": 0.50, "former": 0.35, "current": 0.15})
        median_pack_years = 20.0
    if status == "never":
        return status, None
    pack_years = float(np.clip(rng.lognormal(np.log(median_pack_years), 0.5), 2, 150))
    return status, round(pack_years, 1)


# ---------------------------------------------------------------------------------------------
# Performance status
# ---------------------------------------------------------------------------------------------

_ECOG_BY_BUCKET: dict[str, Mapping[int, float]] = {
    "I": {0: 0.55, 1: 0.35, 2: 0.08, 3: 0.02},
    "II": {0: 0.50, 1: 0.38, 2: 0.09, 3: 0.03},
    "III": {0: 0.35, 1: 0.45, 2: 0.14, 3: 0.06},
    "IV": {0: 0.20, 1: 0.45, 2: 0.22, 3: 0.11, 4: 0.02},
}


def draw_ecog(rng: np.random.Generator, bucket: str, age: float) -> int:
    ecog = pick(rng, _ECOG_BY_BUCKET[bucket])
    # Over-80s are less often fully active.
    if age >= 80 and ecog < 3 and rng.random() < 0.3:
        ecog += 1
    return ecog


# ---------------------------------------------------------------------------------------------
# Body size
# ---------------------------------------------------------------------------------------------


def draw_body(
    rng: np.random.Generator, *, female: bool, bucket: str, site: str
) -> tuple[float, float]:
    """Height (cm) and weight (kg) at diagnosis."""
    height = rng.normal(162.5, 6.5) if female else rng.normal(176.0, 7.0)
    height = float(np.clip(height, 145, 200))
    bmi_mean = 27.5
    if bucket == "IV" or site == "lung":
        bmi_mean -= 2.0  # cachexia and weight loss before diagnosis
    if site == "colorectal":
        bmi_mean += 0.8
    bmi = float(np.clip(rng.normal(bmi_mean, 4.5), 16.5, 45))
    weight = bmi * (height / 100) ** 2
    return round(height, 1), round(weight, 1)
