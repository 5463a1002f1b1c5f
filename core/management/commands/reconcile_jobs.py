"""`manage.py reconcile_jobs`: one pass of the job reconciler (beat runs it every minute).

Useful after an outage, or where no beat process runs: re-queues jobs whose worker died
(lease expired) and re-sends queued jobs whose message never reached the broker.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.jobs import jobs_reconcile


class Command(BaseCommand):
    help = "Re-queue jobs with an expired lease and re-send queued jobs the broker never got."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--resend-after",
            type=int,
            default=300,
            help="Re-send a queued job once its message is this many seconds overdue.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = jobs_reconcile(resend_after_seconds=options["resend_after"])
        self.stdout.write(
            f"requeued={counts['requeued']} failed={counts['failed']} resent={counts['resent']}"
        )
