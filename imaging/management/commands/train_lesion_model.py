"""Train, validate and register a new draft version of a lesion model (docs/lesion-models.md).

    manage.py train_lesion_model --kind malignancy --name NAME [--source wisconsin]
        [--algorithm logistic|xgboost] [--seed 0] [--splits 5] [--threshold 0.5] [--job]
    manage.py train_lesion_model --kind malignancy --name NAME --csv FILE --label COLUMN
        [--institution CODE] ...
    manage.py train_lesion_model --kind nodule_fp --institution CODE [--name NAME]
        [--epochs 15] [--seed 0] [--job]
    manage.py train_lesion_model --default

``--default`` trains, validates and activates the shipped default (logistic regression on the
Wisconsin data, seed 0) unless an active version exists. ``nodule_fp`` trains on the
institution's confirmed (nodule) and rejected (false positive) screening findings and refuses,
with the counts, when there are fewer than 20 of either. Prints the stored version, its
artifact hash and its validation figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.jobs import job_enqueue
from imaging.models import LesionModel
from imaging.services.lesion_models import (
    LesionModelError,
    default_malignancy_model,
    fp_model_train_site,
    malignancy_model_train,
)
from oncology.models import Institution

MAX_CSV_BYTES = 20 * 1024 * 1024


class Command(BaseCommand):
    help = "Train and register a draft lesion model (docs/lesion-models.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=["malignancy", "nodule_fp"])
        parser.add_argument("--name")
        parser.add_argument("--default", action="store_true", help="the shipped default model")
        parser.add_argument("--source", choices=["wisconsin", "csv"], default=None)
        parser.add_argument("--csv", help="a labelled lesion table (malignancy)")
        parser.add_argument("--label", default="malignant", help="the CSV's label column")
        parser.add_argument("--algorithm", choices=["logistic", "xgboost"], default="logistic")
        parser.add_argument("--institution", help="institution code (nodule_fp; site CSV)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--splits", type=int, default=5)
        parser.add_argument("--threshold", type=float, default=0.5)
        parser.add_argument("--epochs", type=int, default=15)
        parser.add_argument("--job", action="store_true", help="run as a background job")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = self._run(options)
        except LesionModelError as exc:
            raise CommandError(str(exc)) from exc
        if model is None:
            return
        self.stdout.write(
            json.dumps(
                {
                    "name": model.name,
                    "version": model.version,
                    "kind": model.kind,
                    "status": model.status,
                    "algorithm": model.algorithm,
                    "artifact_sha256": model.artifact_sha256,
                    "training_data_sha256": model.training_data_sha256,
                    "metrics": model.metrics.get("mean") or model.metrics.get("validation"),
                },
                indent=2,
            )
        )

    def _institution(self, code: str | None) -> Institution | None:
        if not code:
            return None
        institution = Institution.objects.filter(code=code).first()
        if institution is None:
            raise CommandError(f"No institution with code {code!r}.")
        return institution

    def _run(self, options: dict[str, Any]) -> LesionModel | None:
        if options["default"]:
            return default_malignancy_model()
        kind = options["kind"]
        if kind is None:
            raise CommandError("Give --kind malignancy|nodule_fp, or --default.")
        if not 1 <= options["splits"] <= 20:
            raise CommandError("--splits must be between 1 and 20")
        if not 1 <= options["epochs"] <= 200:
            raise CommandError("--epochs must be between 1 and 200")
        institution = self._institution(options["institution"])
        if kind == "nodule_fp":
            if institution is None:
                raise CommandError("--kind nodule_fp needs --institution CODE.")
            if options["job"]:
                self._enqueue(
                    {
                        "kind": kind,
                        "institution": institution.code,
                        "name": options["name"] or "",
                        "seed": options["seed"],
                        "epochs": options["epochs"],
                    }
                )
                return None
            return fp_model_train_site(
                institution=institution,
                name=options["name"],
                seed=options["seed"],
                epochs=options["epochs"],
            )
        if not options["name"]:
            raise CommandError("--kind malignancy needs --name.")
        source = options["source"] or ("csv" if options["csv"] else "wisconsin")
        csv = None
        if source == "csv":
            if not options["csv"]:
                raise CommandError("--source csv needs --csv FILE.")
            path = Path(options["csv"])
            if not path.is_file():
                raise CommandError(f"No file {path}.")
            if path.stat().st_size > MAX_CSV_BYTES:
                raise CommandError("The CSV is larger than 20 MB.")
            csv = path.read_bytes()
        params: dict[str, Any] = {
            "name": options["name"],
            "source": source,
            "label": options["label"],
            "algorithm": options["algorithm"],
            "seed": options["seed"],
            "splits": options["splits"],
            "threshold": options["threshold"],
        }
        if options["job"]:
            self._enqueue(
                {
                    "kind": kind,
                    **params,
                    "csv": csv.decode("utf-8", "replace") if csv else None,
                    "institution": institution.code if institution else "",
                }
            )
            return None
        return malignancy_model_train(**params, csv=csv, institution=institution)

    def _enqueue(self, payload: dict[str, Any]) -> None:
        job = job_enqueue(kind="lesion_model_train", payload=payload)
        self.stdout.write(f"queued job {job.public_id}")
