"""Reading one DICOM file for ingest: parse without `force`, validate, and the index fields.

Pure of the database: `parse_instance` gives a `ParsedInstance` or a rejected `IngestResult`
whose reason names the tag or the problem, never a tag *value* (the PatientID is PHI). The
ingest service (imaging/services/ingest.py) files what this module accepts.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
import warnings
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pydicom
from django.conf import settings
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

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
UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PARSE_LOCK = threading.Lock()


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


def rejected(
    filename: str, reason: str, code: int = FAILURE_CANNOT_UNDERSTAND, ds: Dataset | None = None
) -> IngestResult:
    return IngestResult(
        filename=filename,
        status=REJECTED,
        reason=reason,
        sop_instance_uid=str_tag(ds, "SOPInstanceUID") if ds is not None else "",
        sop_class_uid=str_tag(ds, "SOPClassUID") if ds is not None else "",
        failure_code=code,
    )


def str_tag(ds: Dataset | None, keyword: str) -> str:
    try:
        value = ds.get(keyword) if ds is not None else None
    except Exception:  # noqa: BLE001  (a broken element reads as absent)
        return ""
    if value is None:
        return ""
    return str(value).strip()[:64] if not isinstance(value, list | tuple) else ""


def int_tag(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except Exception:  # noqa: BLE001
        return None


def date_tag(ds: Dataset, keyword: str) -> dt.date | None:
    raw = str_tag(ds, keyword)
    try:
        return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])) if len(raw) >= 8 else None
    except ValueError:  # not a DICOM DA (YYYYMMDD)
        return None


@dataclass(frozen=True)
class ParsedInstance:
    """What the index needs from a valid instance. The dataset itself is not kept: a batch of
    buffered instances then holds only their bytes, not their decoded pixels as well."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    modality: str
    patient_id: str
    transfer_syntax: str
    header: dict[str, Any]  # the instance row's header fields (instance_fields)
    series: dict[str, Any]  # the series row's descriptive fields (series_fields)
    study: dict[str, Any]  # the study row's descriptive fields (study_fields)


def parse_instance(data: bytes, filename: str) -> ParsedInstance | IngestResult:
    """Parse and validate; an IngestResult when rejected."""
    if len(data) > max_instance_bytes():
        return rejected(
            filename,
            f"The file is larger than the {max_instance_bytes() // (1024 * 1024)} MB accepted.",
            FAILURE_OUT_OF_RESOURCES,
        )
    if not data:
        return rejected(filename, "The file is empty.")
    # pydicom warns about many recoverable header problems; they are collected, not raised, so
    # a file gets the same result in tests (warnings are errors there) and in production.
    # catch_warnings swaps process-wide state, so concurrent ingests (the C-STORE receiver's
    # threads) take turns here; parsing and decoding hold the GIL anyway.
    with _PARSE_LOCK, warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(BytesIO(data), force=False)
        except InvalidDicomError:
            return rejected(
                filename, "Not a DICOM Part 10 file (no 'DICM' prefix after the preamble)."
            )
        except Exception as exc:  # noqa: BLE001  (every parse failure is the file's fault)
            return rejected(filename, f"Broken DICOM header: {reason_of(exc)}")
        return _validate(ds, filename)


def reason_of(exc: BaseException) -> str:
    """An exception as a reason: its class and message, without values that could be PHI
    beyond what pydicom puts in (tag numbers, lengths)."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _validate(ds: Dataset, filename: str) -> ParsedInstance | IngestResult:
    meta = getattr(ds, "file_meta", None)
    ts = str_tag(meta, "TransferSyntaxUID") if meta is not None else ""
    if not ts:
        return rejected(filename, "The file meta has no (0002,0010) TransferSyntaxUID.", ds=ds)
    values: dict[str, str] = {}
    for keyword, tag in REQUIRED_TAGS:
        try:
            element = ds[keyword] if keyword in ds else None
            raw = element.value if element is not None else None
        except Exception as exc:  # noqa: BLE001
            return rejected(filename, f"{tag} {keyword} cannot be read: {reason_of(exc)}", ds=ds)
        value = str(raw).strip() if raw is not None and not isinstance(raw, bytes) else ""
        if not value:
            return rejected(filename, f"Required tag {tag} {keyword} is missing or empty.", ds=ds)
        if keyword.endswith("UID") and (len(value) > 64 or not UID_PATTERN.match(value)):
            return rejected(filename, f"{tag} {keyword} is not a valid UID.", ds=ds)
        if len(value) > 64:
            return rejected(filename, f"{tag} {keyword} is longer than 64 characters.", ds=ds)
        values[keyword] = value
    media_class = str_tag(meta, "MediaStorageSOPClassUID")
    if media_class and media_class != values["SOPClassUID"]:
        return rejected(
            filename,
            "(0002,0002) MediaStorageSOPClassUID differs from (0008,0016) SOPClassUID.",
            FAILURE_SOP_CLASS_MISMATCH,
            ds,
        )
    media_instance = str_tag(meta, "MediaStorageSOPInstanceUID")
    if media_instance and media_instance != values["SOPInstanceUID"]:
        return rejected(
            filename,
            "(0002,0003) MediaStorageSOPInstanceUID differs from (0008,0018) SOPInstanceUID.",
            FAILURE_SOP_CLASS_MISMATCH,
            ds,
        )
    tsuid = UID(ts)
    if not tsuid.is_transfer_syntax:
        return rejected(filename, "(0002,0010) TransferSyntaxUID is not a known syntax.", ds=ds)
    has_pixels = "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    if not has_pixels and _is_image_class(values["SOPClassUID"]):
        # pydicom stops quietly at the end of a file cut between elements, so a truncated image
        # shows up only as an image without its (7FE0,0010) Pixel Data.
        return rejected(
            filename,
            "An image object without (7FE0,0010) PixelData: the file is truncated or incomplete.",
            ds=ds,
        )
    if has_pixels:
        problem = _pixel_problem(ds)
        if problem:
            return rejected(filename, problem, ds=ds)
    return ParsedInstance(
        sop_class_uid=values["SOPClassUID"],
        sop_instance_uid=values["SOPInstanceUID"],
        study_uid=values["StudyInstanceUID"],
        series_uid=values["SeriesInstanceUID"],
        modality=values["Modality"][:16],
        patient_id=values["PatientID"],
        transfer_syntax=ts,
        header=_header_fields(ds, ts),
        series=series_fields(ds),
        study=study_fields(ds),
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
        return f"Pixel data in this transfer syntax cannot be decoded here: {reason_of(exc)}"
    except RuntimeError as exc:
        if "plugin" in str(exc).lower() or "decod" in str(exc).lower():
            return f"Pixel data in this transfer syntax cannot be decoded here: {reason_of(exc)}"
        return f"Pixel data does not decode: {reason_of(exc)}"
    except MemoryError:
        return "Pixel data is too large to decode."
    except Exception as exc:  # noqa: BLE001
        return f"Pixel data does not decode: {reason_of(exc)}"
    return ""


def _header_fields(ds: Dataset, transfer_syntax: str) -> dict[str, Any]:
    position = None
    try:
        ipp = ds.get("ImagePositionPatient")
        if ipp is not None and len(ipp) == 3:
            position = [float(v) for v in ipp]
    except Exception:  # noqa: BLE001
        position = None
    return {
        "instance_number": int_tag(ds, "InstanceNumber"),
        "transfer_syntax": transfer_syntax[:64],
        "rows": int_tag(ds, "Rows"),
        "columns": int_tag(ds, "Columns"),
        "frames": int_tag(ds, "NumberOfFrames") or 1,
        "image_position": position,
    }


def instance_fields(p: ParsedInstance, storage_name: str, sha256: str, size: int) -> dict[str, Any]:
    """The InstanceFields of an Instance or HeldInstance row for a parsed, stored file."""
    return {
        "sop_instance_uid": p.sop_instance_uid,
        "sop_class_uid": p.sop_class_uid,
        "storage_name": storage_name,
        "sha256": sha256,
        "size_bytes": size,
        **p.header,
    }


def study_fields(ds: Dataset) -> dict[str, Any]:
    return {
        "study_date": date_tag(ds, "StudyDate"),
        "description": str_tag(ds, "StudyDescription")[:200],
        "accession_number": str_tag(ds, "AccessionNumber")[:64],
    }


def series_fields(ds: Dataset) -> dict[str, Any]:
    uid = str_tag(ds, "FrameOfReferenceUID")
    return {
        "description": str_tag(ds, "SeriesDescription")[:200],
        "series_number": int_tag(ds, "SeriesNumber"),
        "frame_of_reference_uid": uid if UID_PATTERN.match(uid or "-") else "",
    }
