"""Write docs/validation.md: the validation protocol on every public cohort for every model kind.

Protocol (oncology.outcomes.evaluate): 5 repeated stratified 80/20 splits (seed 0), features
encoded on each training split, Harrell C, Uno C, integrated Brier score, and the Brier score
and calibration error at 5 years (at the median follow-up where 5 years exceeds it).
Needs the dev extras (the cohorts' data packages).

Usage: .venv/bin/python scripts/outcomes_validation.py [--models cox,xgb,neural]
       [--cohorts gbsg2,...] [--splits 5] [--out docs/validation.md] [--json FILE]
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

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oncology.outcomes import cohorts  # noqa: E402
from oncology.outcomes.evaluate import (  # noqa: E402
    evaluate,
    evaluate_split,
    median_follow_up,
    prepare,
)

# Untuned baselines measured with the same protocol (issue 6): Harrell's C.
BASELINE_C = {"gbsg2": 0.679, "metabric": 0.652, "rotterdam": 0.715, "colon": 0.646}
FIVE_YEARS = {"days": 5 * 365.25, "months": 60.0, "years": 5.0}


def horizon_for(cohort: cohorts.Cohort) -> tuple[float, str]:
    five = FIVE_YEARS[cohort.time_unit]
    frame = cohort.frame
    follow_up = median_follow_up(frame["time"].to_numpy(), frame["event"].to_numpy())
    # 5 years must lie well inside every split's follow-up
    if five < 0.8 * float(frame["time"].max()):
        return five, "5 years"
    return follow_up, "median follow-up"


def run(names: list[str], models: list[str], splits: int) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        cohort = cohorts.load(name)
        horizon, label = horizon_for(cohort)
        for kind in models:
            started = time.perf_counter()
            result = evaluate(
                cohort.frame,
                "time",
                "event",
                list(cohort.treatments),
                kind,
                n_splits=splits,
                seed=0,
                horizon=horizon,
            )
            result["seconds"] = time.perf_counter() - started
            result["cohort"] = name
            result["time_unit"] = cohort.time_unit
            result["horizon_label"] = label
            rows.append(result)
            print(
                f"{name:11s} {kind:7s} C={result['mean']['harrell_c']:.3f} "
                f"IBS={result['mean']['integrated_brier']:.3f} "
                f"cal={result['mean']['calibration_error']:.3f} "
                f"({result['seconds']:.0f}s)",
                flush=True,
            )
    return rows


def _rotterdam_rfs_harmonised() -> pd.DataFrame:
    """Rotterdam with GBSG2's endpoint (recurrence-free survival) and variables."""
    raw = cohorts._rdataset("survival", "rotterdam")
    recur = raw["recur"].to_numpy() == 1
    return pd.DataFrame(
        {
            # Royston & Altman 2013: recurrence time if recurred, else time of death/censoring
            "time": np.where(recur, raw["rtime"], raw["dtime"]).astype(float),
            "event": (recur | (raw["death"].to_numpy() == 1)).astype(int),
            "hormone_therapy": raw["hormon"].astype(int),
            "age": raw["age"].astype(float),
            "menopause": raw["meno"].map({0: "pre", 1: "post"}),
            "tumour_size": raw["size"].astype(str),
            "grade": raw["grade"].astype(str),
            "positive_nodes": raw["nodes"].astype(float),
            "progesterone_fmol": raw["pgr"].astype(float),
            "oestrogen_fmol": raw["er"].astype(float),
        }
    )


def _gbsg2_harmonised() -> pd.DataFrame:
    frame = cohorts.load("gbsg2").frame.copy()
    size = frame.pop("tumour_size_mm")
    frame["tumour_size"] = np.select([size <= 20, size <= 50], ["<=20", "20-50"], ">50")
    frame["grade"] = frame["grade"].map({"I": "2", "II": "2", "III": "3"})  # R&A: 1 with 2
    return frame


def external_validation(models: list[str]) -> list[dict[str, Any]]:
    """Train on Rotterdam (recurrence-free survival, harmonised variables), test on GBSG2."""
    train = _rotterdam_rfs_harmonised()
    test = _gbsg2_harmonised()[list(train.columns)]
    combined = pd.concat([train, test], ignore_index=True)
    data = prepare(combined, "time", "event", ["hormone_therapy"])
    tr = np.arange(len(train))
    te = np.arange(len(train), len(combined))
    out = []
    for kind in models:
        result = evaluate_split(
            data, tr, te, kind, horizon=5 * 365.25, seed=0, censoring_from_test=True
        )
        result["model"] = kind
        out.append(result)
        print(f"external    {kind:7s} C={result['harrell_c']:.3f}", flush=True)
    return out


def _fmt(mean: float | None, sd: float | None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f}"


def write_markdown(
    rows: list[dict[str, Any]], out: Path, splits: int, external: list[dict[str, Any]]
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Outcome model validation",
        "",
        f"Generated by `scripts/outcomes_validation.py` on {now} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs, load {load:.1f}). Protocol: {splits} repeated stratified "
        "80/20 splits (stratified by event and treatment, seed 0); every column other than "
        "time and event is a feature, treatments included; the encoder and the model are "
        "fitted on each training split only (`oncology/outcomes/evaluate.py`). Untuned "
        "default hyper-parameters. Values are mean ± standard deviation over the splits.",
        "",
        "- Harrell C / Uno C: concordance of the risk score (Uno's truncated at the end of "
        "the Brier time grid, the 90th percentile of the test follow-up).",
        "- IBS: integrated Brier score over 50 times from the 10th to the 90th percentile of the "
        "test follow-up (lower is better; 0.25 is an uninformative constant 0.5).",
        "- Brier@h and Cal@h: Brier score and calibration error at the horizon h (5 years "
        "where the follow-up allows, else the median follow-up). The calibration error is the "
        "group-size weighted mean |mean predicted S(h) - Kaplan–Meier S(h)| over up to 10 "
        "risk groups of at least 50 test patients (`oncology/outcomes/metrics.py`); with "
        "50 patients a group, Kaplan–Meier noise alone is about 0.05.",
        "",
        "| Cohort | Model | n | events | h | Harrell C | Uno C | IBS | Brier@h | Cal@h | "
        "Baseline C | Seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m, s = r["mean"], r["sd"]
        base = BASELINE_C.get(r["cohort"])
        lines.append(
            f"| {r['cohort']} | {r['model']} | {r['patients']} | {r['events']} | "
            f"{r['horizon']:.0f} {r['time_unit']} ({r['horizon_label']}) | "
            f"{_fmt(m['harrell_c'], s['harrell_c'])} | {_fmt(m['uno_c'], s['uno_c'])} | "
            f"{_fmt(m['integrated_brier'], s['integrated_brier'])} | "
            f"{_fmt(m['brier_at_horizon'], s['brier_at_horizon'])} | "
            f"{_fmt(m['calibration_error'], s['calibration_error'])} | "
            f"{base if base is not None else '-'} | {r['seconds']:.0f} |"
        )
    lines += [
        "",
        "Baseline C: the issue's untuned baselines measured with this protocol (Harrell C). "
        "Cohorts, endpoints and units: docs/outcomes-data.md.",
        "",
        "## Against the goals",
        "",
        "| Cohort | Best Harrell C (model) | Baseline C | C goal met | Best IBS (model) | "
        "Models with Cal@h <= 0.05 |",
        "|---|---|---|---|---|---|",
    ]
    for cohort in dict.fromkeys(r["cohort"] for r in rows):
        group = [r for r in rows if r["cohort"] == cohort]
        best_c = max(group, key=lambda r: r["mean"]["harrell_c"])
        best_ibs = min(group, key=lambda r: r["mean"]["integrated_brier"])
        calibrated = [r["model"] for r in group if r["mean"]["calibration_error"] <= 0.05]
        base = BASELINE_C.get(cohort)
        met = "-" if base is None else ("yes" if best_c["mean"]["harrell_c"] >= base else "no")
        lines.append(
            f"| {cohort} | {best_c['mean']['harrell_c']:.3f} ({best_c['model']}) | "
            f"{base if base is not None else '-'} | {met} | "
            f"{best_ibs['mean']['integrated_brier']:.3f} ({best_ibs['model']}) | "
            f"{', '.join(calibrated) or 'none'} |"
        )
    lines.append("")
    if external:
        lines += [
            "## External validation: trained on Rotterdam, tested on GBSG2",
            "",
            "Rotterdam (2,982 patients) with GBSG2's endpoint, recurrence-free survival "
            "(recurrence time if the patient recurred, else time of death or censoring, as in "
            "Royston & Altman 2013), and the variables both cohorts share: age, menopause, "
            "tumour size group (<=20, 20-50, >50 mm), grade (GBSG2's grade I merged with II, "
            "as Rotterdam has grades 2 and 3 only), positive nodes, progesterone and oestrogen "
            "receptors, hormone therapy. All 686 GBSG2 patients are the test set; horizon 5 "
            "years; the IPCW metrics use GBSG2's own censoring distribution. GBSG2 is "
            "node-positive only, so this is a shifted population.",
            "",
            "| Model | Harrell C | Uno C | IBS | Brier@5y | Cal@5y | mean predicted S(5y) | "
            "Kaplan–Meier S(5y) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in external:
            lines.append(
                f"| {r['model']} | {r['harrell_c']:.3f} | {r['uno_c']:.3f} | "
                f"{r['integrated_brier']:.3f} | {r['brier_at_horizon']:.3f} | "
                f"{r['calibration_error']:.3f} | "
                f"{r['mean_predicted_survival_at_horizon']:.3f} | "
                f"{r['km_survival_at_horizon']:.3f} |"
            )
        lines.append("")
    out.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cohorts", default=",".join(cohorts.LOADERS))
    parser.add_argument("--models", default="cox,xgb,neural")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "validation.md")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--no-external", dest="external", action="store_false", help="skip Rotterdam -> GBSG2"
    )
    parser.add_argument(
        "--from-json", type=Path, default=None, help="re-render a saved --json run, no fitting"
    )
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        rows, external = saved["internal"], saved.get("external", [])
        args.json = None
    else:
        rows = run(args.cohorts.split(","), args.models.split(","), args.splits)
        external = external_validation(args.models.split(",")) if args.external else []
    write_markdown(rows, args.out, args.splits, external)
    if args.json:
        payload = {"internal": rows, "external": external}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
