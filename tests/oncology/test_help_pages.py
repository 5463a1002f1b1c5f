"""The help page on the outcome models: readable by any signed-in person, quoting the numbers
the validation documents report (and failing when those documents change without it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from oncology import help_evidence
from tests.conftest import World

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _table_rows(markdown: str, first_header: str) -> list[list[str]]:
    """The body rows of the first table whose header starts with ``first_header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _mean(cell: str) -> float:
    return float(cell.split("±")[0])


def test_the_validation_numbers_are_those_of_docs_validation_md() -> None:
    text = (DOCS / "validation.md").read_text(encoding="utf-8")
    rows = _table_rows(text, "Cohort | Model | n")
    in_docs = {
        (r[0], r[1]): (
            int(r[2]),
            int(r[3]),
            _mean(r[5]),
            _mean(r[6]),
            _mean(r[7]),
            _mean(r[9]),
            None if r[10] == "-" else float(r[10]),
        )
        for r in rows
    }
    quoted = {
        (r.cohort, r.model): (
            r.patients,
            r.events,
            r.harrell_c,
            r.uno_c,
            r.integrated_brier,
            r.calibration_error,
            r.baseline_c,
        )
        for r in help_evidence.VALIDATION
    }
    assert quoted == in_docs, "docs/validation.md changed: refresh oncology/help_evidence.py"
    external = {
        r[0]: (float(r[1]), float(r[3]), float(r[5]), float(r[6]), float(r[7]))
        for r in _table_rows(text, "Model | Harrell C")
    }
    assert {
        r.model: (
            r.harrell_c,
            r.integrated_brier,
            r.calibration_error,
            r.predicted_5y,
            r.observed_5y,
        )
        for r in help_evidence.EXTERNAL
    } == external


def test_the_comparison_numbers_are_those_of_docs_outcomes_models_md() -> None:
    text = " ".join((DOCS / "outcomes-models.md").read_text(encoding="utf-8").split())
    e = help_evidence
    interaction = re.search(
        r"\| interaction \(default\) \| [^|]+ \| ([\d.]+) \| \+([\d.]+) \(([^)]+)\)", text
    )
    assert interaction is not None
    assert float(interaction.group(1)) == e.COMPARISON_ERROR_3Y
    assert (float(interaction.group(2)), interaction.group(3)) == e.COMPARISON_WORST_BIAS
    (_, a), (_, b), (_, c) = e.COVERAGE
    assert f"{100 * a:.1f} %, {100 * b:.1f} % and {100 * c:.1f} %" in text
    lo, hi = e.COVERAGE_PER_OPTION
    assert f"per option {100 * lo:.1f}-{100 * hi:.1f} %" in text
    assert f"36 months {e.BAND_WIDTH_36[0]:.2f}-{e.BAND_WIDTH_36[1]:.2f}" in text
    assert f"survival is {e.GBSG2_BENEFIT} days" in text
    ref, low, high = e.GBSG2_REFERENCE
    assert f"gives {ref} days, 95 % interval {low} to {high} days" in text
    assert f"{100 * e.DOMAIN_FLAG_RATE:.1f}% of 6,000 new simulated patients" in text


@pytest.mark.django_db
def test_a_clinician_reads_how_the_models_were_built_validated_and_where_they_fail(
    world: World, member_client: Client
) -> None:
    page = member_client.get(reverse("help:outcome-models"))
    assert page.status_code == 200
    html = page.content.decode()
    for heading in ("How the models were built", "How they were validated", "Where they fail"):
        assert heading in html
    gbsg2_cox = help_evidence.VALIDATION[0]
    assert f"<td>{gbsg2_cox.harrell_c:.3f}</td>" in html
    assert "<strong>not met</strong>" in html  # the 3-year survival goal, said plainly
    assert "On rotterdam and metabric no model kind reached the baseline C." in html
    assert world.patient.mrn not in html  # no patient data


@pytest.mark.django_db
def test_the_help_page_needs_a_signed_in_person(world: World) -> None:
    response = Client().get(reverse("help:outcome-models"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
