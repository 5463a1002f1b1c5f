"""`manage.py jobs_status`: job counts by kind and status, and what needs attention.

For operators: how deep the queue is, how old its oldest job, how many jobs run past their
lease (the reconciler will take them back) and how many failed in the last day.
"""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count, Min
from django.utils import timezone

from core.models import Job, JobStatus


class Command(BaseCommand):
    help = "Show background-job counts by kind and status, the queue's age and stuck jobs."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        rows = Job.objects.values("kind", "status").annotate(n=Count("id")).order_by("kind")
        by_kind: dict[str, dict[str, int]] = {}
        for row in rows:
            by_kind.setdefault(row["kind"], {})[row["status"]] = row["n"]
        statuses = [s.value for s in JobStatus]
        self.stdout.write(f"{'kind':<30}" + "".join(f"{s:>11}" for s in statuses))
        for kind, counts in sorted(by_kind.items()):
            self.stdout.write(f"{kind:<30}" + "".join(f"{counts.get(s, 0):>11}" for s in statuses))
        oldest = Job.objects.filter(status=JobStatus.QUEUED).aggregate(t=Min("created_at"))["t"]
        age = f"{int((now - oldest).total_seconds())} s" if oldest else "-"
        expired = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now).count()
        failed = Job.objects.filter(
            status=JobStatus.FAILED, finished_at__gte=now - timedelta(days=1)
        ).count()
        self.stdout.write(
            f"oldest queued: {age}; running past their lease: {expired}; "
            f"failed in the last 24 h: {failed}"
        )
