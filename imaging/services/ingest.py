"""DICOM ingest: one service behind every door (upload page, API upload, STOW-RS, C-STORE,
`import_dicom`).

An instance is read without `force`, validated (required tags, transfer syntax, decodable pixel
data), de-duplicated by SOP Instance UID, stored through default_storage with its SHA-256 and
indexed as study -> series -> instance under the patient of its institution whose MRN equals
the PatientID tag; a study that matches no patient is held in the unmatched queue.

Bad input never raises: it is a "rejected" result whose reason names the tag or the problem.
A failure after the file is saved deletes it, so nothing is ever half-stored. Reasons never
carry tag *values* (the PatientID is PHI); they name tags.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
import uuid
import warnings
from dataclasses import dataclass, replace
from io import BytesIO
from typing import Any

import pydicom
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from core.audit import audit_record
from core.models import AuditAction, User
from imaging.models import (
    HeldInstance,
    Instance,
    Series,
    Study,
    UnmatchedStatus,
    UnmatchedStudy,
)
from oncology.models import Institution, Patient

logger = logging.getLogger(__name__)

AUDIT_OBJECT = "dicom_study"
AUDIT_UNMATCHED = "dicom_unmatched_study"
STORAGE_DIR = "imaging"

# Result statuses
STORED = "stored"
DUPLICATE = "duplicate"
UNMATCHED = "unmatched"
REJECTED = "rejected"

# DICOM PS3.4 C-STORE / PS3.18 STOW-RS failure reasons
FAILURE_OUT_OF_RESOURCES = 0xA700
FAILURE_SOP_CLASS_MISMATCH = 0xA900
FAILURE_CANNOT_UNDERSTAND = 0xC000

REQUIRED_TAGS = (
    ("SOPClassUID", "(0008,0016)"),
    ("SOPInstanceUID", "(0008,0018)"),
    ("StudyInstanceUID", "(0020,000D)"),
    ("SeriesInstanceUID", "(0020,000E)"),
    ("Modality", "(0008,0060)"),
    ("PatientID", "(0010,0020)"),
)
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PARSE_LOCK = threading.Lock()
_ATTEMPTS = 3


def max_instance_bytes() -> int:
    """The largest single DICOM file accepted (a 2,000-frame cine is ~1 GB; a CT slice 0.5 MB)."""
    return int(settings.IMAGING_MAX_INSTANCE_BYTES)


@dataclass(frozen=True)
class IngestResult:
    filename: str
    status: str  # "stored" | "duplicate" | "unmatched" | "rejected"
    reason: str = ""
    sop_instance_uid: str = ""
    study_public_id: uuid.UUID | None = None
    sop_class_uid: str = ""
    study_instance_uid: str = ""
    # A DICOM failure reason for STOW-RS / C-STORE when rejected (0xA700, 0xA900, 0xC000).
    failure_code: int = 0
    # The patient the instance is indexed under (None when unmatched or rejected).
    patient_id: int | None = None
    # The default_storage name of the file this call saved (stored or unmatched), else "".
    storage_name: str = ""

    @property
    def ok(self) -> bool:
        return self.status != REJECTED


def _rejected(
    filename: str, reason: str, code: int = FAILURE_CANNOT_UNDERSTAND, ds: Dataset | None = None
) -> IngestResult:
    return IngestResult(
        filename=filename,
        status=REJECTED,
        reason=reason,
        sop_instance_uid=_str_tag(ds, "SOPInstanceUID") if ds is not None else "",
        sop_class_uid=_str_tag(ds, "SOPClassUID") if ds is not None else "",
        failure_code=code,
    )


def _str_tag(ds: Dataset | None, keyword: str) -> str:
    try:
        value = ds.get(keyword) if ds is not None else None
    except Exception:  # noqa: BLE001  (a broken element reads as absent)
        return ""
    if value is None:
        return ""
    return str(value).strip()[:64] if not isinstance(value, list | tuple) else ""


def _int_tag(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except Exception:  # noqa: BLE001
        return None


def _date_tag(ds: Dataset, keyword: str) -> dt.date | None:
    raw = _str_tag(ds, keyword)
    try:
        return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])) if len(raw) >= 8 else None
    except ValueError:  # not a DICOM DA (YYYYMMDD)
        return None


@dataclass(frozen=True)
class _Parsed:
    ds: Dataset
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    modality: str
    patient_id: str
    transfer_syntax: str


def _read(data: bytes, filename: str) -> _Parsed | IngestResult:
    """Parse and validate; an IngestResult when rejected."""
    if len(data) > max_instance_bytes():
        return _rejected(
            filename,
            f"The file is larger than the {max_instance_bytes() // (1024 * 1024)} MB accepted.",
            FAILURE_OUT_OF_RESOURCES,
        )
    if not data:
        return _rejected(filename, "The file is empty.")
    # pydicom warns about many recoverable header problems; they are collected, not raised, so
    # a file gets the same result in tests (warnings are errors there) and in production.
    # catch_warnings swaps process-wide state, so concurrent ingests (the C-STORE receiver's
    # threads) take turns here; parsing and decoding hold the GIL anyway.
    with _PARSE_LOCK, warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(BytesIO(data), force=False)
        except InvalidDicomError:
            return _rejected(
                filename, "Not a DICOM Part 10 file (no 'DICM' prefix after the preamble)."
            )
        except Exception as exc:  # noqa: BLE001  (every parse failure is the file's fault)
            return _rejected(filename, f"Broken DICOM header: {_why(exc)}")
        return _validate(ds, filename)


def _why(exc: BaseException) -> str:
    """An exception as a reason: its class and message, without values that could be PHI
    beyond what pydicom puts in (tag numbers, lengths)."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _validate(ds: Dataset, filename: str) -> _Parsed | IngestResult:
    meta = getattr(ds, "file_meta", None)
    ts = _str_tag(meta, "TransferSyntaxUID") if meta is not None else ""
    if not ts:
        return _rejected(filename, "The file meta has no (0002,0010) TransferSyntaxUID.", ds=ds)
    values: dict[str, str] = {}
    for keyword, tag in REQUIRED_TAGS:
        try:
            element = ds[keyword] if keyword in ds else None
            raw = element.value if element is not None else None
        except Exception as exc:  # noqa: BLE001
            return _rejected(filename, f"{tag} {keyword} cannot be read: {_why(exc)}", ds=ds)
        value = str(raw).strip() if raw is not None and not isinstance(raw, bytes) else ""
        if not value:
            return _rejected(filename, f"Required tag {tag} {keyword} is missing or empty.", ds=ds)
        if keyword.endswith("UID") and (len(value) > 64 or not _UID.match(value)):
            return _rejected(filename, f"{tag} {keyword} is not a valid UID.", ds=ds)
        if len(value) > 64:
            return _rejected(filename, f"{tag} {keyword} is longer than 64 characters.", ds=ds)
        values[keyword] = value
    media_class = _str_tag(meta, "MediaStorageSOPClassUID")
    if media_class and media_class != values["SOPClassUID"]:
        return _rejected(
            filename,
            "(0002,0002) MediaStorageSOPClassUID differs from (0008,0016) SOPClassUID.",
            FAILURE_SOP_CLASS_MISMATCH,
            ds,
        )
    media_instance = _str_tag(meta, "MediaStorageSOPInstanceUID")
    if media_instance and media_instance != values["SOPInstanceUID"]:
        return _rejected(
            filename,
            "(0002,0003) MediaStorageSOPInstanceUID differs from (0008,0018) SOPInstanceUID.",
            FAILURE_SOP_CLASS_MISMATCH,
            ds,
        )
    tsuid = UID(ts)
    if not tsuid.is_transfer_syntax:
        return _rejected(filename, "(0002,0010) TransferSyntaxUID is not a known syntax.", ds=ds)
    has_pixels = "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    if not has_pixels and _is_image_class(values["SOPClassUID"]):
        # pydicom stops quietly at the end of a file cut between elements, so a truncated image
        # shows up only as an image without its (7FE0,0010) Pixel Data.
        return _rejected(
            filename,
            "An image object without (7FE0,0010) PixelData: the file is truncated or incomplete.",
            ds=ds,
        )
    if has_pixels:
        problem = _pixel_problem(ds)
        if problem:
            return _rejected(filename, problem, ds=ds)
    return _Parsed(
        ds=ds,
        sop_class_uid=values["SOPClassUID"],
        sop_instance_uid=values["SOPInstanceUID"],
        study_uid=values["StudyInstanceUID"],
        series_uid=values["SeriesInstanceUID"],
        modality=values["Modality"][:16],
        patient_id=values["PatientID"],
        transfer_syntax=ts,
    )


def _is_image_class(sop_class_uid: str) -> bool:
    name = UID(sop_class_uid).name
    return "Image Storage" in name or name == "Segmentation Storage"


def _pixel_problem(ds: Dataset) -> str:
    """Why the pixel data does not decode (unsupported syntax, truncated, inconsistent
    attributes), or "" when it does."""
    try:
        ds.pixel_array  # noqa: B018  (decoding is the check)
    except NotImplementedError as exc:
        return f"Pixel data in this transfer syntax cannot be decoded here: {_why(exc)}"
    except RuntimeError as exc:
        if "plugin" in str(exc).lower() or "decod" in str(exc).lower():
            return f"Pixel data in this transfer syntax cannot be decoded here: {_why(exc)}"
        return f"Pixel data does not decode: {_why(exc)}"
    except MemoryError:
        return "Pixel data is too large to decode."
    except Exception as exc:  # noqa: BLE001
        return f"Pixel data does not decode: {_why(exc)}"
    return ""


def _instance_fields(p: _Parsed, storage_name: str, sha256: str, size: int) -> dict[str, Any]:
    ds = p.ds
    position = None
    try:
        ipp = ds.get("ImagePositionPatient")
        if ipp is not None and len(ipp) == 3:
            position = [float(v) for v in ipp]
    except Exception:  # noqa: BLE001
        position = None
    return {
        "sop_instance_uid": p.sop_instance_uid,
        "sop_class_uid": p.sop_class_uid,
        "instance_number": _int_tag(ds, "InstanceNumber"),
        "storage_name": storage_name,
        "sha256": sha256,
        "size_bytes": size,
        "transfer_syntax": p.transfer_syntax[:64],
        "rows": _int_tag(ds, "Rows"),
        "columns": _int_tag(ds, "Columns"),
        "frames": _int_tag(ds, "NumberOfFrames") or 1,
        "image_position": position,
    }


def _series_fields(ds: Dataset) -> dict[str, Any]:
    uid = _str_tag(ds, "FrameOfReferenceUID")
    return {
        "description": _str_tag(ds, "SeriesDescription")[:200],
        "series_number": _int_tag(ds, "SeriesNumber"),
        "frame_of_reference_uid": uid if _UID.match(uid or "-") else "",
    }


def _is_duplicate(sop_instance_uid: str) -> bool:
    return (
        Instance.objects.filter(sop_instance_uid=sop_instance_uid).exists()
        or HeldInstance.objects.filter(sop_instance_uid=sop_instance_uid).exists()
    )


def _save_file(institution: Institution, data: bytes) -> str:
    name = f"{STORAGE_DIR}/{institution.pk}/{uuid.uuid4().hex}.dcm"
    return default_storage.save(name, ContentFile(data))


def dicom_ingest(
    *,
    actor: User | None,
    institution: Institution,
    data: bytes,
    filename: str,
    channel: str,
    patient: Patient | None = None,
    study_instance_uid: str | None = None,
    audit: bool = True,
) -> IngestResult:
    """Ingest one DICOM file. Never raises for bad input: the result says what happened.

    `patient`: the upload is for this patient (its page or API route); a file whose PatientID is
    not this patient's MRN is rejected rather than filed elsewhere. `study_instance_uid`: the
    STOW-RS study the request names; an instance of another study is rejected. `audit=False`
    lets a caller that ingests many files record one event per patient itself
    (`ingest_audit`); otherwise the one event is written in the instance's transaction.
    `channel` ("upload", "api", "stow", "cstore", "command") goes into the audit detail.
    """
    parsed = _read(data, filename)
    if isinstance(parsed, IngestResult):
        return parsed
    p = parsed
    base = IngestResult(
        filename=filename,
        status=REJECTED,
        sop_instance_uid=p.sop_instance_uid,
        sop_class_uid=p.sop_class_uid,
        study_instance_uid=p.study_uid,
        failure_code=FAILURE_CANNOT_UNDERSTAND,
    )
    if study_instance_uid is not None and p.study_uid != study_instance_uid:
        return replace(
            base,
            reason="(0020,000D) StudyInstanceUID is not the study named in the request.",
            failure_code=FAILURE_SOP_CLASS_MISMATCH,
        )
    if patient is not None and (
        patient.institution_id != institution.pk or patient.mrn != p.patient_id
    ):
        return replace(
            base,
            reason="(0010,0020) PatientID is not this patient's MRN.",
            failure_code=FAILURE_SOP_CLASS_MISMATCH,
        )
    if _is_duplicate(p.sop_instance_uid):
        return _duplicate(p, base)
    target = patient or Patient.objects.filter(institution=institution, mrn=p.patient_id).first()
    sha256 = hashlib.sha256(data).hexdigest()
    storage_name = _save_file(institution, data)
    try:
        # Two senders of one new study (parallel C-STORE associations) may both create its
        # study or series row; the loser's unique violation rolls back its savepoint and it
        # tries again, finding the winner's rows.
        for attempt in range(_ATTEMPTS):
            try:
                with transaction.atomic():
                    if target is not None:
                        result = _index(
                            base, institution, target, p, storage_name, sha256, len(data)
                        )
                    else:
                        result = _hold(base, institution, p, storage_name, sha256, len(data))
                    if audit:
                        ingest_audit(
                            actor=actor, institution=institution, results=[result], channel=channel
                        )
                return result
            except IntegrityError:
                if _is_duplicate(p.sop_instance_uid):  # a concurrent sender stored it first
                    default_storage.delete(storage_name)
                    return _duplicate(p, base)
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
    except _Conflict as exc:
        default_storage.delete(storage_name)
        return replace(base, reason=str(exc))
    except BaseException:
        default_storage.delete(storage_name)
        raise


class _Conflict(Exception):
    pass


def _duplicate(p: _Parsed, base: IngestResult) -> IngestResult:
    existing = (
        Instance.objects.filter(sop_instance_uid=p.sop_instance_uid)
        .select_related("series__study")
        .first()
    )
    return replace(
        base,
        status=DUPLICATE,
        reason="This SOP Instance UID is already stored; nothing changed.",
        failure_code=0,
        study_public_id=existing.series.study.public_id if existing else None,
        patient_id=existing.series.study.patient_id if existing else None,
    )


def _index(
    base: IngestResult,
    institution: Institution,
    patient: Patient,
    p: _Parsed,
    storage_name: str,
    sha256: str,
    size: int,
) -> IngestResult:
    study, _ = Study.objects.select_for_update().get_or_create(
        institution=institution,
        study_instance_uid=p.study_uid,
        defaults={
            "patient": patient,
            "study_date": _date_tag(p.ds, "StudyDate"),
            "description": _str_tag(p.ds, "StudyDescription")[:200],
            "accession_number": _str_tag(p.ds, "AccessionNumber")[:64],
            "modalities": [],
        },
    )
    if study.patient_id != patient.pk:
        raise _Conflict("(0020,000D) This study is already filed under another patient.")
    series, _ = Series.objects.get_or_create(
        series_instance_uid=p.series_uid,
        defaults={"study": study, "modality": p.modality, **_series_fields(p.ds)},
    )
    if series.study_id != study.pk:
        raise _Conflict("(0020,000E) This series is already filed under another study.")
    Instance.objects.create(series=series, **_instance_fields(p, storage_name, sha256, size))
    Series.objects.filter(pk=series.pk).update(instance_count=F("instance_count") + 1)
    if p.modality not in study.modalities:
        study.modalities = [*study.modalities, p.modality]
        study.save(update_fields=["modalities", "updated_at"])
    return replace(
        base,
        status=STORED,
        storage_name=storage_name,
        failure_code=0,
        study_public_id=study.public_id,
        patient_id=patient.pk,
    )


def _hold(
    base: IngestResult,
    institution: Institution,
    p: _Parsed,
    storage_name: str,
    sha256: str,
    size: int,
) -> IngestResult:
    entry, _ = UnmatchedStudy.objects.select_for_update().get_or_create(
        institution=institution,
        study_instance_uid=p.study_uid,
        status=UnmatchedStatus.OPEN,
        defaults={
            "dicom_patient_id": p.patient_id,
            "study_date": _date_tag(p.ds, "StudyDate"),
            "description": _str_tag(p.ds, "StudyDescription")[:200],
            "modalities": [],
        },
    )
    HeldInstance.objects.create(
        unmatched=entry,
        series_instance_uid=p.series_uid,
        modality=p.modality,
        series_description=_series_fields(p.ds)["description"],
        series_number=_series_fields(p.ds)["series_number"],
        frame_of_reference_uid=_series_fields(p.ds)["frame_of_reference_uid"],
        **_instance_fields(p, storage_name, sha256, size),
    )
    entry.received_count = F("received_count") + 1
    if p.modality not in entry.modalities:
        entry.modalities = [*entry.modalities, p.modality]
    entry.save(update_fields=["received_count", "modalities", "last_received_at"])
    return replace(
        base,
        status=UNMATCHED,
        storage_name=storage_name,
        failure_code=0,
        reason="No patient of this institution has this PatientID; held for a data manager.",
    )


def ingest_batch_failed(
    *, actor: User | None, institution: Institution, results: list[IngestResult], channel: str
) -> None:
    """A batch (upload, STOW-RS request) stopped on an unexpected error, which the caller
    re-raises. Inside a transaction (a web request: ATOMIC_REQUESTS) the error rolls back the
    rows the batch wrote, so the files they pointed at are deleted; outside one the rows are
    committed, and get their audit events."""
    if transaction.get_connection().in_atomic_block:
        for r in results:
            if r.storage_name:
                default_storage.delete(r.storage_name)
    else:
        ingest_audit(actor=actor, institution=institution, results=results, channel=channel)


def ingest_audit(
    *,
    actor: User | None,
    institution: Institution,
    results: list[IngestResult],
    channel: str,
) -> None:
    """One CREATE event per patient touched by `results` (stored instances), and one IMPORT
    event for the institution when instances were held unmatched. No PHI in the detail: counts,
    the channel and the study's public id."""
    per_patient: dict[int, list[IngestResult]] = {}
    held = 0
    for r in results:
        if r.status == STORED and r.patient_id is not None:
            per_patient.setdefault(r.patient_id, []).append(r)
        elif r.status == UNMATCHED:
            held += 1
    for patient_id, rows in per_patient.items():
        studies = sorted({str(r.study_public_id) for r in rows if r.study_public_id})
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type=AUDIT_OBJECT,
            object_id=studies[0] if len(studies) == 1 else "",
            patient_id=patient_id,
            institution_id=institution.pk,
            detail={"format": f"dicom:{channel}", "count": len(rows), "result": studies},
        )
    if held:
        audit_record(
            actor=actor,
            action=AuditAction.IMPORT,
            object_type=AUDIT_UNMATCHED,
            institution_id=institution.pk,
            detail={"format": f"dicom:{channel}", "count": held},
        )
