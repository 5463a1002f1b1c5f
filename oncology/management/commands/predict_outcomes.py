"""Predict with an active outcome model for many patients, as the system.

    manage.py predict_outcomes --model NAME [--institution CODE] [--patients-file FILE]
        [--no-bands] [--job]

Every patient of the institution (of every institution without ``--institution``), or only the
patients listed in FILE (one public id or research id a line; ``#`` starts a comment). Inline
by default, printing the counts; ``--job`` queues an ``outcome_predictions_batch`` job instead.
Idempotent: patients whose inputs are unchanged since their last prediction by the same model
version get no new one. Bands come from the model's bootstrap ensemble (``--no-bands``: none).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.jobs import job_enqueue
from oncology.services.outcome_batch import BatchRefused, predictions_batch
from oncology.services.outcome_predictions import ModelUnusable


def read_patient_ids(path: Path) -> list[str]:
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        value = line.split("#", 1)[0].strip()
        if value:
            ids.append(value)
    return ids


class Command(BaseCommand):
    help = "Predict with an active outcome model for many patients (docs/outcomes-registry.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, help="the model's name (active version)")
        parser.add_argument("--institution", default="", help="institution code")
        parser.add_argument("--patients-file", type=Path, help="one patient id a line")
        parser.add_argument("--no-bands", action="store_true", help="skip bootstrap bands")
        parser.add_argument("--job", action="store_true", help="run as a background job")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = None
        if options["patients_file"] is not None:
            try:
                ids = read_patient_ids(options["patients_file"])
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read the patients file: {exc}") from exc
        params = {
            "model": options["model"],
            "institution": options["institution"],
            "patients": ids,
            "bands": not options["no_bands"],
        }
        if options["job"]:
            job = job_enqueue(kind="outcome_predictions_batch", payload=params)
            self.stdout.write(f"queued job {job.public_id}")
            return
        try:
            result = predictions_batch(
                model_name=params["model"],
                institution_code=params["institution"] or None,
                patient_ids=ids,
                bands=params["bands"],
            )
        except (BatchRefused, ModelUnusable) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, indent=2))
