"""Uploads of many files at once: plain DICOM files and zip archives of them.

An archive is checked from its central directory before a byte is inflated (entry count, the
declared inflated total, names), then each entry is read with a hard cap, because a central
directory can lie about sizes. Nothing is written to disk while expanding: entries go straight
from memory to the ingest service, so a zip-slip name could do no harm, but it is refused all
the same so the sender learns the archive is malformed. Nested archives are not expanded.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings

from core.models import User
from imaging.services.ingest import (
    FAILURE_CANNOT_UNDERSTAND,
    FAILURE_OUT_OF_RESOURCES,
    REJECTED,
    IngestBatch,
    IngestResult,
    max_instance_bytes,
)
from oncology.models import Institution, Patient

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local header, or an empty archive's end record


def max_upload_bytes() -> int:
    """The largest file (or archive) accepted in one upload."""
    return int(settings.IMAGING_MAX_UPLOAD_BYTES)


def max_zip_entries() -> int:
    return int(settings.IMAGING_MAX_ZIP_ENTRIES)


def max_zip_inflated_bytes() -> int:
    return int(settings.IMAGING_MAX_ZIP_INFLATED_BYTES)


@dataclass(frozen=True)
class UploadedDicom:
    """One uploaded part: its name as sent and a binary file object (Django's UploadedFile
    is one) or the bytes themselves."""

    name: str
    file: IO[bytes] | bytes
    size: int | None = None


def _reject(filename: str, reason: str, code: int = FAILURE_CANNOT_UNDERSTAND) -> IngestResult:
    return IngestResult(filename=filename, status=REJECTED, reason=reason, failure_code=code)


def _size_of(part: UploadedDicom) -> int:
    if isinstance(part.file, bytes):
        return len(part.file)
    if part.size is not None:
        return part.size
    f = part.file
    here = f.tell()
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(here)
    return size


def _read_all(part: UploadedDicom) -> bytes:
    if isinstance(part.file, bytes):
        return part.file
    part.file.seek(0)
    return part.file.read()


def _head(part: UploadedDicom) -> bytes:
    if isinstance(part.file, bytes):
        return part.file[:4]
    part.file.seek(0)
    head = part.file.read(4)
    part.file.seek(0)
    return head


def is_zip(name: str, head: bytes) -> bool:
    return head[:4] in _ZIP_MAGIC or name.lower().endswith(".zip")


def is_single_file(parts: list[UploadedDicom]) -> bool:
    """One uploaded part that is not a zip archive: one instance at most."""
    return len(parts) == 1 and not is_zip(parts[0].name or "upload", _head(parts[0]))


def _unsafe_name(name: str) -> str:
    """Why an entry name is refused (zip slip), or ""."""
    if "\x00" in name:
        return "a NUL character in its name"
    normal = name.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(normal).parts:
        return "a '..' path component"
    return ""


def zip_entries(
    archive_name: str, fileobj: IO[bytes]
) -> Iterable[tuple[str, bytes | IngestResult]]:
    """The entries of an archive as (display name, bytes), or a rejected result for an entry
    (or, as the only item, for the whole archive) that may not be expanded."""
    try:
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield archive_name, _reject(archive_name, f"Not a readable zip archive ({exc}).")
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > max_zip_entries():
            yield (
                archive_name,
                _reject(
                    archive_name,
                    f"The archive lists {len(infos)} files, more than the {max_zip_entries()} "
                    "accepted; nothing was expanded.",
                    FAILURE_OUT_OF_RESOURCES,
                ),
            )
            return
        declared = sum(i.file_size for i in infos)
        if declared > max_zip_inflated_bytes():
            yield (
                archive_name,
                _reject(
                    archive_name,
                    f"The archive inflates to {declared} bytes, more than the "
                    f"{max_zip_inflated_bytes()} accepted; nothing was expanded.",
                    FAILURE_OUT_OF_RESOURCES,
                ),
            )
            return
        per_entry = max_instance_bytes()
        inflated = 0
        for info in infos:
            shown = f"{archive_name}/{info.filename}"
            unsafe = _unsafe_name(info.filename)
            if unsafe:
                yield shown, _reject(shown, f"Refused: the entry name has {unsafe} (zip slip).")
                continue
            if info.flag_bits & 0x1:
                yield shown, _reject(shown, "Refused: the entry is encrypted.")
                continue
            if info.file_size > per_entry:
                yield (
                    shown,
                    _reject(
                        shown,
                        "The entry is larger than one DICOM file may be.",
                        FAILURE_OUT_OF_RESOURCES,
                    ),
                )
                continue
            try:
                with zf.open(info) as member:
                    # The central directory's size is a claim; read at most one byte more than
                    # claimed (and than the caps) so a lying entry is caught without inflating it.
                    limit = min(info.file_size, per_entry, max_zip_inflated_bytes() - inflated)
                    data = member.read(limit + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                yield shown, _reject(shown, f"The entry cannot be inflated ({exc}).")
                continue
            if len(data) > limit:
                yield (
                    shown,
                    _reject(
                        shown,
                        "The entry inflates to more than its declared size or the caps (zip bomb); "
                        "the rest of the archive was not expanded.",
                        FAILURE_OUT_OF_RESOURCES,
                    ),
                )
                return
            inflated += len(data)
            if is_zip(info.filename, data[:4]):
                yield shown, _reject(shown, "Nested archives are not expanded.")
                continue
            yield shown, data


def dicom_ingest_upload(
    *,
    actor: User | None,
    institution: Institution,
    files: Iterable[UploadedDicom],
    channel: str = "upload",
    patient: Patient | None = None,
) -> list[IngestResult]:
    """Ingest uploaded files and zip archives; one result per file (per archive entry for a
    zip), and one audit event per patient touched for the whole upload (ingest_audit).
    Instances are indexed in batches (IngestBatch); inside a transaction (a web request) they
    commit or roll back together, files included."""
    parts = list(files)
    # One plain file (an upload of one file a request): its audit event can be written by the
    # statement that indexes it (IngestBatch's audit_in_statement), and outside a transaction
    # (the API's one-file path) every index step carries its own event (audit_every=1).
    single = is_single_file(parts)
    batch = IngestBatch(
        actor=actor,
        institution=institution,
        channel=channel,
        patient=patient,
        audit_in_statement=single,
        audit_every=1 if single else None,
    )
    try:
        for part in parts:
            name = part.name or "upload"
            if _size_of(part) > max_upload_bytes():
                batch.add_result(
                    _reject(
                        name,
                        f"The upload is larger than the {max_upload_bytes() // (1024 * 1024)} MB "
                        "accepted.",
                        FAILURE_OUT_OF_RESOURCES,
                    )
                )
                continue
            if is_zip(name, _head(part)):
                fileobj = io.BytesIO(part.file) if isinstance(part.file, bytes) else part.file
                for shown, entry in zip_entries(name, fileobj):
                    if isinstance(entry, IngestResult):
                        batch.add_result(entry)
                    else:
                        batch.add(shown, entry)
                continue
            batch.add(name, _read_all(part))
        return batch.finish()
    except BaseException:
        batch.abort()
        raise
