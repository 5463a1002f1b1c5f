"""Train, evaluate and register a new draft version of an outcome model.

    manage.py train_outcome_model --source simulated|site|<public cohort> --kind cox|xgb|neural
        --name NAME [--seed 0] [--patients 2000] [--splits 3] [--band-replicates 50] [--job]

Inline by default; ``--job`` enqueues an ``outcome_model_train`` job instead (a worker runs
it). ``--source site`` trains on this database's own patients
(oncology/services/outcome_site.py: first-line option, overall survival from the diagnosis,
research ids only in the snapshot); too few eligible patients or deaths is an error that says
how many there are. The simulated cohort and the site also train a per-option response
classifier. ``--band-replicates N`` stores a bootstrap ensemble of N refits (10-500; 0: none)
in the artifact, from which predictions compute bands inline. Prints the stored version, its
artifact hash and the mean validation metrics.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.jobs import job_enqueue
from oncology.services.outcome_models import OutcomeModelError, outcome_model_train


class Command(BaseCommand):
    help = "Train and register a draft outcome model (docs/outcomes-registry.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source", required=True, help="simulated, site, or a public cohort name"
        )
        parser.add_argument("--kind", required=True, choices=["cox", "xgb", "neural"])
        parser.add_argument("--name", required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--patients", type=int, default=2000, help="simulated cohort size (simulated only)"
        )
        parser.add_argument("--splits", type=int, default=3, help="validation splits (80/20)")
        parser.add_argument(
            "--band-replicates",
            type=int,
            default=50,
            help="bootstrap refits stored for inline bands (10-500; 0: none, bands by job)",
        )
        parser.add_argument("--job", action="store_true", help="run as a background job")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 50 <= options["patients"] <= 200_000:
            raise CommandError("--patients must be between 50 and 200000")
        if not 1 <= options["splits"] <= 20:
            raise CommandError("--splits must be between 1 and 20")
        params = {
            key: options[key]
            for key in ("source", "kind", "name", "seed", "patients", "splits", "band_replicates")
        }
        if options["band_replicates"] and not 10 <= options["band_replicates"] <= 500:
            raise CommandError("--band-replicates must be 0 or between 10 and 500")
        if options["job"]:
            job = job_enqueue(kind="outcome_model_train", payload=params)
            self.stdout.write(f"queued job {job.public_id}")
            return
        try:
            model = outcome_model_train(**params)
        except OutcomeModelError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            json.dumps(
                {
                    "name": model.name,
                    "version": model.version,
                    "status": model.status,
                    "options": model.options,
                    "artifact_sha256": model.artifact_sha256,
                    "band_replicates": model.training_params["band_replicates"],
                    "training_data_sha256": model.training_data_sha256,
                    "metrics": model.metrics["mean"],
                    "horizon": model.metrics["horizon"],
                    "time_unit": model.time_unit,
                },
                indent=2,
            )
        )
