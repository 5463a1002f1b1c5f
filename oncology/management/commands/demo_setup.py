"""Prepare the demo: institution, care teams, demo users, API token, synthetic cohort, and
the demo outcome model.

    manage.py demo_setup [--patients 400] [--seed 20250630] [--no-outcome-model]

Idempotent and fast on restart: the cohort is loaded only while the DEMO institution has no
patients; the outcome model (oncology/demo/model.py: a Cox comparison on the simulated cohort
with a small bootstrap ensemble, activated) is trained only while the demo has patients and no
outcome model is active; with it, synthetic past predictions (oncology/demo/predictions.py,
for the model page's closed loop) and the demo tumour-board meeting (oncology/demo/board.py)
are made once. Prints the demo logins on every run (from var/demo-credentials.txt,
which only this command writes; see oncology/demo/setup.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from oncology.demo.board import demo_board_create
from oncology.demo.cohort import DEFAULT_PATIENTS, DEFAULT_SEED
from oncology.demo.model import demo_model_train
from oncology.demo.predictions import demo_past_predictions_create
from oncology.demo.setup import (
    credentials_banner,
    demo_has_patients,
    demo_institution_ensure,
    demo_integration_client_ensure,
    demo_users_ensure,
)


class Command(BaseCommand):
    help = "Create the demo institution, users and synthetic cohort; print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Create the demo users even with DJANGO_ENV=production (not recommended).",
        )
        parser.add_argument(
            "--no-outcome-model",
            action="store_true",
            help=(
                "Do not train the demo outcome model, nor store its synthetic past predictions "
                "or the demo tumour-board meeting."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            # Demo accounts with printed passwords do not belong on a clinical server.
            raise CommandError(
                "demo_setup refuses to run with DJANGO_ENV=production (--allow-production "
                "overrides)."
            )
        with transaction.atomic():
            institution, teams = demo_institution_ensure()
            credentials = demo_users_ensure(institution=institution, teams=teams)
        if demo_has_patients():
            self.stdout.write("Demo cohort already loaded.")
        else:
            self.stdout.write("Loading the synthetic demo cohort...")
            call_command(
                "load_demo_cohort",
                patients=options["patients"],
                seed=options["seed"],
                stdout=self.stdout,
            )
        if not options["no_outcome_model"]:
            # the shipped lesion malignancy model (Wisconsin data, seeded: seconds, no download)
            from imaging.services.lesion_models import default_malignancy_model

            lesion = default_malignancy_model()
            self.stdout.write(f"Lesion malignancy model {lesion.name} v{lesion.version} active.")
        if not options["no_outcome_model"] and demo_has_patients():
            model, trained = demo_model_train()
            if trained:
                self.stdout.write(
                    f"Trained and activated the demo outcome model {model.name} v{model.version} "
                    "(simulated cohort)."
                )
            else:
                self.stdout.write(f"Outcome model {model.name} v{model.version} already active.")
            # Backdated synthetic predictions, so the model page's closed loop has numbers.
            past = demo_past_predictions_create(
                model=model,
                institution=institution,
                actor=demo_integration_client_ensure(institution)[0],
            )
            if past.created:
                self.stdout.write(
                    f"Stored {past.created} synthetic past predictions (dated at diagnosis)."
                )
            # The demo meeting's cases get this model's predictions when they are added.
            demo = demo_board_create()
            if demo.created:
                self.stdout.write(
                    f"Created the demo tumour board with {len(demo.ready)} ready case(s)"
                    + (" and one with missing items." if demo.missing else ".")
                )
        self.stdout.write(credentials_banner(credentials))
