"""Cohort CSV import: store the upload, preview it without writing, apply it as a job.

1. `cohort_upload_store` keeps the file in the default storage (imports/<uuid>.csv) and returns
   a `StoredUpload` (name, sha256, size).
2. `cohort_import_preview` parses it and runs the sync service's bulk upsert inside a
   transaction that is rolled back: the per-row outcome (would create / would update /
   unchanged / error) comes from the very code that will write, and nothing stays behind,
   audit events included.
3. `cohort_import_start` creates the "cohort_import" job (idempotent on file, user and
   institution); its handler (oncology/jobs.py) calls `cohort_import_apply`, which writes all
   valid rows in the job's transaction and returns the per-row summary kept in Job.result.

Results hold row numbers, statuses, patient public ids and messages by column, never values.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from core.jobs import job_enqueue
from core.models import Job, JobStatus, User
from oncology.imports.cohort_csv import (
    MAX_BYTES,
    MAX_ROWS,
    ParsedFile,
    parse_cohort_csv,
    row_errors_by_column,
)
from oncology.models import Institution
from oncology.services.sync import patient_records_bulk_upsert

logger = logging.getLogger(__name__)

JOB_KIND = "cohort_import"
# An upload holds patient data: it is kept only as long as it may still be imported (the
# confirm token lives a day), and deleted once its import has committed.
UPLOAD_RETENTION = timedelta(days=1)
UPLOAD_DIR = "imports"
_UPLOAD_NAME = re.compile(rf"^{UPLOAD_DIR}/[0-9a-f]{{32}}\.csv$")
STATUSES = ("created", "updated", "unchanged", "error")


class ImportRefused(Exception):
    """The upload cannot be imported at all (too big, unreadable, wrong role)."""


@dataclass(frozen=True)
class StoredUpload:
    name: str  # storage name, imports/<uuid hex>.csv
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredUpload:
        name = str(data["name"])
        if not _UPLOAD_NAME.match(name):
            raise ImportRefused("Not an upload of the cohort import.")
        return cls(name=name, sha256=str(data["sha256"]), size=int(data["size"]))


def max_rows() -> int:
    # The bulk upsert refuses more records than API_BULK_MAX_RECORDS in one call.
    return min(getattr(settings, "COHORT_IMPORT_MAX_ROWS", MAX_ROWS), settings.API_BULK_MAX_RECORDS)


def max_bytes() -> int:
    return int(getattr(settings, "COHORT_IMPORT_MAX_BYTES", MAX_BYTES))


def cohort_import_check_actor(*, actor: User) -> Institution:
    """The institution `actor` imports into; PermissionDenied for roles that may not import."""
    if not actor.is_authenticated or not actor.is_active or not actor.can_import_cohorts:
        raise PermissionDenied("This role cannot import cohorts.")
    if actor.institution is None:
        raise PermissionDenied("Imports go into your institution; your account has none.")
    return actor.institution


def cohort_upload_store(*, file: UploadedFile) -> StoredUpload:
    """Keep the uploaded file in the default storage (local disk or S3)."""
    if file.size is not None and file.size > max_bytes():
        raise ImportRefused(f"The file is larger than {max_bytes() // (1024 * 1024)} MB.")
    data = file.read(max_bytes() + 1)
    if len(data) > max_bytes():
        raise ImportRefused(f"The file is larger than {max_bytes() // (1024 * 1024)} MB.")
    cohort_uploads_purge()
    name = default_storage.save(f"{UPLOAD_DIR}/{uuid.uuid4().hex}.csv", ContentFile(data))
    return StoredUpload(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def cohort_upload_discard(*, upload: StoredUpload) -> None:
    default_storage.delete(upload.name)


def cohort_uploads_purge(*, older_than: timedelta = UPLOAD_RETENTION) -> int:
    """Delete uploads older than `older_than` that no queued or running import still needs.
    Runs on every upload, so no scheduler is needed; returns how many files went."""
    try:
        _, files = default_storage.listdir(UPLOAD_DIR)
    except FileNotFoundError:
        return 0
    pending = {
        payload.get("upload", {}).get("name")
        for payload in Job.objects.filter(
            kind=JOB_KIND, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).values_list("payload", flat=True)
    }
    cutoff = timezone.now() - older_than
    purged = 0
    for filename in files:
        name = f"{UPLOAD_DIR}/{filename}"
        if not _UPLOAD_NAME.match(name) or name in pending:
            continue
        try:
            if default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)
                purged += 1
        except OSError:  # deleted meanwhile by a concurrent purge
            logger.info("import upload vanished during purge")
    return purged


def _read(upload: StoredUpload) -> bytes:
    try:
        with default_storage.open(upload.name, "rb") as fh:
            data = fh.read()
    except FileNotFoundError as exc:
        raise ImportRefused("The uploaded file is no longer stored; upload it again.") from exc
    if hashlib.sha256(data).hexdigest() != upload.sha256:
        raise ImportRefused("The stored file changed since it was uploaded; upload it again.")
    return data


def _run(*, actor: User, institution: Institution, upload: StoredUpload) -> dict[str, Any]:
    """Parse and upsert; returns the summary. Writes in the caller's transaction."""
    parsed: ParsedFile = parse_cohort_csv(_read(upload), max_rows=max_rows(), max_bytes=max_bytes())
    if not parsed.ok:
        return _summary(parsed.file_errors, [])
    rows: list[dict[str, Any]] = [
        {"row": r.row, "status": "error", "patient": None, "errors": r.errors} for r in parsed.rows
    ]
    valid = [(i, r) for i, r in enumerate(parsed.rows) if not r.errors]
    try:
        results = patient_records_bulk_upsert(
            actor=actor, institution=institution, records=[r.record for _, r in valid]
        )
    except PermissionDenied as exc:
        raise ImportRefused(str(exc)) from exc
    for result in results:
        position, _ = valid[result.index]
        rows[position]["status"] = result.status
        rows[position]["patient"] = (
            str(result.patient_public_id) if result.patient_public_id else None
        )
        rows[position]["errors"] = row_errors_by_column(result.errors)
    return _summary([], rows)


def _summary(file_errors: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] += 1
    return {"file_errors": file_errors, "counts": counts, "rows": rows}


def cohort_import_preview(
    *, actor: User, institution: Institution, upload: StoredUpload
) -> dict[str, Any]:
    """What importing `upload` would do, row by row, without writing anything.

    Same shape as the job's result: {"file_errors": [...], "counts": {status: n},
    "rows": [{"row", "status", "patient", "errors": {column: [messages]}}]}; "patient" is the
    public id of the existing patient for updated/unchanged rows (a created one's is discarded).
    """
    with transaction.atomic():
        summary = _run(actor=actor, institution=institution, upload=upload)
        # Everything the upsert wrote (patients, sub-records, audit events) goes away here.
        transaction.set_rollback(True)
    for row in summary["rows"]:
        if row["status"] == "created":
            row["patient"] = None
    return summary


def cohort_import_idempotency_key(
    *, actor: User, institution: Institution, upload: StoredUpload
) -> str:
    return f"{JOB_KIND}:{upload.sha256}:{actor.pk}:{institution.pk}"


def cohort_import_start(
    *, actor: User, institution: Institution, upload: StoredUpload
) -> tuple[Job, bool]:
    """The import job of this file by this user into this institution, and whether this call
    created it: the same file confirmed twice (a double click, a resubmitted form) is one job."""
    cohort_import_check_actor(actor=actor)
    if actor.institution_id != institution.pk:
        raise PermissionDenied("Imports go into your own institution.")
    key = cohort_import_idempotency_key(actor=actor, institution=institution, upload=upload)
    existed = Job.objects.filter(idempotency_key=key).exists()
    job = job_enqueue(
        kind=JOB_KIND,
        payload={
            "upload": upload.as_dict(),
            "institution_id": institution.pk,
            "actor_id": actor.pk,
        },
        idempotency_key=key,
        created_by=actor,
    )
    return job, not existed


def cohort_import_apply(*, actor: User, institution: Institution, upload: StoredUpload) -> dict:
    """Write every valid row (the job's handler calls this inside the job's transaction).
    The file is deleted once that transaction commits; a failed attempt keeps it for the retry.
    """
    summary = _run(actor=actor, institution=institution, upload=upload)
    transaction.on_commit(lambda: cohort_upload_discard(upload=upload))
    return summary


def cohort_import_jobs(*, actor: User, limit: int = 20) -> list[Job]:
    """Recent cohort imports into `actor`'s institution."""
    institution = cohort_import_check_actor(actor=actor)
    return list(
        Job.objects.filter(kind=JOB_KIND, payload__institution_id=institution.pk)
        .select_related("created_by")
        .order_by("-id")[:limit]
    )


def cohort_import_job_get(*, actor: User, public_id: uuid.UUID) -> Job | None:
    """One import job of `actor`'s institution, or None."""
    institution = cohort_import_check_actor(actor=actor)
    return (
        Job.objects.filter(
            kind=JOB_KIND, public_id=public_id, payload__institution_id=institution.pk
        )
        .select_related("created_by")
        .first()
    )
