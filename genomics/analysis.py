"""The app's one door into the pure library (genomics.variants): parse a source, annotate it,
summarise it. Everything else in the app consumes the plain values returned here, so a change
in the library's names touches this module only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genomics.variants.model import GenomeBuild, GenomicsParseError, ParsedReport

__all__ = [
    "Analysis",
    "Finding",
    "GenomicsParseError",
    "ParsedReport",
    "analyse",
    "parse_payload_mapping",
    "parse_source",
    "tumour_type_for_diagnosis",
]

# Without a tumour type only tumour-agnostic entries can apply: the OncoTree root.
TUMOUR_AGNOSTIC = "TISSUE"


@dataclass(frozen=True)
class Finding:
    """One knowledge-base match, in the shape the report stores (models.Actionability)."""

    gene: str
    alteration: str
    level: str  # "" when the match carries no level here (other tumour type, filtered)
    escat: str
    drugs: tuple[str, ...]
    kb_entry_id: str
    kb_version: str
    match_basis: str
    tumour_type_matched: str  # the entry's OncoTree code the tumour type falls under, or ""
    entry_level: str
    resistance: bool
    filtered: bool
    source_line: int

    @property
    def actionable(self) -> bool:
        return bool(self.level)


@dataclass(frozen=True)
class Analysis:
    tumour_type: str
    kb_version: str
    tmb: float | None
    tmb_high: bool | None
    msi_status: str
    msi_score: float | None
    findings: tuple[Finding, ...]
    features: dict[str, float | None]  # NaN (not measured) as None, so it stores as JSON

    @property
    def actionable(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.actionable)

    @property
    def other_findings(self) -> tuple[Finding, ...]:
        """Matches without a level here: other tumour types, or variants that failed filters."""
        return tuple(f for f in self.findings if not f.actionable)


def _build(build: str | None) -> GenomeBuild | None:
    if build == "GRCh37":
        return "GRCh37"
    if build == "GRCh38":
        return "GRCh38"
    return None


def parse_source(
    data: bytes, fmt: str, *, build: str | None = None, tumour_sample: str | None = None
) -> ParsedReport:
    """Parse a file's bytes (plain or bgzipped) with the importer registered for `fmt` (vcf,
    maf, tsv). Raises GenomicsParseError with the line number and reason."""
    from genomics.variants.formats import PARSERS

    parser = PARSERS.get(fmt)
    if parser is None:
        raise GenomicsParseError(f"unsupported format {fmt!r}")
    # Bytes, never str: the library reads a str as a path.
    if fmt == "tsv":
        return parser(data)
    return parser(data, build=_build(build), tumour_sample=tumour_sample)


def parse_payload_mapping(payload: Mapping[str, Any]) -> ParsedReport:
    """Parse the JSON findings of the API; errors name the path ("variants[3].pos: ...")."""
    from genomics.variants.payload import parse_payload

    return parse_payload(payload)


def format_from_name(name: str) -> str:
    """vcf / maf / tsv from a file name (".vcf.gz", ".maf", ".tsv"), or ""."""
    from genomics.variants.formats import format_from_name as from_name

    return from_name(name) or ""


def tumour_type_for_diagnosis(primary_site: str, morphology: str) -> str:
    """The OncoTree code for an ICD-O-3 diagnosis, or "" when the library has none."""
    from genomics.variants.oncotree import oncotree_from_icdo3

    return oncotree_from_icdo3(primary_site, morphology) or ""


def is_known_tumour_type(code: str) -> bool:
    from genomics.variants.oncotree import UnknownOncoTreeCode, load_oncotree

    try:
        load_oncotree().node(code)
    except UnknownOncoTreeCode:
        return False
    return True


def analyse(
    parsed: ParsedReport, *, tumour_type: str, covered_mb: float, has_small_variants: bool = True
) -> Analysis:
    """TMB over the covered territory, MSI, and the knowledge-base matches for `tumour_type`
    ("" = unknown: only tumour-agnostic entries apply). `has_small_variants=False` for a
    source that cannot hold any (a CNV/fusion table): its TMB is unknown, not zero."""
    from genomics.variants.annotate import annotate_report, level_rank
    from genomics.variants.oncotree import load_oncotree
    from genomics.variants.summary import (
        gene_feature_vector,
        msi_status,
        tumour_mutational_burden,
    )

    tmb = tumour_mutational_burden(parsed.variants, covered_mb) if has_small_variants else None
    msi = msi_status(parsed)
    annotated = annotate_report(
        parsed, tumour_type or TUMOUR_AGNOSTIC, tmb=tmb.value if tmb else None, msi=msi
    )
    tree = load_oncotree()

    def matched_code(entry_types: tuple[str, ...]) -> str:
        for code in entry_types:
            if tree.is_descendant(annotated.tumour_type, code):
                return code
        return ""

    ranked = sorted(annotated.annotations, key=lambda a: (a.level is None, level_rank(a.level)))
    findings = tuple(
        Finding(
            gene=a.gene,
            alteration=a.alteration,
            level=a.level or "",
            escat=a.escat or "",
            drugs=tuple(a.drugs),
            kb_entry_id=a.kb_entry_id,
            kb_version=a.kb_version,
            match_basis=a.match_basis,
            tumour_type_matched=matched_code(a.entry_tumour_types) if a.tumour_type_matched else "",
            entry_level=a.entry_level,
            resistance=a.resistance,
            filtered=a.filtered,
            source_line=a.source_line,
        )
        for a in ranked
    )
    return Analysis(
        tumour_type=annotated.tumour_type,
        kb_version=annotated.kb_version,
        tmb=tmb.value if tmb else None,
        tmb_high=tmb.high if tmb else None,
        msi_status=msi,
        msi_score=parsed.msi_score,
        findings=findings,
        features={
            key: None if math.isnan(value) else value
            for key, value in gene_feature_vector(annotated).items()
        },
    )
