"""All treatment options for one patient, without and with 95% bands, against the targets.

    .venv/bin/python benchmarks/predict.py

Trains a TreatmentComparison (Cox interaction model by default) on the seeded simulated cohort
(2,000 patients, six options), then times, over 20 new simulated patients (median and worst):

- ``compare``: every option's curve on [0, 60] months, RMST and survival at 12/24/60 months;
  target < 50 ms;
- ``bands``: 95% bands for every curve, RMST and pairwise RMST difference from a precomputed
  BootstrapEnsemble (100 replicates refitted once at training time); target < 500 ms;
- for reference, ``compare.bootstrap_bands`` refitting on the fly (10 replicates, one patient;
  the 100-replicate time is that times 10, labelled as extrapolated);
- the applicability check and a per-option explanation plus 5 similar patients (no target).

Ratios are target / measured (>= 1.00x meets the target). Also prints training times, the
pickled ensemble size and the load average. Environment: BENCH_MODEL (cox|xgb|neural),
BENCH_PATIENTS (2000), BENCH_REPLICATES (100), BENCH_REFIT_REPLICATES (10; 0 skips).
"""

from __future__ import annotations

import os
import pickle
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oncology.outcomes import simulate  # noqa: E402
from oncology.outcomes.compare import TreatmentComparison, bootstrap_bands  # noqa: E402
from oncology.outcomes.domain import ApplicabilityDomain  # noqa: E402
from oncology.outcomes.ensemble import BootstrapEnsemble  # noqa: E402
from oncology.outcomes.explain import Explainer  # noqa: E402

MODEL = os.environ.get("BENCH_MODEL", "cox")
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "2000"))
REPLICATES = int(os.environ.get("BENCH_REPLICATES", "100"))
REFIT_REPLICATES = int(os.environ.get("BENCH_REFIT_REPLICATES", "10"))
TARGET_COMPARE_S = 0.050
TARGET_BANDS_S = 0.500
NEW = 20


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _row(name: str, times: list[float], target: float | None) -> None:
    med, worst = statistics.median(times), max(times)
    ratio = f"  {target / med:6.2f}x (median)  {target / worst:6.2f}x (worst)" if target else ""
    tgt = f"< {target * 1000:.0f} ms" if target else "-"
    print(f"{name:<34} {med * 1000:9.1f} ms {worst * 1000:9.1f} ms   {tgt:>9}{ratio}")


def main() -> None:
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, model {MODEL}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    cohort = simulate.simulate_cohort(n=PATIENTS, seed=0).frame
    cohort.insert(0, "research_id", [f"SIM{i:05d}" for i in range(len(cohort))])
    specs = simulate.feature_specs()
    new = simulate.simulate_cohort(n=NEW, seed=99).covariates

    start = time.perf_counter()
    comp = TreatmentComparison(specs, "treatment", model_kind=MODEL).fit(cohort)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    ensemble = BootstrapEnsemble(comp, replicates=REPLICATES).fit()
    ens_s = time.perf_counter() - start
    size_mb = len(pickle.dumps(ensemble)) / 1e6
    domain = ApplicabilityDomain(specs).fit(cohort)
    explainer = Explainer(comp, id_col="research_id")
    print(f"training: comparison {fit_s:.1f} s; {REPLICATES}-replicate ensemble {ens_s:.1f} s")
    print(f"pickled ensemble (comparison + replicates): {size_mb:.1f} MB")

    patients = [new.iloc[[i]] for i in range(NEW)]
    for p in patients[:2]:  # warm-up (imports, caches)
        comp.compare(p, horizon=60.0, at=[12.0, 24.0, 60.0])
        ensemble.bands(p, horizon=60.0)
    compare_t = [
        _timed(lambda p=p: comp.compare(p, horizon=60.0, at=[12.0, 24.0, 60.0])) for p in patients
    ]
    bands_t = [
        _timed(
            lambda p=p: (
                comp.compare(p, horizon=60.0, at=[12.0, 24.0, 60.0]),
                ensemble.bands(p, horizon=60.0),
            )
        )
        for p in patients
    ]
    domain_t = [_timed(lambda p=p: domain.check(p)) for p in patients]
    explain_t = [
        _timed(lambda p=p: (explainer.explain(p, "surgery"), explainer.similar_patients(p)))
        for p in patients
    ]
    print(f"\n{'measure (20 patients)':<34} {'median':>12} {'worst':>12}   {'target':>9}")
    _row("all options, no bands", compare_t, TARGET_COMPARE_S)
    _row(f"all options + bands ({REPLICATES} stored)", bands_t, TARGET_BANDS_S)
    _row("applicability check", domain_t, None)
    _row("explanation + 5 similar patients", explain_t, None)
    if REFIT_REPLICATES:
        refit_s = _timed(
            lambda: bootstrap_bands(comp, patients[0], horizon=60.0, replicates=REFIT_REPLICATES)
        )
        per = refit_s / REFIT_REPLICATES
        print(
            f"bootstrap_bands refitting: {REFIT_REPLICATES} replicates {refit_s:.1f} s "
            f"({per:.2f} s each; 100 replicates ~{per * 100:.0f} s, extrapolated: "
            f"{TARGET_BANDS_S / (per * 100):.4f}x)"
        )
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
