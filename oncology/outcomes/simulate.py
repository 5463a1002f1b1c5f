"""A reproducible simulated cohort with confounded treatment choice and known true survival.

Each patient has clinical, radiomic and genomic covariates, receives one of six options built
from surgery, radiotherapy and chemotherapy, chosen by a multinomial logit that depends on the
patient's stage, performance status, age and marker status (so a naive comparison of options is
confounded), and has a Weibull proportional-hazards event time whose log-hazard depends on the
covariates and on the option, with effect modification (surgery helps less at stage IV and with
poor performance status; chemotherapy helps more in marker-positive tumours). Censoring is
administrative (staggered accrual) plus independent drop-out.

Because the generating process is known, :func:`true_survival` gives every patient's true
survival curve under EVERY option (not only the one received), which is what the treatment
comparison is tested against. docs/outcomes-simulation.md documents the process and its
numbers; time is in months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncology.outcomes.features import FeatureSpec

OPTIONS: tuple[str, ...] = (
    "surgery",
    "radiotherapy",
    "chemotherapy",
    "surgery+radiotherapy",
    "surgery+chemotherapy",
    "radiotherapy+chemotherapy",
)
STAGES: tuple[str, ...] = ("I", "II", "III", "IV")
TIME_UNIT = "months"

# Weibull baseline: cumulative hazard H0(t) = SCALE * t ** SHAPE (t in months).
SHAPE = 1.2
SCALE = 0.005
ACCRUAL_MONTHS = 36.0
STUDY_MONTHS = 96.0
DROPOUT_RATE = 0.005  # per month
# The response outcome is drawn from its own stream, seeded by (seed, RESPONSE_STREAM): asking
# for it never changes a single survival draw of the same (n, seed).
RESPONSE_STREAM = 1
RESPONSE_DEFINITION = (
    "objective response (complete or partial response, RECIST 1.1 best overall response); simulated"
)


@dataclass(frozen=True)
class SimulatedCohort:
    frame: pd.DataFrame  # time, event, treatment, then the covariates
    seed: int
    time_unit: str = TIME_UNIT

    @property
    def covariates(self) -> pd.DataFrame:
        return self.frame.drop(columns=["time", "event", "treatment", "response"], errors="ignore")


def _covariates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    age = np.clip(rng.normal(63.0, 10.0, n), 30.0, 90.0)
    female = rng.random(n) < 0.5
    ecog_shift = (age - 63.0) / 25.0
    ecog = np.clip(np.round(rng.normal(0.9 + ecog_shift, 0.9, n)), 0, 3).astype(int)
    stage_idx = rng.choice(4, size=n, p=[0.2, 0.3, 0.3, 0.2])
    size = np.exp(rng.normal(np.log(15.0 + 10.0 * stage_idx), 0.35, n))
    comorbidity = np.clip(rng.poisson(np.clip(0.6 + 0.04 * (age - 63.0), 0.1, None)), 0, 6)
    marker = (rng.random(n) < 0.35).astype(int)
    texture = rng.normal(0.3 * stage_idx - 0.45, 1.0, n)
    return pd.DataFrame(
        {
            "age": np.round(age, 1),
            "sex": np.where(female, "female", "male"),
            "ecog": ecog,
            "stage": np.asarray(STAGES)[stage_idx],
            "tumour_size_mm": np.round(size, 1),
            "comorbidity_index": comorbidity.astype(int),
            "marker_positive": marker,
            "texture_heterogeneity": np.round(texture, 3),
        }
    )


def _stage_idx(cov: pd.DataFrame) -> np.ndarray:
    unknown = ~cov["stage"].isin(STAGES)
    if unknown.any():
        raise ValueError(f"stage must be one of {STAGES}")
    return cov["stage"].map({s: i for i, s in enumerate(STAGES)}).to_numpy(dtype=float)


def prognostic_log_hazard(cov: pd.DataFrame) -> np.ndarray:
    """Log-hazard of the covariates, shared by every option."""
    stage = _stage_idx(cov)
    return np.asarray(
        0.03 * (cov["age"] - 63.0)
        + 0.30 * cov["ecog"]
        + 0.55 * stage
        + 0.008 * (cov["tumour_size_mm"] - 30.0)
        + 0.15 * cov["comorbidity_index"]
        + 0.20 * cov["texture_heterogeneity"]
        - 0.10 * (cov["sex"] == "female")
        + 0.20 * cov["marker_positive"],
        dtype=float,
    )


def treatment_log_hazard(cov: pd.DataFrame, option: str) -> np.ndarray:
    """Log-hazard ratio of ``option`` for each patient (relative to no treatment)."""
    if option not in OPTIONS:
        raise ValueError(f"unknown option {option!r}; options: {', '.join(OPTIONS)}")
    parts = set(option.split("+"))
    stage = _stage_idx(cov)
    ecog = cov["ecog"].to_numpy(dtype=float)
    marker = cov["marker_positive"].to_numpy(dtype=float)
    age = cov["age"].to_numpy(dtype=float)
    effect = np.zeros(len(cov))
    if "surgery" in parts:
        # Strong benefit in early stage, none at stage IV, perioperative risk with poor ECOG.
        effect += np.select([stage <= 1, stage == 2], [-0.9, -0.55], default=0.05)
        effect += 0.15 * ecog
    if "radiotherapy" in parts:
        effect += -0.35 - 0.10 * ((stage == 1) | (stage == 2))
    if "chemotherapy" in parts:
        effect += -0.20 - 0.50 * marker + 0.015 * np.clip(age - 70.0, 0.0, None)
    if parts == {"surgery", "chemotherapy"}:
        effect += -0.10
    if parts == {"radiotherapy", "chemotherapy"}:
        effect += -0.15
    return effect


def _assignment_logits(cov: pd.DataFrame) -> np.ndarray:
    stage = _stage_idx(cov)
    ecog = cov["ecog"].to_numpy(dtype=float)
    age = (cov["age"].to_numpy(dtype=float) - 63.0) / 10.0
    marker = cov["marker_positive"].to_numpy(dtype=float)
    comorb = cov["comorbidity_index"].to_numpy(dtype=float)
    logits = np.column_stack(
        [
            1.6 - 0.8 * stage - 0.6 * ecog - 0.3 * age - 0.2 * comorb,  # surgery
            -0.2 + 0.35 * ecog + 0.4 * age + 0.1 * comorb,  # radiotherapy
            -1.6 + 0.9 * (stage == 3) + 0.5 * marker,  # chemotherapy
            0.6 - 0.25 * stage - 0.5 * ecog - 0.2 * age,  # surgery+radiotherapy
            0.2 + 0.1 * stage + 0.6 * marker - 0.5 * ecog - 0.3 * age - 0.2 * comorb,  # s+c
            -0.6 + 0.45 * stage - 0.2 * ecog,  # radiotherapy+chemotherapy
        ]
    )
    return np.clip(logits, -3.0, 3.0)


def assignment_probabilities(cov: pd.DataFrame) -> pd.DataFrame:
    """True probability of receiving each option (the propensity), one column per option."""
    logits = _assignment_logits(cov)
    expl = np.exp(logits - logits.max(axis=1, keepdims=True))
    return pd.DataFrame(expl / expl.sum(axis=1, keepdims=True), columns=list(OPTIONS))


def true_survival(cov: pd.DataFrame, option: str, times: np.ndarray) -> np.ndarray:
    """True S(t | covariates, option), shape (patients, times)."""
    lp = prognostic_log_hazard(cov) + treatment_log_hazard(cov, option)
    t = np.asarray(times, dtype=float)
    return np.asarray(np.exp(-SCALE * np.power(t[None, :], SHAPE) * np.exp(lp)[:, None]))


def true_rmst(cov: pd.DataFrame, option: str, horizon: float, steps: int = 2000) -> np.ndarray:
    """True restricted mean survival time up to ``horizon`` for each patient (months)."""
    grid = np.linspace(0.0, float(horizon), steps + 1)
    return np.asarray(np.trapezoid(true_survival(cov, option, grid), grid, axis=1))


def response_log_odds(cov: pd.DataFrame, option: str) -> np.ndarray:
    """True log-odds of an objective response under ``option`` for each patient."""
    if option not in OPTIONS:
        raise ValueError(f"unknown option {option!r}; options: {', '.join(OPTIONS)}")
    parts = set(option.split("+"))
    stage = _stage_idx(cov)
    ecog = cov["ecog"].to_numpy(dtype=float)
    marker = cov["marker_positive"].to_numpy(dtype=float)
    age = cov["age"].to_numpy(dtype=float)
    logit = -0.6 - 0.40 * stage - 0.30 * ecog - 0.02 * (age - 63.0)
    if "surgery" in parts:
        logit = logit + 1.0 - 0.8 * (stage == 3)
    if "radiotherapy" in parts:
        logit = logit + 0.6
    if "chemotherapy" in parts:
        logit = logit + 0.3 + 1.0 * marker
    return np.asarray(logit, dtype=float)


def true_response_probability(cov: pd.DataFrame, option: str) -> np.ndarray:
    """True P(objective response | covariates, option) for each patient."""
    return np.asarray(1.0 / (1.0 + np.exp(-response_log_odds(cov, option))))


def simulate_response(cohort: SimulatedCohort) -> np.ndarray:
    """Each patient's 0/1 response under the option received, drawn from the separate stream
    ``(seed, RESPONSE_STREAM)``."""
    cov = cohort.covariates
    received = cohort.frame["treatment"].to_numpy()
    p = np.empty(len(cov))
    for option in OPTIONS:
        mask = received == option
        if mask.any():
            p[mask] = true_response_probability(cov[mask], option)
    rng = np.random.default_rng([cohort.seed, RESPONSE_STREAM])
    return (rng.random(len(cov)) < p).astype(int)


def simulate_cohort(n: int = 2000, seed: int = 0, response: bool = False) -> SimulatedCohort:
    """Draw ``n`` patients; the same (n, seed) always gives the same cohort. ``response=True``
    appends a 0/1 ``response`` column (:func:`simulate_response`); every other column is the
    same with or without it."""
    if n < 1:
        raise ValueError("n must be positive")
    rng = np.random.default_rng(seed)
    cov = _covariates(n, rng)
    probs = assignment_probabilities(cov).to_numpy()
    cumulative = probs.cumsum(axis=1)
    draws = rng.random(n)[:, None]
    chosen = np.minimum((draws > cumulative).sum(axis=1), len(OPTIONS) - 1)
    treatment = np.asarray(OPTIONS)[chosen]
    lp = prognostic_log_hazard(cov)
    for i, option in enumerate(OPTIONS):
        mask = chosen == i
        lp[mask] += treatment_log_hazard(cov[mask], option)
    # Inverse transform: S(T) = U  <=>  T = (-log U / (SCALE * exp(lp))) ** (1 / SHAPE)
    u = rng.random(n)
    event_time = np.power(-np.log(u) / (SCALE * np.exp(lp)), 1.0 / SHAPE)
    admin = STUDY_MONTHS - rng.uniform(0.0, ACCRUAL_MONTHS, n)
    dropout = rng.exponential(1.0 / DROPOUT_RATE, n)
    censor = np.minimum(admin, dropout)
    time = np.minimum(event_time, censor)
    frame = pd.DataFrame(
        {
            "time": np.round(time, 3),
            "event": (event_time <= censor).astype(int),
            "treatment": treatment,
        }
    )
    frame["time"] = frame["time"].clip(lower=0.001)
    cohort = SimulatedCohort(frame=pd.concat([frame, cov], axis=1), seed=seed)
    if response:
        with_response = cohort.frame.copy()
        with_response["response"] = simulate_response(cohort)
        cohort = SimulatedCohort(frame=with_response, seed=seed)
    return cohort


def feature_specs() -> list[FeatureSpec]:
    """The simulated cohort's covariates as declared features (sources as in the docs)."""
    return [
        FeatureSpec("age", "clinical", "numeric", "reject", "years"),
        FeatureSpec("sex", "clinical", "categorical", "reject"),
        FeatureSpec("ecog", "clinical", "numeric", "reject", "ECOG performance status 0-3"),
        FeatureSpec("stage", "clinical", "categorical", "reject", "I-IV"),
        FeatureSpec("tumour_size_mm", "radiomics", "numeric", "median", "longest diameter"),
        FeatureSpec("comorbidity_index", "clinical", "numeric", "median", "Charlson-like"),
        FeatureSpec("marker_positive", "genomics", "binary", "mode", "predictive biomarker"),
        FeatureSpec("texture_heterogeneity", "radiomics", "numeric", "median", "z-score"),
    ]
