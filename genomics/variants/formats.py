"""The report importers, registered by name: every one takes a source and returns a
ParsedReport or raises GenomicsParseError."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from .bgzf import DEFAULT_MAX_BYTES, Source, is_gzip, read_raw
from .maf import parse_maf
from .model import GenomicsParseError, ParsedReport
from .tabular import VERSION_LINE, parse_tabular
from .vcf import parse_vcf

PARSERS: dict[str, Callable[..., ParsedReport]] = {
    "vcf": parse_vcf,
    "maf": parse_maf,
    "tsv": parse_tabular,
}

_SUFFIXES = (
    (".vcf", "vcf"),
    (".vcf.gz", "vcf"),
    (".vcf.bgz", "vcf"),
    (".maf", "maf"),
    (".maf.txt", "maf"),
    (".maf.gz", "maf"),
    (".tsv", "tsv"),
)


def format_from_name(name: str) -> str | None:
    lower = name.lower()
    for suffix, kind in _SUFFIXES:
        if lower.endswith(suffix):
            return kind
    return None


def sniff_format(data: bytes) -> str:
    """vcf, tsv or maf from the first bytes of the (decompressed) text."""
    if data.startswith(b"##fileformat=VCF"):
        return "vcf"
    for line in data.split(b"\n", 50)[:50]:
        if line.startswith(VERSION_LINE.encode()):
            return "tsv"
        if line.startswith(b"#"):
            continue
        return "tsv" if line.split(b"\t", 1)[0] in (b"cnv", b"fusion", b"msi") else "maf"
    return "maf"


def parse_report(source: Source, *, format: str | None = None, **options: Any) -> ParsedReport:
    """Parse with the named importer, or the one the content looks like."""
    if format is None:
        raw = read_raw(source, max_bytes=options.get("max_bytes", DEFAULT_MAX_BYTES))
        head = raw[:65536]
        if is_gzip(raw):
            try:  # the first member is enough to tell; the parser reads (and checks) it all
                head = zlib.decompressobj(31).decompress(raw[:65536], 65536)
            except zlib.error:
                head = b""
        format = sniff_format(head)
        source = raw
    parser = PARSERS.get(format)
    if parser is None:
        raise GenomicsParseError(f"unknown format {format!r} (expected one of {sorted(PARSERS)})")
    return parser(source, **options)
