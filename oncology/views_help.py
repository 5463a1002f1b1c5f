"""Help pages: how the outcome models were built, validated, and where they fail.

No patient data: any signed-in person may read them (integration clients use the API)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from oncology import help_evidence
from oncology.board_panel import CAVEATS, EXPLANATIONS
from oncology.views import person_required


def _goals() -> list[dict[str, Any]]:
    """Per cohort: the best Harrell C against the baseline, the best integrated Brier score and
    which model kinds meet the calibration goal (docs/validation.md, 'Against the goals')."""
    cohorts: dict[str, list[help_evidence.CohortResult]] = {}
    for row in help_evidence.VALIDATION:
        cohorts.setdefault(row.cohort, []).append(row)
    goals = []
    for cohort, rows in cohorts.items():
        best_c = max(rows, key=lambda r: r.harrell_c)
        best_ibs = min(rows, key=lambda r: r.integrated_brier)
        baseline = rows[0].baseline_c
        goals.append(
            {
                "cohort": cohort,
                "best_c": best_c,
                "baseline_c": baseline,
                "c_met": None if baseline is None else best_c.harrell_c >= baseline,
                "best_ibs": best_ibs,
                "calibrated": [r.model for r in rows if r.calibration_error <= 0.05],
            }
        )
    return goals


@person_required
@require_GET
def outcome_models(request: HttpRequest) -> HttpResponse:
    e = help_evidence
    goals = _goals()
    c_values = [r.harrell_c for r in e.VALIDATION]
    return render(
        request,
        "help/outcome_models.html",
        {
            "validation": e.VALIDATION,
            "goals": goals,
            "c_range": (min(c_values), max(c_values)),
            "c_missed": [g["cohort"] for g in goals if g["c_met"] is False],
            "uncalibrated": [g["cohort"] for g in goals if not g["calibrated"]],
            "external": e.EXTERNAL,
            "comparison_error": e.COMPARISON_ERROR_3Y,
            "comparison_error_points": 100 * e.COMPARISON_ERROR_3Y,
            "comparison_error_seeds": e.COMPARISON_ERROR_SEEDS,
            "comparison_goal": e.COMPARISON_GOAL_3Y,
            "comparison_met": e.COMPARISON_ERROR_3Y <= e.COMPARISON_GOAL_3Y,
            "worst_bias": e.COMPARISON_WORST_BIAS,
            "coverage": [(months, 100 * share) for months, share in e.COVERAGE],
            "coverage_per_option": [100 * s for s in e.COVERAGE_PER_OPTION],
            "coverage_short": any(share < 0.95 for _, share in e.COVERAGE),
            "band_width": e.BAND_WIDTH_36,
            "band_width_points": 100 * e.BAND_WIDTH_36,
            "gbsg2_benefit": e.GBSG2_BENEFIT,
            "gbsg2_reference": e.GBSG2_REFERENCE,
            "colon": e.COLON_DIFFERENCE,
            "domain_flag_rate": 100 * e.DOMAIN_FLAG_RATE,
            "explanations": EXPLANATIONS,
            "caveats": CAVEATS,
        },
    )
