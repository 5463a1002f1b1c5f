"""Coverage of the treatment comparison's bootstrap bands on the simulated cohort.

Fits the comparison on a simulated cohort, draws bootstrap replicates for new simulated
patients and reports how often each option's TRUE survival at 12, 36 and 60 months lies inside
the 95 % percentile band, pooled over several simulated cohorts (numbers in docs/validation.md,
which calls :func:`coverage`).

Usage: .venv/bin/python scripts/outcomes_coverage.py [--n 2000] [--patients 200] [--replicates 60]
       [--seeds 0,1,2,3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oncology.outcomes import simulate  # noqa: E402
from oncology.outcomes.compare import TreatmentComparison, bootstrap_survival  # noqa: E402

TIMES = (12.0, 36.0, 60.0)


def _one_cohort(n: int, patients: int, replicates: int, seed: int) -> dict[str, Any]:
    """Inside-band indicators and widths for one simulated cohort (seed) and its new patients
    (seed + 99): arrays of shape (options, patients, times)."""
    frame = simulate.simulate_cohort(n, seed=seed).frame
    comparison = TreatmentComparison(simulate.feature_specs(), "treatment").fit(frame)
    new = simulate.simulate_cohort(patients, seed=seed + 99).covariates
    times = np.array(TIMES)
    draws = bootstrap_survival(comparison, new, times, replicates, seed=seed)
    lower = np.quantile(draws, 0.025, axis=0)
    upper = np.quantile(draws, 0.975, axis=0)
    truth = np.stack([simulate.true_survival(new, o, times) for o in comparison.options_])
    return {
        "options": list(comparison.options_),
        "inside": (truth >= lower) & (truth <= upper),
        "width": upper - lower,
    }


def summarise(parts: dict[int, dict[str, Any]], n: int, patients: int, replicates: int) -> dict:
    """Pool the cohorts' (patient, option) pairs: coverage and mean width per option and over
    all, and each cohort's overall coverage."""
    options = next(iter(parts.values()))["options"]
    inside = np.concatenate([np.asarray(p["inside"]) for p in parts.values()], axis=1)
    width = np.concatenate([np.asarray(p["width"]) for p in parts.values()], axis=1)
    return {
        "n": n,
        "patients": patients,
        "replicates": replicates,
        "seeds": sorted(parts),
        "times": list(TIMES),
        "per_option": {
            option: {
                "coverage": [float(v) for v in inside[k].mean(axis=0)],
                "mean_width": [float(v) for v in width[k].mean(axis=0)],
            }
            for k, option in enumerate(options)
        },
        "per_seed": {
            str(s): [float(v) for v in np.asarray(p["inside"]).mean(axis=(0, 1))]
            for s, p in sorted(parts.items())
        },
        "coverage": [float(v) for v in inside.mean(axis=(0, 1))],
        "mean_width": [float(v) for v in width.mean(axis=(0, 1))],
    }


def coverage(
    n: int = 2000,
    patients: int = 200,
    replicates: int = 60,
    seeds: tuple[int, ...] = (0, 1, 2, 3),
) -> dict[str, Any]:
    """Share of (new patient, option) pairs whose true S(t) lies inside the 95 % band, at each
    of 12, 36 and 60 months, per option and over all options, with the mean band width, pooled
    over cohorts drawn with ``seeds`` (coverage is a property of repeated cohorts: within one
    cohort every patient's estimate shares the same coefficient errors)."""
    started = time.perf_counter()
    parts = {seed: _one_cohort(n, patients, replicates, seed) for seed in seeds}
    result = summarise(parts, n, patients, replicates)
    result["seconds"] = time.perf_counter() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--replicates", type=int, default=60)
    parser.add_argument("--seeds", default="0,1,2,3", help="cohort seeds, comma-separated")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    result = coverage(args.n, args.patients, args.replicates, seeds)
    for option, row in result["per_option"].items():
        print(
            f"{option:27s} coverage 12/36/60 months {np.round(row['coverage'], 3)} "
            f"mean width at 36: {row['mean_width'][1]:.3f}"
        )
    print(f"all options: coverage {np.round(result['coverage'], 3)} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
