"""Screen chest CTs for lung nodules: every chest CT of an institution not yet screened with the
current settings, or a chosen list (docs/screening.md).

    python manage.py screen_series --institution north [--series <uuid> ...] \
        [--research-id R-0001 ...] [--actor pacs-north]

It creates one screening batch and queues one job per series; the Celery workers screen them
and fill the worklist (/screening/). Without --actor the batch is the system's (audited with no
actor) and covers every patient of the institution; with --actor it covers the patients that
account may see and is audited as that account (an oncologist, data manager or hospital system).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction


class Command(BaseCommand):
    help = "Queue lung-nodule screening of new (or chosen) chest CT series."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--institution", required=True, help="Institution code")
        parser.add_argument(
            "--series", action="append", default=None, metavar="UUID", help="A series (repeat)"
        )
        parser.add_argument(
            "--research-id",
            action="append",
            default=None,
            metavar="ID",
            help="Only this patient's CTs (repeatable)",
        )
        parser.add_argument("--actor", default=None, help="Username the batch is audited as")

    def handle(self, *args: Any, **options: Any) -> None:
        from core.models import User
        from imaging.selectors_screening import screening_patients
        from imaging.services.screening import ScreeningRequestError, screening_batch_create
        from oncology.models import Institution, Patient

        try:
            institution = Institution.objects.get(code=options["institution"])
        except Institution.DoesNotExist:
            raise CommandError(f"No institution with code {options['institution']!r}") from None
        actor = None
        if options["actor"]:
            actor = User.objects.filter(
                username=options["actor"], institution=institution, is_active=True
            ).first()
            if actor is None:
                raise CommandError("No active user of that name at this institution")
            try:
                patients = screening_patients(user=actor)
            except PermissionDenied as exc:
                raise CommandError(str(exc)) from None
        else:
            patients = Patient.objects.filter(institution=institution)
        if options["research_id"]:
            patients = patients.filter(research_id__in=options["research_id"])
        try:
            with transaction.atomic():  # the jobs are sent when this commits
                result = screening_batch_create(
                    actor=actor,
                    institution=institution,
                    patients=patients,
                    series_public_ids=options["series"],
                )
        except ScreeningRequestError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"batch {result.batch.public_id}: {len(result.queued)} series queued, "
            f"{len(result.already)} screened before, {result.not_chest} other CT volumes "
            "left out"
        )
