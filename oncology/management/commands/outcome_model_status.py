"""Change an outcome model version's status.

    manage.py outcome_model_status NAME VERSION validated|active|retired

Allowed: draft -> validated | retired, validated -> active | retired, active -> retired.
Activating a version retires the name's previously active version.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oncology.services.outcome_models import (
    OutcomeModelError,
    outcome_model_get,
    outcome_model_set_status,
)


class Command(BaseCommand):
    help = "Change an outcome model version's status (docs/outcomes-registry.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("version", type=int)
        parser.add_argument("status", choices=["validated", "active", "retired"])

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = outcome_model_get(name=options["name"], version=options["version"])
            model = outcome_model_set_status(model=model, status=options["status"])
        except OutcomeModelError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{model.name} v{model.version} is now {model.status}")
