"""Copy-number calls, fusions and MSI status: one small tab-separated format
(docs/genomics-formats.md has the full description and an example).

    #oncoboard-genomics-tsv 1
    cnv	ERBB2	amplification	12.5	2.64
    cnv	CDKN2A	deletion	0	.
    fusion	EML4	ALK	41
    msi	MSI-H	38.2

Lines starting with '#' are comments (the first line, if it is the version line, must say 1);
blank lines are not allowed. Each row starts with its record type, and each type has a fixed
column count:

- ``cnv GENE CALL COPY_NUMBER LOG2_RATIO``: CALL is amplification, gain, loss or deletion
  (homozygous); COPY_NUMBER a number >= 0 and LOG2_RATIO a number, either may be '.';
- ``fusion GENE_5PRIME GENE_3PRIME SUPPORTING_READS``: reads an integer >= 0 or '.';
- ``msi STATUS SCORE``: STATUS MSI-H or MSS, SCORE a number or '.'; at most one msi row.

Gene names are HGNC symbols (letters, digits, '-', '.', '@', '/'; e.g. NKX2-1, HLA-A).
"""

from __future__ import annotations

import math
import re
from typing import Literal, cast

from .bgzf import DEFAULT_MAX_BYTES, Source, read_text, split_lines
from .model import CopyNumber, CopyNumberCall, Fusion, GenomicsParseError, ParsedReport

DEFAULT_MAX_LINE_LENGTH = 10_000
VERSION_LINE = "#oncoboard-genomics-tsv"
COPY_NUMBER_CALLS: frozenset[str] = frozenset({"amplification", "gain", "loss", "deletion"})
MSI_STATUSES: frozenset[str] = frozenset({"MSI-H", "MSS"})
GENE_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9.@/-]{0,39}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_COUNT = re.compile(r"[0-9]+")
_COLUMNS = {"cnv": 5, "fusion": 4, "msi": 3}


def parse_tabular(
    source: Source,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
) -> ParsedReport:
    """Parse the copy-number / fusion / MSI format; GenomicsParseError if malformed."""
    lines = split_lines(read_text(source, max_bytes=max_bytes), max_line_length=max_line_length)
    copy_numbers: list[CopyNumber] = []
    fusions: list[Fusion] = []
    msi_status: Literal["MSI-H", "MSS", ""] = ""
    msi_score: float | None = None
    msi_seen = False
    for number, text in enumerate(lines, start=1):
        if text.startswith("#"):
            if text.startswith(VERSION_LINE) and text.split()[1:] != ["1"]:
                raise GenomicsParseError("unsupported format version (expected 1)", line=number)
            continue
        fields = text.split("\t")
        kind = fields[0]
        if kind not in _COLUMNS:
            raise GenomicsParseError(
                "a row must start with cnv, fusion or msi (blank lines are not allowed)",
                line=number,
            )
        if len(fields) != _COLUMNS[kind]:
            raise GenomicsParseError(
                f"a {kind} row has {_COLUMNS[kind]} tab-separated columns, found {len(fields)}",
                line=number,
            )
        if kind == "cnv":
            gene = _gene(fields[1], number)
            if fields[2] not in COPY_NUMBER_CALLS:
                raise GenomicsParseError(
                    "copy-number call must be amplification, gain, loss or deletion", line=number
                )
            copy_number = _number(fields[3], "copy number", number)
            if copy_number is not None and copy_number < 0:
                raise GenomicsParseError("copy number must not be negative", line=number)
            copy_numbers.append(
                CopyNumber(
                    gene=gene,
                    call=cast(CopyNumberCall, fields[2]),
                    copy_number=copy_number,
                    log2_ratio=_number(fields[4], "log2 ratio", number),
                    source_line=number,
                )
            )
        elif kind == "fusion":
            reads = fields[3]
            if reads != "." and not _COUNT.fullmatch(reads):
                raise GenomicsParseError(
                    "supporting reads must be a non-negative integer or '.'", line=number
                )
            fusions.append(
                Fusion(
                    gene_5prime=_gene(fields[1], number),
                    gene_3prime=_gene(fields[2], number),
                    supporting_reads=None if reads == "." else int(reads),
                    source_line=number,
                )
            )
        else:
            if fields[1] not in MSI_STATUSES:
                raise GenomicsParseError("MSI status must be MSI-H or MSS", line=number)
            if msi_seen:
                raise GenomicsParseError("more than one msi row", line=number)
            msi_seen = True
            msi_status = "MSI-H" if fields[1] == "MSI-H" else "MSS"
            msi_score = _number(fields[2], "MSI score", number)
    return ParsedReport(
        copy_numbers=tuple(copy_numbers),
        fusions=tuple(fusions),
        msi_status=msi_status,
        msi_score=msi_score,
        meta={"format": "oncoboard-genomics-tsv 1"},
    )


def _gene(text: str, line: int) -> str:
    if not GENE_SYMBOL.fullmatch(text):
        raise GenomicsParseError("gene must be an HGNC symbol", line=line)
    return text


def _number(text: str, what: str, line: int) -> float | None:
    if text == ".":
        return None
    if not _NUMBER.fullmatch(text):
        raise GenomicsParseError(f"{what} must be a number or '.'", line=line)
    value = float(text)
    if not math.isfinite(value):
        raise GenomicsParseError(f"{what} must be finite", line=line)
    return value
