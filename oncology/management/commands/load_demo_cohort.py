"""Load the synthetic demo cohort into the DEMO institution.

    manage.py load_demo_cohort [--patients 400] [--seed 20250630]

Generates the records (oncology.demo) and upserts them through the sync service as the demo
integration client, so they pass exactly the validation real data passes. Re-running with the
same arguments changes nothing. Any rejected record aborts the load and nothing is written.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oncology.demo.cohort import DEFAULT_PATIENTS, DEFAULT_SEED
from oncology.demo.setup import SYNTHETIC_NOTICE, DemoCohortRejected, demo_cohort_load


class Command(BaseCommand):
    help = "Load the synthetic demo cohort (SYNTHETIC DEMO DATA - not real patients)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        n, seed = options["patients"], options["seed"]
        if not 0 <= n <= 100_000:
            raise CommandError("--patients must be between 0 and 100000")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        started = time.perf_counter()
        try:
            counts = demo_cohort_load(n_patients=n, seed=seed, batch_size=options["batch_size"])
        except DemoCohortRejected as exc:
            lines = [f"{len(exc.errors)} generated demo record(s) failed validation:"]
            for mrn, errors in exc.errors[:10]:
                for path, messages in list(errors.items())[:5]:
                    lines.append(f"  {mrn} {path}: {'; '.join(messages)}")
            raise CommandError("\n".join(lines)) from exc
        elapsed = time.perf_counter() - started
        summary = ", ".join(f"{counts[k]} {k}" for k in ("created", "updated", "unchanged"))
        self.stdout.write(
            f"Demo cohort (seed {seed}): {n} patients - {summary} in {elapsed:.1f} s. "
            f"{SYNTHETIC_NOTICE}."
        )
