"""The cohort CSV: one row per patient, parsed strictly into canonical record payloads.

Plain Python (no Django): bytes in, payloads and errors out. The format is documented in
docs/import.md; COLUMNS below is its single source of truth.

Strictness: the file must be UTF-8 (a byte-order mark is allowed), comma-separated, with a
header row naming only known columns, each once, the required ones present. Every data row is
checked on its own; a row's problems are reported with its row number (the header is row 1, as
a spreadsheet shows it) and column name, and never quote the cell's value (patient data must
not reach logs, job results or audit detail).

What a row becomes: the patient's fields, and one item per section group whose cells are not
all empty, with a stable external id ("csv-dx1", "csv-surgery1", ...) so importing the same
file again updates in place instead of duplicating. Empty optional cells are left out of the
payload: an existing patient keeps what is stored for them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5000

Kind = Literal["text", "date", "int", "float", "codes", "drugs"]


@dataclass(frozen=True)
class Column:
    name: str  # the CSV header
    section: str | None  # None: a patient field; else a key of oncology.models.RECORD_SECTIONS
    field: str  # the payload field it fills
    kind: Kind = "text"
    required: bool = False  # must be a header column (and, for patient columns, filled)


def _patient(name: str, kind: Kind = "text", required: bool = False) -> Column:
    return Column(name, None, name, kind, required)


COLUMNS: tuple[Column, ...] = (
    _patient("mrn", required=True),
    _patient("given_name", required=True),
    _patient("family_name", required=True),
    _patient("sex", required=True),
    _patient("birth_date", "date", required=True),
    _patient("care_teams", "codes", required=True),
    _patient("smoking_status"),
    _patient("smoking_pack_years", "float"),
    _patient("vital_status"),
    _patient("death_date", "date"),
    _patient("last_contact_date", "date"),
    # The primary diagnosis.
    Column("primary_site", "diagnoses", "primary_site"),
    Column("morphology", "diagnoses", "morphology"),
    Column("laterality", "diagnoses", "laterality"),
    Column("diagnosis_date", "diagnoses", "diagnosis_date", "date"),
    Column("grade", "diagnoses", "grade"),
    Column("clinical_t", "diagnoses", "clinical_t"),
    Column("clinical_n", "diagnoses", "clinical_n"),
    Column("clinical_m", "diagnoses", "clinical_m"),
    Column("clinical_stage", "diagnoses", "clinical_stage"),
    Column("pathological_t", "diagnoses", "pathological_t"),
    Column("pathological_n", "diagnoses", "pathological_n"),
    Column("pathological_m", "diagnoses", "pathological_m"),
    Column("pathological_stage", "diagnoses", "pathological_stage"),
    # ECOG performance status at diagnosis.
    Column("ecog", "performance_statuses", "ecog", "int"),
    Column("ecog_date", "performance_statuses", "assessed_on", "date"),
    # Key treatments: the first surgery, radiotherapy course and systemic regimen.
    Column("surgery_procedure", "surgeries", "procedure"),
    Column("surgery_date", "surgeries", "performed_on", "date"),
    Column("surgery_margin", "surgeries", "margin_status"),
    Column("surgery_intent", "surgeries", "intent"),
    Column("rt_target", "radiotherapies", "target"),
    Column("rt_total_dose_gy", "radiotherapies", "total_dose_gy", "float"),
    Column("rt_fractions", "radiotherapies", "fractions", "int"),
    Column("rt_technique", "radiotherapies", "technique"),
    Column("rt_start_date", "radiotherapies", "start_date", "date"),
    Column("rt_end_date", "radiotherapies", "end_date", "date"),
    Column("rt_intent", "radiotherapies", "intent"),
    Column("rt_best_response", "radiotherapies", "best_response"),
    Column("systemic_regimen", "systemic_therapies", "regimen"),
    Column("systemic_category", "systemic_therapies", "category"),
    Column("systemic_drugs", "systemic_therapies", "drugs", "drugs"),
    Column("systemic_cycles", "systemic_therapies", "cycles", "int"),
    Column("systemic_start_date", "systemic_therapies", "start_date", "date"),
    Column("systemic_end_date", "systemic_therapies", "end_date", "date"),
    Column("systemic_intent", "systemic_therapies", "intent"),
    Column("systemic_best_response", "systemic_therapies", "best_response"),
    # Outcome: the latest follow-up and the first progression or recurrence.
    Column("follow_up_date", "follow_ups", "visit_date", "date"),
    Column("follow_up_status", "follow_ups", "disease_status"),
    Column("follow_up_ecog", "follow_ups", "ecog", "int"),
    Column("event_type", "disease_events", "event_type"),
    Column("event_date", "disease_events", "event_date", "date"),
)
COLUMNS_BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED_COLUMNS = tuple(c.name for c in COLUMNS if c.required)

# Section -> the external id of its one item per row. Stable across imports of the same
# cohort, and free of patient identifiers (external ids are unique per patient anyway).
EXTERNAL_IDS = {
    "diagnoses": "csv-dx1",
    "performance_statuses": "csv-ecog1",
    "surgeries": "csv-surgery1",
    "radiotherapies": "csv-rt1",
    "systemic_therapies": "csv-systemic1",
    "follow_ups": "csv-followup1",
    "disease_events": "csv-event1",
}
# Treatments and events belong to the row's diagnosis when it has one.
DIAGNOSIS_LINKED = {"surgeries", "radiotherapies", "systemic_therapies", "disease_events"}
# Path of a field in the payload -> its column, to report the sync service's errors by column.
_COLUMN_OF_PATH = {(f"{c.section}[0].{c.field}" if c.section else c.field): c.name for c in COLUMNS}
_INDEXED = re.compile(r"^([a-z_]+)\[\d+\](?:\.([a-z_]+))?")
_DRUG = re.compile(r"^(?P<name>.+?)\s+(?P<dose>\d+(?:\.\d+)?)\s+(?P<unit>\S+)$")


@dataclass
class ParsedRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    record: dict[str, Any]  # the payload; meaningful only when `errors` is empty
    errors: dict[str, list[str]] = field(default_factory=dict)  # column -> messages


@dataclass
class ParsedFile:
    rows: list[ParsedRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)  # the file as a whole is refused

    @property
    def ok(self) -> bool:
        return not self.file_errors


class _Refused(Exception):
    pass


def parse_cohort_csv(
    data: bytes, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
) -> ParsedFile:
    """Parse a whole file. File-level problems (size, encoding, header, row count) refuse it;
    otherwise every row is returned, with its payload or its errors."""
    try:
        reader = _reader(data, max_bytes)
        header = _header(reader)
        rows: list[ParsedRow] = []
        seen_mrn: dict[str, int] = {}
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, common at the end of exported files
            if len(rows) >= max_rows:
                raise _Refused(f"The file has more than {max_rows} patient rows; split it.")
            row_number = len(rows) + 2
            parsed = _row(row_number, header, cells)
            mrn = parsed.record.get("mrn")
            if mrn in seen_mrn:
                parsed.errors.setdefault("mrn", []).append(
                    f"The same MRN is already in row {seen_mrn[mrn]}."
                )
            elif mrn:
                seen_mrn[mrn] = row_number
            rows.append(parsed)
    except _Refused as exc:
        return ParsedFile(file_errors=[str(exc)])
    except csv.Error as exc:
        # The csv module names the line and the problem ("unexpected end of data"), not values.
        return ParsedFile(file_errors=[f"The file is not valid CSV: {exc}."])
    if not rows:
        return ParsedFile(file_errors=["The file has a header but no patient rows."])
    return ParsedFile(rows=rows)


def column_of(path: str) -> str:
    """The CSV column for a field path of the record payload ("diagnoses[0].clinical_t" ->
    "clinical_t"); section-level paths name the section's first column; "" for the row."""
    if path in _COLUMN_OF_PATH:
        return _COLUMN_OF_PATH[path]
    if path.startswith("care_teams"):
        return "care_teams"
    match = _INDEXED.match(path)
    if match:
        section, name = match.group(1), match.group(2)
        if name and f"{section}[0].{name}" in _COLUMN_OF_PATH:
            return _COLUMN_OF_PATH[f"{section}[0].{name}"]
        if name == "diagnosis_external_id":
            return "diagnosis_date"
        first = next((c.name for c in COLUMNS if c.section == section), "")
        return first
    if path in {"", "non_field_errors"}:
        return ""
    return path


# ---------------------------------------------------------------------------------------------


def _reader(data: bytes, max_bytes: int) -> Any:
    if len(data) > max_bytes:
        raise _Refused(f"The file is larger than {max_bytes // (1024 * 1024)} MB; split it.")
    if not data.strip():
        raise _Refused("The file is empty.")
    try:
        text = data.decode("utf-8-sig")  # also plain UTF-8: the BOM is optional
    except UnicodeDecodeError as exc:
        raise _Refused(
            f"The file is not UTF-8 (byte {exc.start + 1}); save it as 'CSV UTF-8'."
        ) from exc
    if "\x00" in text:
        raise _Refused("The file contains NUL characters; it is not a text CSV file.")
    return csv.reader(io.StringIO(text, newline=""), strict=True)


def _header(reader: Any) -> list[str]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration as exc:
        raise _Refused("The file is empty.") from exc
    problems = []
    unknown = [name for name in header if name not in COLUMNS_BY_NAME]
    if unknown:
        problems.append("unknown columns: " + ", ".join(_safe_name(n) for n in unknown))
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        problems.append("repeated columns: " + ", ".join(_safe_name(n) for n in duplicated))
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        problems.append("missing required columns: " + ", ".join(missing))
    if problems:
        raise _Refused("The header row is not the cohort format (" + "; ".join(problems) + ").")
    return header


def _safe_name(name: str) -> str:
    # A header cell could hold anything, including a value pasted into the wrong row.
    return repr(name[:40]) if re.fullmatch(r"[A-Za-z0-9_ .-]{1,40}", name) else "(unreadable)"


def _row(row_number: int, header: list[str], cells: list[str]) -> ParsedRow:
    parsed = ParsedRow(row=row_number, record={})
    if len(cells) != len(header):
        parsed.errors[""] = [f"The row has {len(cells)} cells; the header has {len(header)}."]
        return parsed
    sections: dict[str, dict[str, Any]] = {}
    for name, raw in zip(header, cells, strict=True):
        column = COLUMNS_BY_NAME[name]
        value = raw.strip()
        if not value:
            if column.required:
                parsed.errors.setdefault(name, []).append("This column is required.")
            continue
        try:
            converted = _convert(column.kind, value)
        except ValueError as exc:
            parsed.errors.setdefault(name, []).append(str(exc))
            continue
        if column.section is None:
            parsed.record[column.field] = converted
        else:
            sections.setdefault(column.section, {})[column.field] = converted
    for section, item in sections.items():
        item["external_id"] = EXTERNAL_IDS[section]
        if section in DIAGNOSIS_LINKED and "diagnoses" in sections:
            item["diagnosis_external_id"] = EXTERNAL_IDS["diagnoses"]
        parsed.record[section] = [item]
    return parsed


def _convert(kind: Kind, value: str) -> Any:
    if kind == "text":
        return value
    if kind == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("Not a date in the form YYYY-MM-DD.")
        try:
            dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("Not a valid calendar date.") from exc
        return value
    if kind == "int":
        if not re.fullmatch(r"\d{1,5}", value):
            raise ValueError("Not a whole number.")
        return int(value)
    if kind == "float":
        if not re.fullmatch(r"\d{1,7}(\.\d+)?", value):
            raise ValueError("Not a number (use a dot as decimal separator).")
        return float(value)
    if kind == "codes":
        codes = [code.strip() for code in value.split(";")]
        if any(not code for code in codes):
            raise ValueError("Separate codes with single semicolons.")
        return codes
    if kind == "drugs":
        return _drugs(value)
    raise AssertionError(kind)


def _drugs(value: str) -> list[dict[str, Any]]:
    drugs = []
    for position, entry in enumerate(value.split(";"), start=1):
        match = _DRUG.match(entry.strip())
        if not match:
            raise ValueError(f"Drug {position} is not 'name dose unit' (e.g. 'carboplatin 5 AUC').")
        drugs.append({"name": match["name"], "dose": float(match["dose"]), "unit": match["unit"]})
    return drugs


def row_errors_by_column(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The sync service's errors (by payload path) regrouped by CSV column."""
    out: dict[str, list[str]] = {}
    for path, messages in errors.items():
        out.setdefault(column_of(path), []).extend(messages)
    return out
