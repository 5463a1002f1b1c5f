"""Write docs/validation.md: the validation protocol on every public cohort for every model kind.

Protocol (oncology.outcomes.evaluate): 5 repeated stratified 80/20 splits (seed 0), features
encoded on each training split, Harrell C, Uno C, integrated Brier score, and the Brier score
and calibration error at 5 years (at the median follow-up where 5 years exceeds it).
Needs the dev extras (the cohorts' data packages).

Then the treatment comparison on the simulated cohort (per-option 3-year survival against the
known truth; bootstrap band coverage, scripts/outcomes_coverage.py), on GBSG2 (hormone therapy
benefit against the propensity-weighted reference interval) and on colon (order of the
randomised arms), and the external validation (train Rotterdam, test GBSG2).

Usage: .venv/bin/python scripts/outcomes_validation.py
       [--models cox,cox_splines,cox_tuned,xgb,neural]
       [--cohorts gbsg2,...] [--splits 5] [--out docs/validation.md] [--json FILE]
       [--no-external] [--no-comparison] [--from-json FILE]
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

from oncology.outcomes import cohorts, simulate  # noqa: E402
from oncology.outcomes.compare import (  # noqa: E402
    TreatmentComparison,
    iptw_rmst_difference,
    weighted_km_rmst,
)
from oncology.outcomes.evaluate import (  # noqa: E402
    evaluate,
    evaluate_split,
    median_follow_up,
    prepare,
)
from oncology.outcomes.features import infer_specs  # noqa: E402
from scripts.outcomes_coverage import coverage  # noqa: E402

# Untuned baselines measured with the same protocol (issue 6): Harrell's C.
BASELINE_C = {"gbsg2": 0.679, "metabric": 0.652, "rotterdam": 0.715, "colon": 0.646}
FIVE_YEARS = {"days": 5 * 365.25, "months": 60.0, "years": 5.0}
# name in the tables -> (model kind, constructor parameters)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "cox": ("cox", {}),
    "cox_splines": ("cox", {"splines": 4}),
    "cox_tuned": ("cox_tuned", {}),
    "xgb": ("xgb", {}),
    "neural": ("neural", {}),
}


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
        for name_ in models:
            kind, params = MODELS[name_]
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
                model_params=params,
            )
            result["model"] = name_
            result["seconds"] = time.perf_counter() - started
            result["cohort"] = name
            result["time_unit"] = cohort.time_unit
            result["horizon_label"] = label
            rows.append(result)
            print(
                f"{name:11s} {name_:11s} C={result['mean']['harrell_c']:.3f} "
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
    for name in models:
        kind, params = MODELS[name]
        result = evaluate_split(
            data,
            tr,
            te,
            kind,
            horizon=5 * 365.25,
            seed=0,
            censoring_from_test=True,
            model_params=params,
        )
        result["model"] = name
        out.append(result)
        print(f"external    {name:11s} C={result['harrell_c']:.3f}", flush=True)
    return out


# Treatment comparison methods measured on the simulated cohort: label -> constructor kwargs.
SIM_METHODS: dict[str, dict[str, Any]] = {
    "interaction, component penalty (default)": {},
    "interaction, flat ridge 0.01 (before)": {"model_params": {"penalizer": 0.01}},
    "interaction, component penalty chosen by 3-fold CV (opt-in)": {
        "model_params": {"component_penalty": "cv"}
    },
    "interaction, component penalty + IPTW": {"weighting": True},
    "per option": {"method": "per_option"},
}
SIM_N, SIM_PATIENTS, SIM_SEEDS = 3000, 300, (0, 1, 2, 3, 4)


def simulated_accuracy() -> list[dict[str, Any]]:
    """Per-option 3-year survival of new simulated patients against the known truth."""
    t36 = np.array([36.0])
    new = simulate.simulate_cohort(SIM_PATIENTS, seed=99).covariates
    truth = {o: simulate.true_survival(new, o, t36)[:, 0] for o in simulate.OPTIONS}
    frames = {s: simulate.simulate_cohort(SIM_N, seed=s).frame for s in SIM_SEEDS}
    out = []
    for label, kwargs in SIM_METHODS.items():
        started = time.perf_counter()
        per_seed, per_option, bias = [], {}, {}
        for seed in SIM_SEEDS:
            tc = TreatmentComparison(simulate.feature_specs(), "treatment", **kwargs)
            tc.fit(frames[seed])
            errors = {}
            for option in simulate.OPTIONS:
                est = tc.survival_matrix(new, option, t36)[:, 0]
                errors[option] = float(np.abs(est - truth[option]).mean())
                if seed == SIM_SEEDS[0]:
                    bias[option] = float(est.mean() - truth[option].mean())
            if seed == SIM_SEEDS[0]:
                per_option = errors
            per_seed.append(float(np.mean(list(errors.values()))))
        out.append(
            {
                "method": label,
                "error_seed0": per_seed[0],
                "error_per_seed": per_seed,
                "error_mean": float(np.mean(per_seed)),
                "per_option_seed0": per_option,
                "bias_seed0": bias,
                "seconds": time.perf_counter() - started,
            }
        )
        print(f"simulated   {label:45s} error={per_seed[0]:.4f} mean={np.mean(per_seed):.4f}")
    return out


def gbsg2_hormone() -> dict[str, Any]:
    frame = cohorts.load("gbsg2").frame
    specs = infer_specs(frame, exclude=["time", "event", "hormone_therapy"])
    horizon = 5 * 365.25
    point, lo, hi = iptw_rmst_difference(
        frame, specs, "hormone_therapy", "1", "0", horizon, replicates=200, seed=0
    )
    tc = TreatmentComparison(specs, "hormone_therapy").fit(frame)
    grid = np.linspace(0.0, horizon, 201)
    rmst = {o: np.trapezoid(tc.survival_matrix(frame, o, grid).mean(axis=0), grid) for o in "01"}
    benefit = float(rmst["1"] - rmst["0"])
    print(f"gbsg2       hormone benefit {benefit:.0f} days, IPTW {point:.0f} ({lo:.0f}, {hi:.0f})")
    return {
        "benefit": benefit,
        "iptw": point,
        "lower": lo,
        "upper": hi,
        "inside": lo < benefit < hi,
    }


def colon_arms() -> dict[str, Any]:
    """Standardised 5-year RMST of the three randomised arms against each arm's Kaplan–Meier,
    and each pairwise difference against the reference interval of ``iptw_rmst_difference``
    (in a randomised trial the propensity is flat, so that is the arms' Kaplan–Meier
    difference with a bootstrap interval)."""
    frame = cohorts.load("colon").frame
    specs = infer_specs(frame, exclude=["time", "event", "arm"])
    horizon = 5 * 365.25
    tc = TreatmentComparison(specs, "arm").fit(frame)
    grid = np.linspace(0.0, horizon, 201)
    arms = ("Obs", "Lev", "Lev+5FU")
    standardised, observed = {}, {}
    for arm in arms:
        standardised[arm] = float(
            np.trapezoid(tc.survival_matrix(frame, arm, grid).mean(axis=0), grid)
        )
        rows = frame[frame["arm"] == arm]
        observed[arm] = weighted_km_rmst(
            rows["time"].to_numpy(), rows["event"].to_numpy(), np.ones(len(rows)), horizon
        )
    pairs = []
    for a, b in (("Lev+5FU", "Obs"), ("Lev+5FU", "Lev"), ("Lev", "Obs")):
        point, lo, hi = iptw_rmst_difference(frame, specs, "arm", a, b, horizon, replicates=200)
        diff = standardised[a] - standardised[b]
        pairs.append(
            {"a": a, "b": b, "standardised": diff, "reference": point, "lower": lo, "upper": hi}
        )
    order = sorted(arms, key=lambda a: -standardised[a])
    # the trial: Lev+5FU better than observation, levamisole alone no better than observation
    matches = (
        order[0] == "Lev+5FU"
        and pairs[0]["lower"] > 0
        and pairs[2]["lower"] < 0 < pairs[2]["upper"]
        and all(p["lower"] < p["standardised"] < p["upper"] for p in pairs)
    )
    print(f"colon       standardised order {order}, matches the trial: {matches}")
    return {
        "standardised_rmst": standardised,
        "km_rmst": observed,
        "order": order,
        "pairs": pairs,
        "matches": matches,
    }


def comparison_checks() -> dict[str, Any]:
    band = coverage()
    print(f"coverage    {np.round(band['coverage'], 3)} ({band['seconds']:.0f} s)", flush=True)
    return {
        "simulated": simulated_accuracy(),
        "coverage": band,
        "gbsg2": gbsg2_hormone(),
        "colon": colon_arms(),
    }


def _comparison_markdown(checks: dict[str, Any]) -> list[str]:
    sim = checks["simulated"]
    lines = [
        "## Treatment comparison",
        "",
        f"Simulated cohort (docs/outcomes-simulation.md): {SIM_N:,} patients (seed 0), the "
        f"comparison fitted with the Cox model, scored on {SIM_PATIENTS} new patients (seed 99) "
        "under each of the six options: error = mean |estimated - true 3-year survival| over "
        "the new patients, averaged over the options (goal <= 0.03). The same with cohorts "
        f"drawn with seeds {', '.join(map(str, SIM_SEEDS))} shows how much one draw moves it. "
        "Worst bias: the largest |mean estimate - mean truth| of one option (seed 0).",
        "",
        "| Method | Error (seed 0) | Error per seed | Mean over seeds | Worst bias (option) |",
        "|---|---|---|---|---|",
    ]
    for r in sim:
        worst = max(r["bias_seed0"], key=lambda o: abs(r["bias_seed0"][o]))
        lines.append(
            f"| {r['method']} | {r['error_seed0']:.4f} | "
            f"{', '.join(f'{v:.3f}' for v in r['error_per_seed'])} | {r['error_mean']:.4f} | "
            f"{r['bias_seed0'][worst]:+.3f} ({worst}) |"
        )
    default = sim[0]
    lines += [
        "",
        "Per option, default method, seed 0: "
        + ", ".join(f"{o} {v:.3f}" for o, v in default["per_option_seed0"].items())
        + ".",
        "",
    ]
    band = checks["coverage"]
    times = "/".join(f"{t:.0f}" for t in band["times"])
    # runs saved before coverage pooled several cohorts carry one "seed"
    seeds = band.get("seeds", [band.get("seed", 0)])
    per_seed = band.get("per_seed", {str(seeds[0]): band["coverage"]})
    lines += [
        f"Band coverage (`scripts/outcomes_coverage.py`): the default comparison fitted on "
        f"{band['n']:,} simulated patients, {band['replicates']} bootstrap refits, 95 % "
        f"percentile bands for {band['patients']} new patients under each option; share of "
        f"(patient, option) pairs whose true survival lies inside the band at {times} months "
        "(goal >= 90 %), pooled over the cohorts drawn with seeds "
        f"{', '.join(map(str, seeds))}. Coverage is a property of repeated cohorts: within "
        "one cohort every patient's estimate shares the same coefficient errors, so one cohort "
        "alone misses or covers whole options together (per cohort: "
        + "; ".join(
            f"seed {k} {' / '.join(f'{100 * v:.1f} %' for v in row)}" for k, row in per_seed.items()
        )
        + ").",
        "",
        f"| Option | Coverage {times} months | Mean width {times} months |",
        "|---|---|---|",
    ]
    for option, row in band["per_option"].items():
        lines.append(
            f"| {option} | {' / '.join(f'{100 * v:.1f} %' for v in row['coverage'])} | "
            f"{' / '.join(f'{v:.3f}' for v in row['mean_width'])} |"
        )
    lines.append(
        f"| all options | {' / '.join(f'{100 * v:.1f} %' for v in band['coverage'])} | "
        f"{' / '.join(f'{v:.3f}' for v in band['mean_width'])} |"
    )
    g = checks["gbsg2"]
    c = checks["colon"]
    lines += [
        "",
        "GBSG2: hormone therapy benefit in 5-year restricted mean recurrence-free survival, "
        "standardised over the cohort (default comparison, Cox): "
        f"**{g['benefit']:.0f} days**; reference `iptw_rmst_difference` (stabilised-IPTW "
        "Kaplan–Meier curves, propensity refitted in each of 200 bootstrap replicates): "
        f"{g['iptw']:.0f} days, 95 % interval {g['lower']:.0f} to {g['upper']:.0f}: "
        f"{'inside' if g['inside'] else 'OUTSIDE'}.",
        "",
        "Colon (randomised; overall survival): 5-year restricted mean survival per arm, "
        "standardised over the cohort (default comparison, Cox) vs each arm's own "
        "Kaplan–Meier: "
        + ", ".join(
            f"{a} {c['standardised_rmst'][a]:.0f} vs {c['km_rmst'][a]:.0f} days"
            for a in ("Obs", "Lev", "Lev+5FU")
        )
        + f"; standardised order {' > '.join(c['order'])}. Differences against the "
        "reference (`iptw_rmst_difference`, 200 bootstrap replicates; with randomised arms "
        "the propensity weights only correct chance imbalance): "
        + "; ".join(
            f"{p['a']} - {p['b']} {p['standardised']:.0f} days (reference {p['reference']:.0f}, "
            f"{p['lower']:.0f} to {p['upper']:.0f})"
            for p in c["pairs"]
        )
        + ". The trial (Moertel 1990) found levamisole plus fluorouracil better than "
        "observation and levamisole alone no better than observation: Lev+5FU first, its "
        "interval against Obs above 0, the Lev - Obs interval around 0 and every standardised "
        "difference inside its reference interval: "
        + ("matches." if c["matches"] else "DOES NOT match."),
        "",
    ]
    return lines


def _fmt(mean: float | None, sd: float | None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f}"


def write_markdown(
    rows: list[dict[str, Any]],
    out: Path,
    splits: int,
    external: list[dict[str, Any]],
    checks: dict[str, Any] | None = None,
    seconds: float | None = None,
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
        "fitted on each training split only (`oncology/outcomes/evaluate.py`). Default "
        "hyper-parameters, except `cox_tuned`, which tunes itself inside each training split. "
        "Values are mean ± standard deviation over the splits.",
        "",
        "- Models (docs/outcomes-models.md): `cox` (linear, ridge 0.01, as in the treatment "
        "comparison), `cox_splines` (the same with restricted cubic splines, 4 knots at "
        "Harrell's default quantiles, for every continuous column; `--splines 4` on the "
        "command line), `cox_tuned` (penalty, spline knots and an optional 50/50 blend with "
        "`xgb` chosen by 3-fold cross-validated Harrell C on each training split alone, then "
        "recalibrated by its out-of-fold calibration slope; `oncology/outcomes/models/tuned.py`), "
        "`xgb` (xgboost Cox, 300 rounds, depth 2), `neural` (DeepSurv-style).",
        "- Harrell C / Uno C: concordance of the risk score (Uno's truncated at the end of "
        "the Brier time grid, the 90th percentile of the test follow-up).",
        "- IBS: integrated Brier score over 50 times from the 10th to the 90th percentile of the "
        "test follow-up (lower is better; 0.25 is an uninformative constant 0.5).",
        "- Brier@h and Cal@h: Brier score and calibration error at the horizon h (5 years "
        "where the follow-up allows, else the median follow-up). The calibration error is the "
        "group-size weighted mean |mean predicted S(h) - Kaplan–Meier S(h)| over up to 10 "
        "risk groups of at least 50 test patients (`oncology/outcomes/metrics.py`); with "
        "50 patients a group, Kaplan–Meier noise alone is about 0.05.",
        "- Cal noise: what Cal@h would be on average for a perfectly calibrated model with the "
        "same test groups (Greenwood standard error of each group's Kaplan–Meier S(h) x "
        "sqrt(2/pi), `metrics.calibration_noise`): a Cal@h near it is Kaplan–Meier noise, not "
        "miscalibration, and a goal below it cannot be shown with this many test patients.",
        "- IBS (KM): the same score for the training rows' Kaplan–Meier curve given to every "
        "test patient (no covariates), the reference a model has to beat.",
        "",
        "| Cohort | Model | n | events | h | Harrell C | Uno C | IBS | IBS (KM) | Brier@h | "
        "Cal@h | Cal noise | Baseline C | Seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m, s = r["mean"], r["sd"]
        base = BASELINE_C.get(r["cohort"])
        lines.append(
            f"| {r['cohort']} | {r['model']} | {r['patients']} | {r['events']} | "
            f"{r['horizon']:.0f} {r['time_unit']} ({r['horizon_label']}) | "
            f"{_fmt(m['harrell_c'], s['harrell_c'])} | {_fmt(m['uno_c'], s['uno_c'])} | "
            f"{_fmt(m['integrated_brier'], s['integrated_brier'])} | "
            f"{_fmt(m.get('integrated_brier_km'), s.get('integrated_brier_km'))} | "
            f"{_fmt(m['brier_at_horizon'], s['brier_at_horizon'])} | "
            f"{_fmt(m['calibration_error'], s['calibration_error'])} | "
            f"{_fmt(m.get('calibration_noise'), None)} | "
            f"{base if base is not None else '-'} | {r['seconds']:.0f} |"
        )
    lines += [
        "",
        "Baseline C: the issue's untuned baselines measured with this protocol (Harrell C). "
        "Cohorts, endpoints and units: docs/outcomes-data.md.",
        "",
        "## Against the goals",
        "",
        "Best values to four decimals, so that a miss by less than 0.001 shows.",
        "",
        "| Cohort | Best Harrell C (model) | Baseline C | C goal met | Best IBS (model) | "
        "IBS (KM) | Models with Cal@h <= 0.05 | Best Cal@h (model) | Cal noise |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cohort in dict.fromkeys(r["cohort"] for r in rows):
        group = [r for r in rows if r["cohort"] == cohort]
        best_c = max(group, key=lambda r: r["mean"]["harrell_c"])
        best_ibs = min(group, key=lambda r: r["mean"]["integrated_brier"])
        calibrated = [r["model"] for r in group if r["mean"]["calibration_error"] <= 0.05]
        best_cal = min(group, key=lambda r: r["mean"]["calibration_error"])
        base = BASELINE_C.get(cohort)
        met = "-" if base is None else ("yes" if best_c["mean"]["harrell_c"] >= base else "no")
        lines.append(
            f"| {cohort} | {best_c['mean']['harrell_c']:.4f} ({best_c['model']}) | "
            f"{base if base is not None else '-'} | {met} | "
            f"{best_ibs['mean']['integrated_brier']:.4f} ({best_ibs['model']}) | "
            f"{_fmt(best_ibs['mean'].get('integrated_brier_km'), None)} | "
            f"{', '.join(calibrated) or 'none'} | "
            f"{best_cal['mean']['calibration_error']:.3f} ({best_cal['model']}) | "
            f"{_fmt(best_cal['mean'].get('calibration_noise'), None)} |"
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
    if checks:
        lines += _comparison_markdown(checks)
    if seconds is not None:
        lines += [f"Run time of the script: {seconds / 60:.1f} minutes.", ""]
    lines += [END_MARKER, ""]
    # other scripts and people append their own sections to the same file: read it only now,
    # just before writing, so that what they wrote meanwhile is kept
    existing = out.read_text(encoding="utf-8") if out.exists() else ""
    out.write_text("\n".join(lines) + kept_after_own_part(existing), encoding="utf-8")


END_MARKER = "<!-- end of outcome validation (scripts/outcomes_validation.py) -->"
# headings of the sections this script writes (with any flag), told apart from others' sections
OWN_HEADINGS = (
    "## Against the goals",
    "## External validation: trained on Rotterdam",
    "## Treatment comparison",
)


def kept_after_own_part(existing: str) -> str:
    """The part of ``existing`` that this script does not own: everything after the end
    marker, or, in a file written before the marker existed, every ``## `` section whose
    heading is not one of this script's (in its original order)."""
    if END_MARKER in existing:
        return existing.split(END_MARKER, 1)[1].lstrip("\n")
    kept: list[str] = []
    keep = False
    for line in existing.splitlines(keepends=True):
        if line.startswith("<!-- begin "):  # another script's marked part starts here
            keep = True
        elif line.startswith("## "):
            keep = not line.startswith(OWN_HEADINGS)
        elif line.startswith("# "):
            keep = False
        if keep:
            kept.append(line)
    return "".join(kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cohorts", default=",".join(cohorts.LOADERS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "validation.md")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--no-external", dest="external", action="store_false", help="skip Rotterdam -> GBSG2"
    )
    parser.add_argument(
        "--no-comparison",
        dest="comparison",
        action="store_false",
        help="skip the treatment comparison checks",
    )
    parser.add_argument(
        "--from-json", type=Path, default=None, help="re-render a saved --json run, no fitting"
    )
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        rows, external = saved["internal"], saved.get("external", [])
        checks, seconds = saved.get("comparison"), saved.get("seconds")
        args.json = None
    else:
        started = time.perf_counter()
        rows = run(args.cohorts.split(","), args.models.split(","), args.splits)
        external = external_validation(args.models.split(",")) if args.external else []
        checks = comparison_checks() if args.comparison else None
        seconds = time.perf_counter() - started
    write_markdown(rows, args.out, args.splits, external, checks, seconds)
    if args.json:
        payload = {
            "internal": rows,
            "external": external,
            "comparison": checks,
            "seconds": seconds,
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
