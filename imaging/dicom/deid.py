"""De-identify a DICOM dataset: PS3.15 Annex E Basic Application Level Confidentiality Profile
with the Retain Longitudinal Temporal Information with Modified Dates Option.

Pure library (no Django). The caller supplies the three things that must stay stable across
instances and re-sends: a UID map, the patient's date offset and the patient's pseudonym
(`derive_date_offset_days` and `derive_pseudonym` compute the last two from an institution key).
The attribute table is `deid_profile.TABLE_E1_1`; docs/deidentification.md explains the rules.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from imaging.dicom.deid_profile import (
    BASIC_PROFILE_CODE,
    MODIFIED_DATES_OPTION_CODE,
    PATIENT_CHARACTERISTICS_OPTION,
    PATIENT_CHARACTERISTICS_OPTION_CODE,
    TABLE_E1_1,
)
from imaging.dicom.deid_uids import (
    HmacUidMap,
    InMemoryUidMap,
    UidMap,
    derive_date_offset_days,
    derive_pseudonym,
    normalise_uid,
)

__all__ = [
    "DeidResult",
    "HmacUidMap",
    "InMemoryUidMap",
    "ProfileOptions",
    "UidMap",
    "burned_in_annotation_reason",
    "deidentify",
    "derive_date_offset_days",
    "derive_pseudonym",
    "resolve_action",
    "shift_date",
    "shift_datetime",
]

PATIENT_NAME = 0x00100010
PATIENT_ID = 0x00100020
PATIENT_BIRTH_DATE = 0x00100030

DUMMY_TEXT = "DEIDENTIFIED"
DUMMY_PERSON_NAME = "ANONYMOUS"


# --- options and result ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileOptions:
    """Options on top of the Basic Profile + Modified Dates Option (always applied).

    retain_patient_characteristics: PS3.15 E.3.7 (code 113108): keep age, sex, size, weight,
        ethnic group, smoking and pregnancy status.
    shift_birth_date: a local deviation from Table E.1-1, which empties Patient's Birth Date even
        under the Modified Dates Option; when set, the birth date is shifted by the patient's
        offset like every other date, so age at each study survives. Recorded in
        De-identification Method."""

    retain_patient_characteristics: bool = False
    shift_birth_date: bool = False


@dataclass(frozen=True)
class DeidResult:
    """`dataset` is the de-identified copy, or None when the input was quarantined; `reason`
    says why (no patient data in it); `actions` counts what was done, by action code."""

    dataset: Dataset | None
    quarantined: bool
    reason: str
    actions: Counter[str] = field(default_factory=Counter)


# --- burned-in annotation -------------------------------------------------------------------

PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)

# Modalities whose pixels routinely carry the patient's name or ID burned in (ultrasound header
# bars, photographs, scanned documents, "other" screen grabs). Their Burned In Annotation value
# is not trusted: many devices write NO while the banner is in the image.
HIGH_RISK_MODALITIES = frozenset({"US", "OT", "SC", "XC", "ES", "DOC"})

# Secondary Capture Image Storage SOP classes (PS3.4 B.5): screen captures and scans.
SECONDARY_CAPTURE_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.7.1",
        "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3",
        "1.2.840.10008.5.1.4.1.1.7.4",
    }
)

# Image Type values that vendors use for screen saves and dose/protocol report pages, which
# print the patient's name in the image (with SECONDARY in Value 2).
SCREEN_CAPTURE_IMAGE_TYPES = frozenset(
    {"SCREEN SAVE", "SCREEN_SAVE", "SCREENSHOT", "CAPTURE", "DOSE_INFO", "DOSE INFO", "REPORT"}
)


def burned_in_annotation_reason(dataset: Dataset) -> str | None:
    """Why this instance may show identifying text in its pixels, or None.

    The rule (docs/deidentification.md): only instances with pixel data; then quarantine when
    Burned In Annotation is YES, when the modality is in HIGH_RISK_MODALITIES, when the SOP class
    is a Secondary Capture or Conversion Type is present (secondary capture equipment), or when
    Image Type says SECONDARY together with a screen-capture or report value."""
    if not any(tag in dataset for tag in PIXEL_DATA_TAGS):
        return None
    burned_in = str(dataset.get("BurnedInAnnotation", "") or "").strip().upper()
    if burned_in == "YES":
        return "Burned In Annotation is YES"
    modality = str(dataset.get("Modality", "") or "").strip().upper()
    if modality in HIGH_RISK_MODALITIES:
        return f"modality {modality} often carries burned-in annotation"
    sop_class = str(dataset.get("SOPClassUID", "") or "").strip()
    if sop_class in SECONDARY_CAPTURE_SOP_CLASSES:
        return "Secondary Capture SOP class (screen capture or scan)"
    if "ConversionType" in dataset:
        return "Conversion Type present (secondary capture equipment)"
    image_type = dataset.get("ImageType", None)
    if image_type:
        values = [str(v).strip().upper() for v in _as_list(image_type)]
        if "SECONDARY" in values and SCREEN_CAPTURE_IMAGE_TYPES.intersection(values):
            return "Image Type marks a secondary screen capture or report page"
    return None


# --- actions --------------------------------------------------------------------------------

# Attributes that are Type 1 in an IOD this project handles, so a combined code keeps them
# with a dummy value rather than emptying them: Device Serial Number is Type 1 in the Enhanced
# General Equipment Module (PS3.3 C.7.5.2) of enhanced CT/MR/PET; Patient ID gets the pseudonym.
_TYPE_1_FOR_COMBINED_CODES = frozenset({0x00181000, PATIENT_ID})


def resolve_action(tag: int, vr: str, options: ProfileOptions) -> str | None:
    """The single action for one attribute, or None when Table E.1-1 does not list it.

    Combined codes are resolved without IOD tables, towards conformance: X/Z -> Z, X/D -> D,
    Z/D and X/Z/D -> Z unless the attribute is Type 1 in an IOD we handle (then D); sequences
    under a combined or D code are emptied (a dummy sequence has no meaning). X/Z/U* -> "U*":
    keep the sequence and apply the profile inside its items, which remaps the referenced
    instance UIDs. Patient's Name and Patient ID -> "P" (the pseudonym)."""
    if tag in (PATIENT_NAME, PATIENT_ID):
        return "P"
    if options.retain_patient_characteristics and tag in PATIENT_CHARACTERISTICS_OPTION:
        return PATIENT_CHARACTERISTICS_OPTION[tag]
    if tag == PATIENT_BIRTH_DATE and options.shift_birth_date:
        return "C"
    row = TABLE_E1_1.get(tag)
    if row is None:
        return None
    code = row.modified_dates or row.basic
    if code == "X/Z/U*":
        return "U*"
    if vr == "SQ" and code in ("D", "Z/D", "X/Z", "X/D", "X/Z/D"):
        return "Z"
    if code in ("X/Z",):
        return "Z"
    if code == "X/D":
        return "D"
    if code in ("Z/D", "X/Z/D"):
        return "D" if tag in _TYPE_1_FOR_COMBINED_CODES else "Z"
    return code


_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATETIME_RE = re.compile(r"^(\d{8})(.*)$")


def _shift_yyyymmdd(text: str, days: int) -> str | None:
    match = _DATE_RE.match(text)
    if match is None:
        return None
    try:
        shifted = date(*(int(part) for part in match.groups())) + timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    return f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}"


def shift_date(value: str, days: int) -> str | None:
    """Shift a DA value (YYYYMMDD, the ACR-NEMA form YYYY.MM.DD, or a range A-B) by whole days;
    None when a part is not a full date (it cannot be shifted without guessing)."""
    text = str(value).strip().replace(".", "")
    if not text:
        return ""
    if "-" in text:
        parts = [(_shift_yyyymmdd(p, days) if p else "") for p in text.split("-")]
        return None if any(p is None for p in parts) else "-".join(p or "" for p in parts)
    return _shift_yyyymmdd(text, days)


def shift_datetime(value: str, days: int) -> str | None:
    """Shift a DT value by whole days: the date part moves, the time of day, fraction and UTC
    offset are kept, so every interval between shifted values is unchanged."""
    text = str(value).strip()
    if not text:
        return ""
    match = _DATETIME_RE.match(text)
    if match is None:
        return None
    shifted = _shift_yyyymmdd(match.group(1), days)
    return None if shifted is None else shifted + match.group(2)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    return [value]


_DUMMY_BY_VR: dict[str, Any] = {
    "PN": DUMMY_PERSON_NAME,
    "AE": DUMMY_TEXT,
    "CS": DUMMY_TEXT,
    "LO": DUMMY_TEXT,
    "LT": DUMMY_TEXT,
    "SH": DUMMY_TEXT,
    "ST": DUMMY_TEXT,
    "UC": DUMMY_TEXT,
    "UT": DUMMY_TEXT,
    "UR": "urn:deidentified",
    "AS": "000Y",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "IS": "0",
    "DS": "0",
}
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"})


@dataclass
class _Context:
    uid_map: UidMap
    date_offset_days: int
    pseudonym: str
    options: ProfileOptions
    actions: Counter[str]


def _remap(value: Any, ctx: _Context) -> Any:
    values = [ctx.uid_map.get_or_create(str(v)) for v in _as_list(value) if normalise_uid(v)]
    if not values:
        return value
    return values[0] if len(values) == 1 else values


def _shift(elem: Any, ctx: _Context) -> bool:
    """Shift a DA/DT element in place; False when a value could not be shifted."""
    shifter = shift_date if elem.VR == "DA" else shift_datetime
    if elem.value is None or elem.value == "":
        return True
    shifted = [shifter(str(v), ctx.date_offset_days) for v in _as_list(elem.value)]
    if any(s is None for s in shifted):
        return False
    elem.value = shifted[0] if len(shifted) == 1 else shifted
    return True


def _dummy(elem: Any) -> Any:
    if elem.VR in _DUMMY_BY_VR:
        return _DUMMY_BY_VR[elem.VR]
    if elem.VR in _NUMERIC_VRS:
        return 0
    return b"\x00\x00"  # OB, OW, OD, OF, OL, OV, UN: an even-length zero value


def _clean_dataset(ds: Dataset, ctx: _Context) -> None:
    # Iterate over tags, not elements: converting a private raw element we are about to delete
    # could fail on a vendor's malformed value.
    for tag in list(ds.keys()):
        tag = BaseTag(tag)
        group = tag.group
        if tag.is_private:
            del ds[tag]
            ctx.actions["X:private"] += 1
            continue
        # Curve Data (50xx,xxxx) is X; of the overlay group only Overlay Data and Comments are
        # listed, but an overlay without its data is inconsistent, so the whole group goes.
        if 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:
            del ds[tag]
            ctx.actions["X:curve-overlay"] += 1
            continue
        if tag.element == 0:  # group length: recomputed on write when needed
            del ds[tag]
            continue
        elem = ds[tag]
        action = resolve_action(tag, elem.VR, ctx.options)
        if action is None:
            _outside_table(ds, elem, ctx)
            continue
        _apply(ds, elem, action, ctx)


def _outside_table(ds: Dataset, elem: Any, ctx: _Context) -> None:
    """Attributes Table E.1-1 does not list: kept, with three safety nets the standard invites
    (PS3.15 E.1.1 note 4: handle dates by VR): person names are emptied, dates are shifted, and
    sequences are processed item by item."""
    if elem.VR == "PN":
        elem.value = elem.empty_value
        ctx.actions["Z:person-name-outside-table"] += 1
    elif elem.VR in ("DA", "DT"):
        if _shift(elem, ctx):
            ctx.actions["C:date-outside-table"] += 1
        else:
            elem.value = elem.empty_value
            ctx.actions["Z:unshiftable-date"] += 1
    elif elem.VR == "SQ":
        for item in elem.value:
            _clean_dataset(item, ctx)


def _apply(ds: Dataset, elem: Any, action: str, ctx: _Context) -> None:
    vr = elem.VR
    if vr == "UN" and action in ("U", "U*", "C", "P"):
        # A value of unknown encoding cannot be remapped, shifted or replaced safely.
        del ds[elem.tag]
        ctx.actions["X:unknown-vr"] += 1
        return
    if action == "X":
        del ds[elem.tag]
    elif action == "Z":
        elem.value = Sequence() if vr == "SQ" else elem.empty_value
    elif action == "P":
        elem.value = ctx.pseudonym
    elif action == "D":
        if vr == "UI":
            elem.value = _remap(elem.value, ctx) if elem.value else elem.value
        else:
            elem.value = _dummy(elem)
    elif action == "U":
        if vr == "UI" and elem.value:
            elem.value = _remap(elem.value, ctx)
        elif vr != "UI":
            del ds[elem.tag]
            action = "X"
    elif action in ("K", "U*"):
        if vr == "SQ":
            for item in elem.value:
                _clean_dataset(item, ctx)
        elif vr == "UI" and elem.value and action == "U*":
            elem.value = _remap(elem.value, ctx)
    elif action == "C":
        action = _clean(ds, elem, ctx)
    else:  # pragma: no cover - the table only holds the codes above
        raise ValueError(f"unknown action code {action!r}")
    ctx.actions[action] += 1


def _clean(ds: Dataset, elem: Any, ctx: _Context) -> str:
    """C under the Modified Dates Option: dates and date-times shift by the patient's offset;
    times of day stay as they are (a whole-day shift does not move them); anything else that
    the table marks C (Timezone Offset, binary timestamps) cannot be cleaned safely: removed."""
    if elem.VR in ("DA", "DT"):
        if _shift(elem, ctx):
            return "C"
        elem.value = elem.empty_value
        return "Z:unshiftable-date"
    if elem.VR == "TM":
        return "C:time-kept"
    del ds[elem.tag]
    return "X:uncleanable"


# --- identity and file meta -----------------------------------------------------------------

_METHOD_CODES = (
    (BASIC_PROFILE_CODE, "Basic Application Confidentiality Profile"),
    (MODIFIED_DATES_OPTION_CODE, "Retain Longitudinal Temporal Information Modified Dates Option"),
)
_PATIENT_CHARACTERISTICS_CODE = (
    PATIENT_CHARACTERISTICS_OPTION_CODE,
    "Retain Patient Characteristics Option",
)


def _record_method(ds: Dataset, options: ProfileOptions) -> None:
    codes = list(_METHOD_CODES)
    if options.retain_patient_characteristics:
        codes.append(_PATIENT_CHARACTERISTICS_CODE)
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    # LO, at most 64 characters a value: one value per profile or option.
    methods = ["PS3.15 E " + codes[0][1]] + [meaning for _, meaning in codes[1:]]
    if options.shift_birth_date:
        methods.append("Birth date shifted with the other dates (local)")
    ds.DeidentificationMethod = methods
    # PS3.15 E.3.6: with modified dates, Longitudinal Temporal Information Modified is MODIFIED.
    ds.LongitudinalTemporalInformationModified = "MODIFIED"


def _replace_file_meta(ds: Dataset, original_meta: FileMetaDataset | None, uid_map: UidMap) -> None:
    """PS3.15 E.1.1 item 7: replace the File Meta Information (and the preamble) with a
    description of the de-identifying application; only the transfer syntax survives."""
    old = original_meta if original_meta is not None else FileMetaDataset()
    meta = FileMetaDataset()
    sop_class = ds.get("SOPClassUID") or old.get("MediaStorageSOPClassUID")
    if sop_class:
        meta.MediaStorageSOPClassUID = sop_class
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    elif old.get("MediaStorageSOPInstanceUID"):  # a DICOMDIR, or a dataset without SOP Common
        meta.MediaStorageSOPInstanceUID = UID(uid_map.get_or_create(old.MediaStorageSOPInstanceUID))
    meta.TransferSyntaxUID = old.get("TransferSyntaxUID") or ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "ONCOBOARD_DEID"
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.filename = None  # a source path can name the patient


def deidentify(
    dataset: Dataset,
    *,
    uid_map: UidMap,
    date_offset_days: int,
    patient_pseudonym: str,
    profile_options: ProfileOptions | None = None,
) -> DeidResult:
    """De-identify a copy of `dataset`; the input is never modified.

    Returns a quarantined result (dataset None) for instances that have or are likely to have
    burned-in annotation (`burned_in_annotation_reason`). Otherwise every attribute is handled
    as Table E.1-1 says, private tags, curves and overlays are removed, every listed UID
    (inside sequences too) goes through `uid_map`, every date moves by `date_offset_days`,
    Patient's Name and Patient ID become `patient_pseudonym`, the method is recorded, and the
    pixel data is left byte for byte as it was."""
    options = profile_options or ProfileOptions()
    pseudonym = str(patient_pseudonym)
    if not pseudonym.strip() or len(pseudonym) > 64 or "\\" in pseudonym:
        raise ValueError("patient_pseudonym must be 1-64 characters without a backslash")
    if not isinstance(date_offset_days, int) or isinstance(date_offset_days, bool):
        raise TypeError("date_offset_days must be an int")
    reason = burned_in_annotation_reason(dataset)
    if reason is not None:
        return DeidResult(dataset=None, quarantined=True, reason=reason, actions=Counter())
    original_meta = getattr(dataset, "file_meta", None)
    ds = copy.deepcopy(dataset)
    actions: Counter[str] = Counter()
    ctx = _Context(uid_map, date_offset_days, pseudonym, options, actions)
    _clean_dataset(ds, ctx)
    ds.PatientName = pseudonym
    ds.PatientID = pseudonym
    _record_method(ds, options)
    _replace_file_meta(ds, original_meta, uid_map)
    return DeidResult(dataset=ds, quarantined=False, reason="", actions=actions)
