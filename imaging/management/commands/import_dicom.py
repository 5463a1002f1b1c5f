"""Bulk load of DICOM from disk: files, folders (recursively) and zip archives.

    python manage.py import_dicom --institution CODE PATH [PATH ...]

One line per file (result, name, reason) and a summary; the exit status is 1 when any file was
rejected. The lines name files, never patients: PatientID values are not printed. Files are
indexed in batches (imaging.services.ingest.IngestBatch), each committed with its audit events
(one per patient per batch); image series large enough get their viewer volume prepared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from imaging.services.ingest import (
    FAILURE_OUT_OF_RESOURCES,
    REJECTED,
    IngestBatch,
    IngestResult,
)
from imaging.services.zipfiles import is_zip, max_upload_bytes, zip_entries
from oncology.models import Institution


def _files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise CommandError(f"No such file or folder: {raw}")


class Command(BaseCommand):
    help = "Ingest DICOM files, folders (recursively) and zip archives for an institution."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--institution", required=True, help="Institution code")
        parser.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            institution = Institution.objects.get(code=options["institution"])
        except Institution.DoesNotExist as exc:
            raise CommandError(f"No institution with code {options['institution']!r}.") from exc
        counts: Counter[str] = Counter()
        batch = IngestBatch(actor=None, institution=institution, channel="command")
        shown = 0

        def write_lines() -> None:
            # Lines come out as their batch is indexed (every BATCH_INSTANCES files).
            nonlocal shown
            results = batch.ready
            for result in results[shown:]:
                counts[result.status] += 1
                line = f"{result.status:<9} {result.filename}"
                if result.reason and result.status != "stored":
                    line += f"  ({result.reason})"
                self.stdout.write(self.style.ERROR(line) if result.status == REJECTED else line)
            shown = len(results)

        try:
            for path in _files(options["paths"]):
                self._ingest(batch, path)
                write_lines()
            batch.finish()
            write_lines()
        except BaseException:
            # Committed batches keep their rows and get their audit events.
            batch.abort()
            write_lines()
            raise
        summary = ", ".join(
            f"{counts[s]} {s}" for s in ("stored", "duplicate", "unmatched", "rejected")
        )
        self.stdout.write(f"Summary: {summary}.")
        if counts[REJECTED]:
            raise SystemExit(1)

    def _ingest(self, batch: IngestBatch, path: Path) -> None:
        name = str(path)
        size = path.stat().st_size
        if size > max_upload_bytes():
            batch.add_result(
                IngestResult(
                    filename=name,
                    status=REJECTED,
                    reason=f"The file is larger than the {max_upload_bytes() // (1024 * 1024)} "
                    "MB accepted.",
                    failure_code=FAILURE_OUT_OF_RESOURCES,
                )
            )
            return
        with path.open("rb") as f:
            if is_zip(name, f.read(4)):
                f.seek(0)
                for shown, entry in zip_entries(name, f):
                    if isinstance(entry, IngestResult):
                        batch.add_result(entry)
                    else:
                        batch.add(shown, entry)
                return
            f.seek(0)
            data = f.read()
        batch.add(name, data)
