"""Write the screening FROC section of docs/validation.md (issue 10).

Screens the synthetic-insertion sets (by default imaging.screening.testset.cases("holdout")
and cases("benchmark"): the real IBSI CT phantom of a lung-cancer patient and the seeded chest
phantom, with inserted solid, part-solid and ground-glass nodules of known size and place) and
reports the LUNA16 FROC: sensitivity at 1/8 .. 8 false positives per scan and their mean,
overall, by size band, by type and by attachment, against the goals (mean >= 0.85; solid >= 6 mm
at 4 FP/scan >= 0.95).

Only the part between ``<!-- begin screening-froc -->`` and ``<!-- end screening-froc -->`` is
replaced; when absent it is appended at the end of the file.

Usage: .venv/bin/python scripts/screening_validation.py [--kind holdout benchmark ci]
       [--data-dir ../shared/data] [--out docs/validation.md] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imaging.screening.froc import LUNA16_FP_RATES, FrocResult  # noqa: E402
from imaging.screening.pipeline import (  # noqa: E402
    PIPELINE_VERSION,
    ScreeningSettings,
    ScreeningValidation,
    validate_cases,
)

BEGIN = "<!-- begin screening-froc -->"
END = "<!-- end screening-froc -->"
RATE_NAMES = ("1/8", "1/4", "1/2", "1", "2", "4", "8")


def replace_section(document: str, section: str) -> str:
    """``document`` with the text between the screening markers replaced by ``section`` (which
    excludes the markers), or with the marked section appended when the markers are absent."""
    block = f"{BEGIN}\n{section.rstrip()}\n{END}\n"
    start = document.find(BEGIN)
    if start >= 0:
        stop = document.find(END, start)
        if stop < 0:
            raise ValueError(f"{BEGIN} has no matching {END}")
        tail = document[stop + len(END) :]
        return document[:start] + block + tail.lstrip("\n")
    if document and not document.endswith("\n"):
        document += "\n"
    return document + ("\n" if document else "") + block


def _row(name: str, result: FrocResult) -> str:
    cells = [f"{result.sensitivity_at[r]:.3f}" for r in LUNA16_FP_RATES]
    return (
        f"| {name} | {result.n_nodules} | {result.n_detected} | "
        + " | ".join(cells)
        + f" | **{result.mean_sensitivity:.3f}** |"
    )


def _table(title: str, rows: list[tuple[str, FrocResult]]) -> list[str]:
    head = "| " + title + " | nodules | found | " + " | ".join(RATE_NAMES) + " | mean |"
    rule = "|" + "---|" * (len(RATE_NAMES) + 4)
    return [head, rule] + [_row(n, r) for n, r in rows]


KIND_TITLES = {
    "holdout": "held-out seeds (never used to choose a constant)",
    "benchmark": "tuning seeds (the score's constants were chosen on these and on 'ci')",
    "ci": "the small CI set (also used for tuning)",
}


def render(validation: ScreeningValidation, *, kind: str, seconds: float, level: str = "##") -> str:
    v = validation
    n_scans = v.overall.n_scans
    lines = [
        f"{level} Lung nodule screening: FROC on the synthetic-insertion set, {KIND_TITLES[kind]}",
        "",
        f"Written by `scripts/screening_validation.py --kind {kind}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({platform.python_version()}, "
        f"pipeline {PIPELINE_VERSION}, {seconds:.0f} s for {n_scans} scans). Method, score and "
        "limits: docs/screening-detection.md.",
        "",
        "Cases: `imaging.screening.testset.cases(" + repr(kind) + ")` — synthetic solid, "
        "part-solid and ground-glass nodules of known centre and diameter inserted into the real "
        "IBSI CT phantom (a lung-cancer CT; its real tumour counts as a solid nodule) and into the "
        "seeded chest phantom (juxta-vascular and juxta-pleural ones included). Metric: LUNA16 "
        "FROC (hit = candidate centre strictly within the nodule radius; sensitivity at 1/8 .. 8 "
        "false positives per scan, linear interpolation, and their mean), candidates capped at "
        f"{ScreeningSettings().max_candidates} per scan.",
        "",
        "| goal | value | target | met |",
        "|---|---|---|---|",
    ]
    for name, (value, goal, met) in v.goals().items():
        lines.append(f"| {name} | {value:.3f} | >= {goal:.2f} | {'yes' if met else 'NO'} |")
    lines += ["", "Sensitivity at false positives per scan:", ""]
    rows: list[tuple[str, FrocResult]] = [("all", v.overall)]
    rows += [(f"size {k} mm", g) for k, g in v.by_size.groups.items()]
    rows += [(f"type {k}", g) for k, g in v.by_type.groups.items()]
    rows += [(f"attachment {k}", g) for k, g in v.by_attachment.groups.items()]
    rows += [(k, g) for k, g in v.solid_6mm.groups.items()]
    lines += _table("group", rows)
    lines += ["", "Per case:", "", "| case | nodules | missed (label) | candidates | seconds |"]
    lines.append("|---|---|---|---|---|")
    for c in v.cases:
        missed = [k for k, r in c.hit_rank.items() if r is None]
        lines.append(
            f"| {c.name} | {c.n_truths} | {', '.join(missed) or '-'} | {c.n_candidates} | "
            f"{c.seconds.get('total', float('nan')):.1f} |"
        )
    return "\n".join(lines) + "\n"


def _summary(v: ScreeningValidation) -> dict[str, Any]:
    return {
        "pipeline_version": PIPELINE_VERSION,
        "overall": v.overall.summary(),
        "by_size": v.by_size.summary()["groups"],
        "by_type": v.by_type.summary()["groups"],
        "by_attachment": v.by_attachment.summary()["groups"],
        "solid_6mm": v.solid_6mm.summary()["groups"],
        "goals": {k: list(val) for k, val in v.goals().items()},
        "cases": [c.__dict__ for c in v.cases],
    }


def main(argv: list[str] | None = None) -> int:
    from imaging.screening.testset import cases

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kind",
        nargs="+",
        choices=("holdout", "benchmark", "ci"),
        default=["holdout", "benchmark"],
        help="case sets to screen, each reported in its own subsection (default: held-out seeds, "
        "then the tuning seeds)",
    )
    parser.add_argument(
        "--data-dir", default=os.environ.get("ONCO_SHARED_DATA", str(ROOT.parent / "shared/data"))
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "validation.md"))
    parser.add_argument("--json", default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    parts = [
        "## Lung nodule screening: FROC on the synthetic-insertion set",
        "",
        "The score's constants were chosen by a small grid search on the 'ci' and 'benchmark' "
        "cases (docs/screening-detection.md); the held-out cases use the same design on seeds "
        "that were never screened while tuning, and are the figures to quote.",
        "",
    ]
    summaries: dict[str, Any] = {}
    for kind in args.kind:
        started = time.perf_counter()
        validation = validate_cases(cases(kind, Path(args.data_dir)))
        seconds = time.perf_counter() - started
        parts.append(render(validation, kind=kind, seconds=seconds, level="###"))
        summaries[kind] = _summary(validation)
    text = "\n".join(parts)
    out = Path(args.out)
    document = out.read_text() if out.exists() else ""
    out.write_text(replace_section(document, text))
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=2, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
