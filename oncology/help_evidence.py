"""The measured numbers the help page /help/outcome-models/ quotes, in one place.

Copied from the documents that report them (named on each constant). When those are
regenerated (``scripts/outcomes_validation.py`` writes docs/validation.md), refresh these:
tests/oncology/test_help_pages.py parses docs/validation.md and fails while the two differ.
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
    calibration_error: float  # at 5 years (veterans: at the median follow-up, 80 days)
    baseline_c: float | None  # the untuned baseline, Harrell C


# docs/validation.md, generated 2026-11-24 04:45 UTC.
VALIDATION: tuple[CohortResult, ...] = (
    CohortResult("gbsg2", "cox", 686, 299, 0.704, 0.681, 0.181, 0.028, 0.679),
    CohortResult("gbsg2", "xgb", 686, 299, 0.684, 0.665, 0.185, 0.036, 0.679),
    CohortResult("gbsg2", "neural", 686, 299, 0.687, 0.666, 0.185, 0.042, 0.679),
    CohortResult("rotterdam", "cox", 2982, 1272, 0.704, 0.689, 0.174, 0.047, 0.715),
    CohortResult("rotterdam", "xgb", 2982, 1272, 0.709, 0.693, 0.173, 0.045, 0.715),
    CohortResult("rotterdam", "neural", 2982, 1272, 0.707, 0.693, 0.174, 0.046, 0.715),
    CohortResult("colon", "cox", 929, 452, 0.670, 0.668, 0.199, 0.047, 0.646),
    CohortResult("colon", "xgb", 929, 452, 0.666, 0.666, 0.202, 0.040, 0.646),
    CohortResult("colon", "neural", 929, 452, 0.655, 0.654, 0.204, 0.057, 0.646),
    CohortResult("metabric", "cox", 1904, 1103, 0.633, 0.638, 0.194, 0.046, 0.652),
    CohortResult("metabric", "xgb", 1904, 1103, 0.649, 0.649, 0.192, 0.042, 0.652),
    CohortResult("metabric", "neural", 1904, 1103, 0.648, 0.649, 0.192, 0.044, 0.652),
    CohortResult("follicular", "cox", 541, 348, 0.630, 0.626, 0.213, 0.057, None),
    CohortResult("follicular", "xgb", 541, 348, 0.617, 0.619, 0.219, 0.058, None),
    CohortResult("follicular", "neural", 541, 348, 0.620, 0.623, 0.217, 0.071, None),
    CohortResult("veterans", "cox", 137, 128, 0.737, 0.729, 0.162, 0.092, None),
    CohortResult("veterans", "xgb", 137, 128, 0.687, 0.681, 0.185, 0.096, None),
    CohortResult("veterans", "neural", 137, 128, 0.760, 0.752, 0.159, 0.101, None),
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
    ExternalResult("xgb", 0.682, 0.183, 0.050, 0.513, 0.492),
    ExternalResult("neural", 0.677, 0.184, 0.045, 0.505, 0.492),
)

# docs/outcomes-models.md, "Treatment comparison" (simulated cohort, 3,000 patients, seed 0;
# truth on 300 new patients): mean |estimate - truth| of 3-year survival, default method.
COMPARISON_ERROR_3Y = 0.034
COMPARISON_GOAL_3Y = 0.03
COMPARISON_WORST_BIAS = (0.034, "radiotherapy+chemotherapy")
# Same section: coverage of the 95% bands (2,000 patients, 60 replicates, 200 new patients).
COVERAGE = ((12, 0.906), (36, 0.932), (60, 0.919))  # (months, share of patient-option pairs)
COVERAGE_PER_OPTION = (0.845, 0.985)
BAND_WIDTH_36 = (0.16, 0.24)
# GBSG2: hormone-therapy benefit in 5-year restricted mean recurrence-free survival, days.
GBSG2_BENEFIT = 134
GBSG2_REFERENCE = (149, 58, 236)  # propensity-weighted estimate and its 95% interval
# docs/outcomes-models.md, "Applicability domain": new in-distribution patients flagged.
DOMAIN_FLAG_RATE = 0.013
