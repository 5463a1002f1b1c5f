"""A report sent as JSON through the API -> ParsedReport, as strictly as the file parsers.

The payload uses the dataclass field names of model.py::

    {"build": "GRCh38", "tumour_sample": "T1", "normal_sample": "N1",
     "msi_status": "MSI-H", "msi_score": 38.2,
     "variants": [{"chrom": "7", "pos": 55191822, "ref": "T", "alt": "G",
                   "gene": "EGFR", "hgvs_p": "p.Leu858Arg", "vaf": 0.31, "depth": 140}],
     "copy_numbers": [{"gene": "ERBB2", "call": "amplification", "copy_number": 12}],
     "fusions": [{"gene_5prime": "EML4", "gene_3prime": "ALK", "supporting_reads": 41}]}

Every key is optional except chrom/pos/ref/alt of a variant, gene/call of a copy number and
both genes of a fusion. Unknown keys and wrong types are errors whose message names the path
("variants[3].pos: ..."). Variants are normalised (trimmed) like a VCF's; `source_line` is
the item's 1-based index in its list. The report's build, when given, applies to every
variant; a variant's own build must agree with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal, cast

from .model import (
    CopyNumber,
    CopyNumberCall,
    Fusion,
    GenomeBuild,
    GenomicsParseError,
    ParsedReport,
    SmallVariant,
)
from .normalize import normalize_alleles
from .reference import canonical_chrom
from .tabular import COPY_NUMBER_CALLS, GENE_SYMBOL, MSI_STATUSES

MAX_ITEMS = 100_000
BUILDS = ("GRCh37", "GRCh38")
_ALLELE = re.compile(r"[ACGTN]+")
_TOP_KEYS = frozenset(
    {
        "variants",
        "copy_numbers",
        "fusions",
        "build",
        "tumour_sample",
        "normal_sample",
        "msi_status",
        "msi_score",
        "samples",
    }
)
_STR, _INT, _FLOAT = "text", "integer", "number"
_VARIANT_FIELDS: dict[str, str] = {
    "chrom": _STR, "pos": _INT, "ref": _STR, "alt": _STR, "build": _STR, "gene": _STR,
    "transcript": _STR, "hgvs_c": _STR, "hgvs_p": _STR, "consequence": _STR, "vaf": _FLOAT,
    "depth": _INT, "alt_depth": _INT, "filter": _STR, "sample": _STR,
}  # fmt: skip
_COPY_FIELDS = {"gene": _STR, "call": _STR, "copy_number": _FLOAT, "log2_ratio": _FLOAT}
_FUSION_FIELDS = {"gene_5prime": _STR, "gene_3prime": _STR, "supporting_reads": _INT}


def _fail(path: str, reason: str) -> GenomicsParseError:
    return GenomicsParseError(f"{path}: {reason}")


def _typed(value: Any, kind: str, path: str) -> Any:
    if value is None:
        return None
    if kind == _STR:
        if not isinstance(value, str) or len(value) > 1000:
            raise _fail(path, "must be text (at most 1,000 characters)")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"must be a{'n' if kind == _INT else ''} {kind}")
    if kind == _INT:
        if not isinstance(value, int):
            raise _fail(path, "must be an integer")
        return value
    if not math.isfinite(value):
        raise _fail(path, "must be a finite number")
    return float(value)


def _fields(item: Any, spec: dict[str, str], required: tuple[str, ...], path: str) -> dict:
    if not isinstance(item, Mapping):
        raise _fail(path, "must be an object")
    for key in item:
        if key not in spec:
            raise _fail(f"{path}.{str(key)[:40]}", "unknown key")
    values = {key: _typed(item[key], spec[key], f"{path}.{key}") for key in item}
    for key in required:
        if values.get(key) is None:
            raise _fail(f"{path}.{key}", "is required")
    return values


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise _fail(key, "must be a list")
    if len(items) > MAX_ITEMS:
        raise _fail(key, f"more than {MAX_ITEMS:,} items")
    return items


def parse_payload(data: Mapping[str, Any]) -> ParsedReport:
    """Validate a JSON report (already decoded) into a ParsedReport; GenomicsParseError names
    the offending path."""
    if not isinstance(data, Mapping):
        raise GenomicsParseError("the report must be a JSON object")
    for key in data:
        if key not in _TOP_KEYS:
            raise _fail(str(key)[:40], "unknown key")
    build = _typed(data.get("build"), _STR, "build")
    if build is not None and build not in BUILDS:
        raise _fail("build", "must be GRCh37 or GRCh38")
    tumour = _typed(data.get("tumour_sample"), _STR, "tumour_sample") or ""
    normal = _typed(data.get("normal_sample"), _STR, "normal_sample") or ""
    msi_status = _typed(data.get("msi_status"), _STR, "msi_status") or ""
    if msi_status and msi_status not in MSI_STATUSES:
        raise _fail("msi_status", "must be MSI-H or MSS")
    msi_score = _typed(data.get("msi_score"), _FLOAT, "msi_score")
    samples = _list(data, "samples")
    for i, name in enumerate(samples):
        _typed(name, _STR, f"samples[{i}]")
    variants = [
        _variant(item, f"variants[{i}]", i + 1, cast(GenomeBuild | None, build), tumour)
        for i, item in enumerate(_list(data, "variants"))
    ]
    copy_numbers = [
        _copy_number(item, f"copy_numbers[{i}]", i + 1)
        for i, item in enumerate(_list(data, "copy_numbers"))
    ]
    fusions = [
        _fusion(item, f"fusions[{i}]", i + 1) for i, item in enumerate(_list(data, "fusions"))
    ]
    return ParsedReport(
        variants=tuple(variants),
        copy_numbers=tuple(copy_numbers),
        fusions=tuple(fusions),
        build=cast(GenomeBuild | None, build),
        samples=tuple(samples),
        tumour_sample=tumour,
        normal_sample=normal,
        msi_status=cast(Literal["MSI-H", "MSS", ""], msi_status),
        msi_score=msi_score,
        meta={"format": "json"},
    )


def _variant(
    item: Any, path: str, line: int, build: GenomeBuild | None, tumour: str
) -> SmallVariant:
    values = _fields(item, _VARIANT_FIELDS, ("chrom", "pos", "ref", "alt"), path)
    chrom = canonical_chrom(values["chrom"])
    if not chrom or any(c.isspace() or c == ":" for c in chrom):
        raise _fail(f"{path}.chrom", "must be a chromosome name")
    if values["pos"] < 1:
        raise _fail(f"{path}.pos", "must be a positive integer")
    for key in ("ref", "alt"):
        values[key] = values[key].upper()
        if not _ALLELE.fullmatch(values[key]):
            raise _fail(f"{path}.{key}", "must be bases A, C, G, T or N")
    own_build = values.get("build")
    if own_build is not None and own_build not in BUILDS:
        raise _fail(f"{path}.build", "must be GRCh37 or GRCh38")
    if own_build is not None and build is not None and own_build != build:
        raise _fail(f"{path}.build", "differs from the report's build")
    vaf = values.get("vaf")
    if vaf is not None and not 0.0 <= vaf <= 1.0:
        raise _fail(f"{path}.vaf", "must lie between 0 and 1")
    for key in ("depth", "alt_depth"):
        if values.get(key) is not None and values[key] < 0:
            raise _fail(f"{path}.{key}", "must not be negative")
    try:
        pos, ref, alt = normalize_alleles(chrom, values["pos"], values["ref"], values["alt"])
    except GenomicsParseError as exc:
        raise _fail(path, exc.reason) from None
    return SmallVariant(
        chrom=chrom,
        pos=pos,
        ref=ref,
        alt=alt,
        build=own_build or build,
        gene=values.get("gene") or "",
        transcript=values.get("transcript") or "",
        hgvs_c=values.get("hgvs_c") or "",
        hgvs_p=values.get("hgvs_p") or "",
        consequence=values.get("consequence") or "",
        vaf=vaf,
        depth=values.get("depth"),
        alt_depth=values.get("alt_depth"),
        filter=values.get("filter") or "PASS",
        sample=values.get("sample") or tumour,
        source_line=line,
    )


def _copy_number(item: Any, path: str, line: int) -> CopyNumber:
    values = _fields(item, _COPY_FIELDS, ("gene", "call"), path)
    if not GENE_SYMBOL.fullmatch(values["gene"]):
        raise _fail(f"{path}.gene", "must be an HGNC symbol")
    if values["call"] not in COPY_NUMBER_CALLS:
        raise _fail(f"{path}.call", "must be amplification, gain, loss or deletion")
    if values.get("copy_number") is not None and values["copy_number"] < 0:
        raise _fail(f"{path}.copy_number", "must not be negative")
    return CopyNumber(
        gene=values["gene"],
        call=cast(CopyNumberCall, values["call"]),
        copy_number=values.get("copy_number"),
        log2_ratio=values.get("log2_ratio"),
        source_line=line,
    )


def _fusion(item: Any, path: str, line: int) -> Fusion:
    values = _fields(item, _FUSION_FIELDS, ("gene_5prime", "gene_3prime"), path)
    for key in ("gene_5prime", "gene_3prime"):
        if not GENE_SYMBOL.fullmatch(values[key]):
            raise _fail(f"{path}.{key}", "must be an HGNC symbol")
    reads = values.get("supporting_reads")
    if reads is not None and reads < 0:
        raise _fail(f"{path}.supporting_reads", "must not be negative")
    return Fusion(values["gene_5prime"], values["gene_3prime"], reads, source_line=line)
