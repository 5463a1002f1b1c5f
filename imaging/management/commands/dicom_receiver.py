"""Run the DICOM C-STORE receiver (Storage SCP) for one institution until SIGTERM or Ctrl-C.

    python manage.py dicom_receiver --institution north --ae-title ONCOBOARD --port 11112 \
        [--bind 127.0.0.1] [--allow-calling-aet PACS1 --allow-calling-aet CT01] \
        [--actor pacs-north]

Every instance pushed to it goes through the same ingest service as the upload and STOW-RS
doors. It binds to 127.0.0.1 unless told otherwise: DIMSE has no authentication of its own, so
expose it on a hospital network deliberately (``--bind 0.0.0.0``), ideally with a calling AE
title allow-list and a firewall rule for the PACS' address.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from imaging.cstore import CStoreCounters, cstore_server_start, cstore_server_stop


class Command(BaseCommand):
    help = "Receive DICOM instances by C-STORE (pynetdicom Storage SCP) and ingest them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--institution", required=True, help="Institution code")
        parser.add_argument("--ae-title", default="ONCOBOARD", help="Called AE title (<= 16)")
        parser.add_argument("--port", type=int, default=11112)
        parser.add_argument("--bind", default="127.0.0.1", help="Address to listen on")
        parser.add_argument(
            "--allow-calling-aet",
            action="append",
            default=[],
            metavar="AET",
            help="Accept associations only from this calling AE title (repeatable)",
        )
        parser.add_argument(
            "--actor",
            default=None,
            help="Username of the integration user the ingests are audited as",
        )
        parser.add_argument(
            "--grace", type=float, default=30.0, help="Seconds to let associations finish"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from core.models import User
        from oncology.models import Institution

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
                raise CommandError("--actor must name an active user of that institution")
        ae_title = options["ae_title"].strip()
        if not ae_title or len(ae_title) > 16:
            raise CommandError("--ae-title must be 1 to 16 characters")

        counters = CStoreCounters()
        try:
            server = cstore_server_start(
                institution=institution,
                host=options["bind"],
                port=options["port"],
                ae_title=ae_title,
                calling_ae_titles=options["allow_calling_aet"],
                actor=actor,
                counters=counters,
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['bind']}:{options['port']}: {exc}"
            ) from exc
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        host, port = server.server_address[:2]
        self.stdout.write(
            f"C-STORE SCP {ae_title} listening on {host}:{port} for {institution.code}"
            + (
                f" (calling AE titles: {', '.join(options['allow_calling_aet'])})"
                if options["allow_calling_aet"]
                else ""
            )
        )
        self.stdout.flush()
        try:
            while not stop.wait(1.0):
                pass
        finally:
            aborted = cstore_server_stop(server, grace_s=options["grace"])
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counters.counts.items())) or "nothing"
        self.stdout.write(f"C-STORE SCP stopped ({summary}; {aborted} association(s) aborted)")
