"""The measured numbers the help page /help/outcome-models/ quotes, in one place.

Copied from docs/validation.md (written by ``scripts/outcomes_validation.py``) and, for the
applicability domain, docs/outcomes-models.md. When the report is regenerated, refresh these:
tests/oncology/test_help_pages.py parses both documents and fails while they differ.
"""

from __future__ import annotations

from typing import NamedTuple

VALIDATION_SOURCE = "docs/validation.md"


class CohortResult(NamedTuple):
    """One row of docs/validation.md's main table (means over 5 repeated 80/20 splits)."""

    cohort: str
    model: str
    patients: int
    events: int
    harrell_c: float
    uno_c: float
    integrated_brier: float
    integrated_brier_km: float  # the same score for the Kaplan-Meier curve: no covariates
    calibration_error: float  # at 5 years (veterans: at the median follow-up, 80 days)
    baseline_c: float | None  # the untuned baseline, Harrell C


# docs/validation.md, generated 2026-11-24 14:12 UTC (coverage pooled over seeds 0-3).
VALIDATION: tuple[CohortResult, ...] = (
    CohortResult("gbsg2", "cox", 686, 299, 0.704, 0.681, 0.181, 0.218, 0.028, 0.679),
    CohortResult("gbsg2", "cox_splines", 686, 299, 0.705, 0.682, 0.180, 0.218, 0.043, 0.679),
    CohortResult("gbsg2", "cox_tuned", 686, 299, 0.695, 0.669, 0.184, 0.218, 0.031, 0.679),
    CohortResult("gbsg2", "xgb", 686, 299, 0.684, 0.665, 0.185, 0.218, 0.036, 0.679),
    CohortResult("gbsg2", "neural", 686, 299, 0.687, 0.666, 0.185, 0.218, 0.042, 0.679),
    CohortResult("rotterdam", "cox", 2982, 1272, 0.704, 0.689, 0.174, 0.203, 0.047, 0.715),
    CohortResult("rotterdam", "cox_splines", 2982, 1272, 0.714, 0.700, 0.172, 0.203, 0.041, 0.715),
    CohortResult("rotterdam", "cox_tuned", 2982, 1272, 0.713, 0.698, 0.172, 0.203, 0.043, 0.715),
    CohortResult("rotterdam", "xgb", 2982, 1272, 0.709, 0.693, 0.173, 0.203, 0.045, 0.715),
    CohortResult("rotterdam", "neural", 2982, 1272, 0.707, 0.693, 0.174, 0.203, 0.046, 0.715),
    CohortResult("colon", "cox", 929, 452, 0.670, 0.668, 0.199, 0.223, 0.047, 0.646),
    CohortResult("colon", "cox_splines", 929, 452, 0.666, 0.665, 0.200, 0.223, 0.051, 0.646),
    CohortResult("colon", "cox_tuned", 929, 452, 0.669, 0.668, 0.199, 0.223, 0.047, 0.646),
    CohortResult("colon", "xgb", 929, 452, 0.666, 0.666, 0.202, 0.223, 0.040, 0.646),
    CohortResult("colon", "neural", 929, 452, 0.655, 0.654, 0.204, 0.223, 0.057, 0.646),
    CohortResult("metabric", "cox", 1904, 1103, 0.633, 0.638, 0.194, 0.216, 0.046, 0.652),
    CohortResult("metabric", "cox_splines", 1904, 1103, 0.649, 0.649, 0.189, 0.216, 0.036, 0.652),
    CohortResult("metabric", "cox_tuned", 1904, 1103, 0.653, 0.653, 0.189, 0.216, 0.040, 0.652),
    CohortResult("metabric", "xgb", 1904, 1103, 0.649, 0.649, 0.192, 0.216, 0.042, 0.652),
    CohortResult("metabric", "neural", 1904, 1103, 0.648, 0.649, 0.192, 0.216, 0.044, 0.652),
    CohortResult("follicular", "cox", 541, 348, 0.630, 0.626, 0.213, 0.237, 0.057, None),
    CohortResult("follicular", "cox_splines", 541, 348, 0.624, 0.621, 0.215, 0.237, 0.057, None),
    CohortResult("follicular", "cox_tuned", 541, 348, 0.627, 0.624, 0.213, 0.237, 0.057, None),
    CohortResult("follicular", "xgb", 541, 348, 0.617, 0.619, 0.219, 0.237, 0.058, None),
    CohortResult("follicular", "neural", 541, 348, 0.620, 0.623, 0.217, 0.237, 0.071, None),
    CohortResult("veterans", "cox", 137, 128, 0.737, 0.729, 0.162, 0.208, 0.092, None),
    CohortResult("veterans", "cox_splines", 137, 128, 0.726, 0.720, 0.167, 0.208, 0.094, None),
    CohortResult("veterans", "cox_tuned", 137, 128, 0.715, 0.708, 0.170, 0.208, 0.107, None),
    CohortResult("veterans", "xgb", 137, 128, 0.687, 0.681, 0.185, 0.208, 0.096, None),
    CohortResult("veterans", "neural", 137, 128, 0.760, 0.752, 0.159, 0.208, 0.101, None),
)


class ExternalResult(NamedTuple):
    model: str
    harrell_c: float
    integrated_brier: float
    calibration_error: float
    predicted_5y: float
    observed_5y: float  # Kaplan-Meier


# docs/validation.md, "External validation: trained on Rotterdam, tested on GBSG2".
EXTERNAL: tuple[ExternalResult, ...] = (
    ExternalResult("cox", 0.673, 0.185, 0.091, 0.519, 0.492),
    ExternalResult("cox_splines", 0.680, 0.184, 0.066, 0.531, 0.492),
    ExternalResult("cox_tuned", 0.682, 0.183, 0.048, 0.522, 0.492),
    ExternalResult("xgb", 0.682, 0.183, 0.050, 0.513, 0.492),
    ExternalResult("neural", 0.677, 0.184, 0.045, 0.505, 0.492),
)

# docs/validation.md, "Treatment comparison": simulated cohort of 3,000 (seed 0), truth on 300
# new patients; mean |estimated - true 3-year survival|, default method.
COMPARISON_ERROR_3Y = 0.0302  # seed 0
COMPARISON_ERROR_SEEDS = 0.0304  # mean over cohorts drawn with seeds 0-4
COMPARISON_GOAL_3Y = 0.03
COMPARISON_WORST_BIAS = (0.032, "radiotherapy+chemotherapy")
# Band coverage (2,000 patients, 60 refits, 200 new patients; cohorts of seeds 0-3 pooled):
# all options at 12/36/60 months,
# the lowest and highest of one option at one time, the mean band width at 36 months.
COVERAGE = ((12, 0.899), (36, 0.906), (60, 0.901))
COVERAGE_PER_OPTION = (0.814, 0.945)
BAND_WIDTH_36 = 0.162
# GBSG2: hormone-therapy benefit in 5-year restricted mean recurrence-free survival, days.
GBSG2_BENEFIT = 134
GBSG2_REFERENCE = (149, 59, 232)  # propensity-weighted estimate and its 95% interval
# Colon (randomised): Lev+5FU - Obs in 5-year restricted mean survival, days; reference interval.
COLON_DIFFERENCE = (131, 96, 12, 183)  # estimate, reference, its 95% interval
# docs/outcomes-models.md, "Applicability domain": new in-distribution patients flagged.
DOMAIN_FLAG_RATE = 0.013
