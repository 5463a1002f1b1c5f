"""Bulk load of DICOM from disk: files, folders (recursively) and zip archives.

    python manage.py import_dicom --institution CODE PATH [PATH ...]

One line per file (result, name, reason) and a summary; the exit status is 1 when any file was
rejected. The lines name files, never patients: PatientID values are not printed.
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
    IngestResult,
    dicom_ingest,
    ingest_audit,
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
        results: list[IngestResult] = []
        try:
            for path in _files(options["paths"]):
                for result in self._ingest(institution, path):
                    results.append(result)
                    counts[result.status] += 1
                    line = f"{result.status:<9} {result.filename}"
                    if result.reason and result.status != "stored":
                        line += f"  ({result.reason})"
                    self.stdout.write(self.style.ERROR(line) if result.status == REJECTED else line)
        finally:
            # One event per patient touched by the whole run, not one per file.
            ingest_audit(actor=None, institution=institution, results=results, channel="command")
        summary = ", ".join(
            f"{counts[s]} {s}" for s in ("stored", "duplicate", "unmatched", "rejected")
        )
        self.stdout.write(f"Summary: {summary}.")
        if counts[REJECTED]:
            raise SystemExit(1)

    def _ingest(self, institution: Institution, path: Path) -> Iterator[IngestResult]:
        name = str(path)
        size = path.stat().st_size
        if size > max_upload_bytes():
            yield IngestResult(
                filename=name,
                status=REJECTED,
                reason=f"The file is larger than the {max_upload_bytes() // (1024 * 1024)} MB "
                "accepted.",
                failure_code=FAILURE_OUT_OF_RESOURCES,
            )
            return
        with path.open("rb") as f:
            if is_zip(name, f.read(4)):
                f.seek(0)
                for shown, entry in zip_entries(name, f):
                    yield (
                        entry
                        if isinstance(entry, IngestResult)
                        else self._one(institution, shown, entry)
                    )
                return
            f.seek(0)
            data = f.read()
        yield self._one(institution, name, data)

    def _one(self, institution: Institution, name: str, data: bytes) -> IngestResult:
        return dicom_ingest(
            actor=None,
            institution=institution,
            data=data,
            filename=name,
            channel="command",
            audit=False,
        )
