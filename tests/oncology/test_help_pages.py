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


def _columns(markdown: str, first_header: str) -> list[dict[str, str]]:
    """The rows of that table as header -> cell."""
    lines = markdown.splitlines()
    header_line = next(line for line in lines if line.startswith(f"| {first_header} |"))
    header = [cell.strip() for cell in header_line.strip("|").split("|")]
    return [dict(zip(header, row, strict=True)) for row in _table_rows(markdown, first_header)]


def test_the_validation_numbers_are_those_of_docs_validation_md() -> None:
    text = (DOCS / "validation.md").read_text(encoding="utf-8")
    in_docs = {
        (r["Cohort"], r["Model"]): (
            int(r["n"]),
            int(r["events"]),
            _mean(r["Harrell C"]),
            _mean(r["Uno C"]),
            _mean(r["IBS"]),
            _mean(r["IBS (KM)"]),
            _mean(r["Cal@h"]),
            None if r["Baseline C"] == "-" else float(r["Baseline C"]),
        )
        for r in _columns(text, "Cohort | Model | n")
    }
    quoted = {(r.cohort, r.model): tuple(r[2:]) for r in help_evidence.VALIDATION}
    assert quoted == in_docs, "docs/validation.md changed: refresh oncology/help_evidence.py"
    external = {
        r["Model"]: (
            float(r["Harrell C"]),
            float(r["IBS"]),
            float(r["Cal@5y"]),
            float(r["mean predicted S(5y)"]),
            float(r["Kaplan–Meier S(5y)"]),
        )
        for r in _columns(text, "Model | Harrell C")
    }
    assert {r.model: tuple(r[1:]) for r in help_evidence.EXTERNAL} == external


def test_the_comparison_numbers_are_those_of_docs_validation_md() -> None:
    text = (DOCS / "validation.md").read_text(encoding="utf-8")
    e = help_evidence
    default = next(
        r for r in _columns(text, "Method | Error (seed 0)") if "(default)" in r["Method"]
    )
    assert float(default["Error (seed 0)"]) == e.COMPARISON_ERROR_3Y
    assert float(default["Mean over seeds"]) == e.COMPARISON_ERROR_SEEDS
    bias = re.fullmatch(r"\+([\d.]+) \((.+)\)", default["Worst bias (option)"])
    assert bias is not None
    assert (float(bias.group(1)), bias.group(2)) == e.COMPARISON_WORST_BIAS
    assert "(goal <= 0.03)" in text
    coverage = _columns(text, "Option | Coverage 12/36/60 months")
    overall = next(r for r in coverage if r["Option"] == "all options")

    def shares(cell: str) -> list[float]:
        return [float(v.strip(" %")) / 100 for v in cell.split("/")]

    assert list(zip((12, 36, 60), shares(overall["Coverage 12/36/60 months"]), strict=True)) == [
        pytest.approx(c) for c in e.COVERAGE
    ]
    per_option = [
        v for r in coverage if r is not overall for v in shares(r["Coverage 12/36/60 months"])
    ]
    assert (min(per_option), max(per_option)) == pytest.approx(e.COVERAGE_PER_OPTION)
    width_36 = float(overall["Mean width 12/36/60 months"].split("/")[1])
    assert width_36 == e.BAND_WIDTH_36
    flat = " ".join(text.split())
    assert f"**{e.GBSG2_BENEFIT} days**" in flat
    ref, low, high = e.GBSG2_REFERENCE
    assert f"{ref} days, 95 % interval {low} to {high}: inside" in flat
    est, ref, low, high = e.COLON_DIFFERENCE
    assert f"Lev+5FU - Obs {est} days (reference {ref}, {low} to {high})" in flat
    domain = " ".join((DOCS / "outcomes-models.md").read_text(encoding="utf-8").split())
    assert f"{100 * e.DOMAIN_FLAG_RATE:.1f}% of 6,000 new simulated patients" in domain


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
    assert "On rotterdam no model kind reached the baseline C." in html
    assert world.patient.mrn not in html  # no patient data


@pytest.mark.django_db
def test_the_help_page_needs_a_signed_in_person(world: World) -> None:
    response = Client().get(reverse("help:outcome-models"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
