"""hypothesis against every parser of outside input: DICOM ingest, VCF and MAF, the cohort CSV,
and record payloads of the sync API. Each must give a clear per-item result or a clear error,
never an unhandled exception. Bounded: MAX_EXAMPLES examples a test, no deadline (the first
example of a test warms imports), derandomized so CI runs the same examples every time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydicom.data
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from genomics.variants.maf import parse_maf
from genomics.variants.model import GenomicsParseError, ParsedReport
from genomics.variants.vcf import parse_vcf
from imaging.services.ingest import DUPLICATE, REJECTED, STORED, UNMATCHED, dicom_ingest
from oncology.imports.cohort_csv import COLUMNS, parse_cohort_csv
from oncology.services.sync import patient_records_bulk_upsert
from tests.conftest import World

# CI default; FUZZ_EXAMPLES=<n> runs a deeper search locally (docs/reliability.md).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

GENOMICS_FIXTURES = Path(__file__).parents[1] / "genomics" / "fixtures"
DICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"
DICOM_SEEDS = [(DICOM_FILES / name).read_bytes() for name in ("CT_small.dcm", "MR_small.dcm")]

# Text that matters to the formats, so mutations hit separators and number parsing.
TOKENS = st.sampled_from(
    ["\t", ";", ",", ":", "=", "|", ".", "-", "<", ">", "#", "##", "N", "0", "-1", "1e999",
     "nan", "inf", "chr7", "\r", "\x00", '"', "'", "\u0131", "\ufeff", "<script>", "=cmd|"]
)  # fmt: skip
LINE = st.lists(st.one_of(TOKENS, st.text(max_size=12)), max_size=12).map("".join)


# --- DICOM ingest ------------------------------------------------------------------------------


@st.composite
def mutated_dicom(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(DICOM_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@pytest.fixture
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.usefixtures("_media")
@FUZZ
@given(data=mutated_dicom())
def test_mutated_dicom_bytes_get_a_clear_per_file_result(data: bytes, world: World) -> None:
    result = dicom_ingest(
        actor=None, institution=world.institution, data=data, filename="fuzz.dcm", channel="command"
    )
    event(result.status)
    assert result.filename == "fuzz.dcm"
    assert result.status in {STORED, DUPLICATE, UNMATCHED, REJECTED}
    if result.status == REJECTED:
        assert len(result.reason) > 10
        assert result.failure_code in {0xA700, 0xA900, 0xC000}


# --- VCF and MAF -------------------------------------------------------------------------------

VCF = (GENOMICS_FIXTURES / "tumour_normal_vep.vcf").read_text()
MAF = (GENOMICS_FIXTURES / "case1.maf").read_text()


def _check_report_or_line_error(text: str, parse: Any) -> None:
    lines = text.split("\n")
    try:
        report = parse(text.encode())
    except GenomicsParseError as exc:
        error = exc
    else:
        assert isinstance(report, ParsedReport)
        return
    assert error.reason
    if error.line is not None:
        assert 1 <= error.line <= len(lines)
        assert f"line {error.line}" in str(error)


@FUZZ
@given(position=st.integers(0, 60), line=LINE)
def test_a_vcf_with_an_arbitrary_line_parses_or_names_the_line(position: int, line: str) -> None:
    lines = VCF.rstrip("\n").split("\n")
    lines.insert(min(position, len(lines)), line)
    _check_report_or_line_error("\n".join(lines) + "\n", parse_vcf)


@FUZZ
@given(position=st.integers(0, 20), line=LINE)
def test_a_maf_with_an_arbitrary_line_parses_or_names_the_line(position: int, line: str) -> None:
    lines = MAF.rstrip("\n").split("\n")
    lines.insert(min(position, len(lines)), line)
    _check_report_or_line_error("\n".join(lines) + "\n", parse_maf)


@FUZZ
@given(
    record=st.integers(0, 10),
    column=st.integers(0, 12),
    cell=LINE.filter(lambda text: len(f"{text}x".splitlines()) == 1),  # within one line
)
def test_a_vcf_record_with_an_arbitrary_cell_parses_or_names_its_line(
    record: int, column: int, cell: str
) -> None:
    lines = VCF.rstrip("\n").split("\n")
    body = [i for i, text in enumerate(lines) if not text.startswith("#")]
    target = body[record % len(body)]
    cells = lines[target].split("\t")
    cells[column % len(cells)] = cell
    lines[target] = "\t".join(cells)
    text = "\n".join(lines) + "\n"
    try:
        parse_vcf(text.encode())
    except GenomicsParseError as exc:
        error = exc
    else:
        return
    # A broken record is named by its own line (the header is fine).
    assert error.line == target + 1, str(error)


# --- Cohort CSV --------------------------------------------------------------------------------

CSV_HEADER = "mrn,given_name,family_name,sex,birth_date,care_teams"
CSV_ROW = ["A100", "Ann", "Test", "female", "1960-01-02", "thoracic"]
KNOWN_COLUMNS = {column.name for column in COLUMNS}
CELL = st.one_of(LINE, st.sampled_from(["", "2024-02-30", "-5", "T2a", "1e400", '"a,b"']))


@FUZZ
@given(cells=st.lists(CELL, min_size=0, max_size=8), extra_rows=st.lists(LINE, max_size=3))
def test_arbitrary_csv_cells_give_row_errors_by_column_or_a_file_error(
    cells: list[str], extra_rows: list[str]
) -> None:
    row = ",".join(cells[i] if i < len(cells) else v for i, v in enumerate(CSV_ROW))
    data = "\r\n".join([CSV_HEADER, row, *extra_rows]).encode("utf-8", "surrogatepass")
    parsed = parse_cohort_csv(data)
    if parsed.file_errors:
        assert not parsed.rows
        assert all(isinstance(msg, str) and msg for msg in parsed.file_errors)
        return
    for parsed_row in parsed.rows:
        assert parsed_row.row >= 2
        for column, messages in parsed_row.errors.items():
            # "" is the row as a whole (a cell count that differs from the header's).
            assert column == "" or column in KNOWN_COLUMNS, column
            assert messages


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_as_a_cohort_csv_never_raise(data: bytes) -> None:
    parsed = parse_cohort_csv(data)
    assert parsed.file_errors or parsed.rows


# --- Sync API payloads -------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
PATIENT_KEYS = st.sampled_from(
    ["mrn", "given_name", "family_name", "sex", "birth_date", "care_teams", "vital_status",
     "death_date", "smoking_pack_years", "diagnoses", "labs", "systemic_therapies", "extra"]
)  # fmt: skip
RECORD = st.one_of(JSON, st.dictionaries(PATIENT_KEYS, JSON, max_size=8))


@FUZZ
@given(records=st.lists(RECORD, min_size=1, max_size=4))
def test_arbitrary_record_payloads_get_one_clear_result_each(
    records: list[Any], world: World
) -> None:
    results = patient_records_bulk_upsert(
        actor=world.integration, institution=world.institution, records=records
    )
    assert [r.index for r in results] == list(range(len(records)))
    for result in results:
        assert result.status in {"created", "updated", "unchanged", "error"}
        if result.status == "error":
            assert result.errors
            assert all(messages for messages in result.errors.values())
        else:
            assert result.patient_public_id is not None
