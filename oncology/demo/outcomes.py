"""When a synthetic patient progresses and dies: a cure-fraction model with stage-dependent
hazards, an ECOG hazard ratio, and age-dependent death from other causes.

For each site and stage group (I-IV) the table gives
- `cure`: the fraction who never progress after stage-appropriate treatment,
- `ttp`: median months from diagnosis to progression/recurrence in those who do (Weibull),
- `pps`: median months of survival after progression (exponential).
Cancer death happens only after a progression; death from other causes follows a Gompertz
hazard (mortality doubling every 8 years of age, about 1.2 % a year at 65: the shape of the
England & Wales life tables). ECOG multiplies the cancer hazards by the hazard ratios below.

The numbers are round figures in the range of published series (SEER and NCRAS stage-specific
survival; for metastatic disease the pivotal trials of the treatments the demo gives: FLAURA,
KEYNOTE-189/407, IMpower133, CLEOPATRA, PALOMA-2, FIRE-3, IMbrave150). They make the demo's
survival curves look plausible; they are not a model of anyone's prognosis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class StageOutcome:
    cure: float
    ttp: float  # median months to progression in the non-cured
    pps: float  # median months of survival after progression


# site -> stage group (I..IV) -> outcome. Lung "sclc" uses I-III for limited stage.
OUTCOMES: dict[str, dict[str, StageOutcome]] = {
    "nsclc": {
        "I": StageOutcome(0.75, 24, 18),
        "II": StageOutcome(0.50, 18, 15),
        "III": StageOutcome(0.25, 11, 14),
        "IV": StageOutcome(0.0, 7, 10),
    },
    "sclc": {
        "I": StageOutcome(0.25, 14, 8),
        "II": StageOutcome(0.20, 13, 8),
        "III": StageOutcome(0.12, 11, 7),
        "IV": StageOutcome(0.0, 5, 6),
    },
    "breast": {
        "I": StageOutcome(0.94, 60, 36),
        "II": StageOutcome(0.84, 48, 30),
        "III": StageOutcome(0.62, 30, 24),
        "IV": StageOutcome(0.0, 14, 24),
    },
    "colorectal": {
        "I": StageOutcome(0.93, 30, 24),
        "II": StageOutcome(0.80, 24, 24),
        "III": StageOutcome(0.65, 18, 20),
        "IV": StageOutcome(0.05, 10, 16),
    },
    "liver": {
        "I": StageOutcome(0.45, 20, 18),
        "II": StageOutcome(0.30, 14, 12),
        "III": StageOutcome(0.05, 7, 8),
        "IV": StageOutcome(0.0, 4, 5),
    },
}

# Hazard ratio of cancer progression and death by ECOG performance status (round values of
# the order reported across advanced-cancer trials and registries).
ECOG_HAZARD_RATIO = {0: 1.0, 1: 1.4, 2: 2.2, 3: 3.5, 4: 5.0}

# Other-cause mortality, Gompertz: h(age) = A * exp(B * age) per year.
_GOMPERTZ_B = math.log(2) / 8
_GOMPERTZ_A = 0.012 / math.exp(_GOMPERTZ_B * 65)
# Weibull shape of time to progression: > 1, recurrences cluster in the first years.
_TTP_SHAPE = 1.3


@dataclass(frozen=True)
class Course:
    """Days from diagnosis to progression and to death; None where it does not happen (before
    any cut-off, which the caller applies)."""

    progression_day: int | None
    death_day: int
    cancer_death: bool


def stage_bucket(stage_group: str) -> str:
    """I, II, III or IV from a TNM stage group such as "IIIB" or "IVA"."""
    for bucket in ("IV", "III", "II", "I"):
        if stage_group.startswith(bucket):
            return bucket
    raise ValueError(f"not a stage group: {stage_group!r}")


def _weibull_with_median(rng: np.random.Generator, median: float, shape: float) -> float:
    scale = median / math.log(2) ** (1 / shape)
    return float(scale * rng.weibull(shape))


def _other_cause_years(rng: np.random.Generator, age: float) -> float:
    # Inverse of the conditional Gompertz cumulative hazard from `age`.
    e = rng.exponential()
    return math.log1p(_GOMPERTZ_B * e / (_GOMPERTZ_A * math.exp(_GOMPERTZ_B * age))) / _GOMPERTZ_B


def disease_course(
    rng: np.random.Generator, *, site: str, stage_group: str, ecog: int, age: float
) -> Course:
    """Draw one patient's course from diagnosis (day 0)."""
    outcome = OUTCOMES[site][stage_bucket(stage_group)]
    hr = ECOG_HAZARD_RATIO[ecog]
    # Poor performance status lowers the chance of cure as well as speeding progression: in a
    # promotion-time cure model a hazard ratio HR turns the cured fraction p into p ** HR.
    cured = rng.random() < outcome.cure**hr
    other_day = int(_other_cause_years(rng, age) * 365.25) + 1
    if cured:
        return Course(None, other_day, cancer_death=False)
    # A hazard ratio hr scales a Weibull's time by hr ** (-1/shape).
    ttp_months = _weibull_with_median(rng, outcome.ttp, _TTP_SHAPE) * hr ** (-1 / _TTP_SHAPE)
    progression_day = max(30, int(ttp_months * DAYS_PER_MONTH))
    pps_months = rng.exponential(outcome.pps / math.log(2)) / hr
    cancer_day = progression_day + max(7, int(pps_months * DAYS_PER_MONTH))
    if other_day <= progression_day:
        return Course(None, other_day, cancer_death=False)
    if other_day < cancer_day:
        return Course(progression_day, other_day, cancer_death=False)
    return Course(progression_day, cancer_day, cancer_death=True)
