"""`flush` that can wipe the append-only audit table.

Flush empties every table; it is how transactional tests reset the database. The audit
triggers (and the signed-board-decision ones, oncology/board_guard.py) refuse that on
purpose, so this command lifts them for the flush and puts them back in the same
transaction-less sequence. An ordinary DELETE of audit rows still fails.
"""

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand
from django.db import connections

from core import audit_guard
from oncology import board_guard


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        with connection.cursor() as cursor:
            audit_guard.remove(cursor.execute, connection.vendor)
            board_guard.remove(cursor.execute, connection.vendor)
        try:
            super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                audit_guard.install(cursor.execute, connection.vendor)
                board_guard.install(cursor.execute, connection.vendor)
