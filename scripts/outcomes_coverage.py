"""Coverage of the treatment comparison's bootstrap bands on the simulated cohort.

Fits the comparison on a simulated cohort, draws bootstrap replicates for new simulated
patients and reports how often each option's TRUE survival at 12, 36 and 60 months lies inside
the 95 % percentile band (numbers quoted in docs/outcomes-models.md).

Usage: .venv/bin/python scripts/outcomes_coverage.py [--n 2000] [--patients 200] [--replicates 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oncology.outcomes import simulate  # noqa: E402
from oncology.outcomes.compare import TreatmentComparison, bootstrap_survival  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--replicates", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    frame = simulate.simulate_cohort(args.n, seed=args.seed).frame
    comparison = TreatmentComparison(simulate.feature_specs(), "treatment").fit(frame)
    patients = simulate.simulate_cohort(args.patients, seed=args.seed + 99).covariates
    times = np.array([12.0, 36.0, 60.0])
    draws = bootstrap_survival(comparison, patients, times, args.replicates, seed=args.seed)
    lower = np.quantile(draws, 0.025, axis=0)
    upper = np.quantile(draws, 0.975, axis=0)
    truth = np.stack([simulate.true_survival(patients, o, times) for o in comparison.options_])
    inside = (truth >= lower) & (truth <= upper)
    for k, option in enumerate(comparison.options_):
        width = float((upper[k] - lower[k])[:, 1].mean())
        print(
            f"{option:27s} coverage 12/36/60 months {np.round(inside[k].mean(axis=0), 3)} "
            f"mean width at 36: {width:.3f}"
        )
    print(
        f"all options: coverage {np.round(inside.mean(axis=(0, 1)), 3)} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
