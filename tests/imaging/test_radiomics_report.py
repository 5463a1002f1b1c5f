"""The compliance report counts matches per family and explains every miss."""

from __future__ import annotations

from pathlib import Path

from imaging.radiomics.registry import FeatureValue
from imaging.radiomics.report import render, write_report
from imaging.radiomics.validation import Comparison, ReferenceRow, compare

STATS = "Intensity-based statistical features"


def _row(code: str, value: float | None, raw: str) -> ReferenceRow:
    return ReferenceRow(
        STATS, "Mean intensity", code, "digital_phantom", "", "", value, 0.005, raw, 0
    )


def _results() -> dict[str, list[Comparison]]:
    computed = [
        FeatureValue("stat", "mean", "Q4LE", 2.1486),
        FeatureValue("stat", "variance", "ECT3", 3.2),
    ]
    rows = [_row("Q4LE", 2.15, "2.15"), _row("ECT3", 3.05, "3.05"), _row("KE2A", None, "")]
    return {"digital phantom": compare(rows, computed)}


def test_report_counts_matches_per_family_and_lists_each_miss_with_its_reason() -> None:
    text = render(_results())
    assert f"| {STATS} | 1 / 2 |" in text
    misses = text.split("## Misses")[1].split("## Not counted")[0]
    assert f"- digital phantom: {STATS}: Mean intensity (ECT3): computed 3.2" in misses
    assert "reference 3.05" in misses
    assert "(Q4LE)" not in misses


def test_rows_without_reference_value_are_not_counted_but_reported(tmp_path: Path) -> None:
    out = tmp_path / "ibsi.md"
    write_report(tmp_path, out, runner=lambda _: _results())
    text = out.read_text(encoding="utf-8")
    assert "digital phantom 1" in text
    assert "**1 / 2**" in text
