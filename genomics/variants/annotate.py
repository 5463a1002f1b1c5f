"""Match a report's alterations against the knowledge base in the patient's tumour type.

How a small variant matches an entry (``match_basis``):
- "protein change": the annotated HGVS p. of the entry's gene is one the entry lists, a missense
  change at one of its codons, or an in-frame deletion/insertion inside its exon's codon range;
- "hotspot coordinate": the variant is one of the entry's curated alleles on the report's build
  (chrom, pos, ref, alt), so unannotated VCFs still match;
- "exon range": an unannotated in-frame deletion/insertion inside the exon on the report's build;
- "splice site": an annotated splice donor/acceptor (or exon-loss) consequence near the exon,
  or "splice site coordinate": a variant touching the exon's canonical splice dinucleotides;
- "loss of function": a truncating or canonical splice-site consequence in the entry's gene.
Copy numbers match by gene ("copy number"), fusions by gene and partner ("fusion"), MSI-H and
TMB-high by the given status/value ("biomarker").

Near misses do not match: another amino-acid change at the same codon (KRAS G12D is not G12C),
another position, another tumour type outside the entry's OncoTree subtree. A matched alteration
outside the entry's tumour types is still returned, with ``tumour_type_matched=False`` and no
level or drugs, so a board sees "known in another tumour type" and never a level it does not
have. A variant whose FILTER is not PASS is returned with ``filtered=True`` and no level.
Every annotation carries the knowledge-base version it came from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from .hgvs import ProteinChange, try_parse_protein_change
from .knowledge import GenomicRange, KbEntry, KnowledgeBase, load_knowledge_base
from .model import CopyNumber, Fusion, GenomeBuild, ParsedReport, SmallVariant
from .oncotree import load_oncotree

# Sequence Ontology terms (VEP/SnpEff) for loss of function: truncating and canonical splice.
LOSS_OF_FUNCTION_CONSEQUENCES = frozenset(
    {
        "stop_gained",
        "frameshift_variant",
        "splice_donor_variant",
        "splice_acceptor_variant",
        "start_lost",
        "transcript_ablation",
    }
)
SPLICE_SKIPPING_CONSEQUENCES = frozenset(
    {
        "splice_donor_variant",
        "splice_acceptor_variant",
        "splice_donor_5th_base_variant",
        "exon_loss_variant",
    }
)
# MAF Variant_Classification -> SO term, for reports that carry MAF classes as consequence.
MAF_CLASS_TO_SO = {
    "Missense_Mutation": "missense_variant",
    "Nonsense_Mutation": "stop_gained",
    "Nonstop_Mutation": "stop_lost",
    "Frame_Shift_Del": "frameshift_variant",
    "Frame_Shift_Ins": "frameshift_variant",
    "In_Frame_Del": "inframe_deletion",
    "In_Frame_Ins": "inframe_insertion",
    "Splice_Site": "splice_donor_variant",  # MAF does not say which side; both are canonical
    "Translation_Start_Site": "start_lost",
    "Silent": "synonymous_variant",
    "Intron": "intron_variant",
    "3'UTR": "3_prime_UTR_variant",
    "5'UTR": "5_prime_UTR_variant",
    "Splice_Region": "splice_region_variant",
}
PASSING_FILTERS = frozenset({"PASS", ".", ""})  # "." / empty: no filter was applied (VCF 4.x)
LEVEL_ORDER = ("1", "R1", "2", "3A", "3B", "4", "R2")  # OncoKB's ranking of highest level

MatchBasis = Literal[
    "protein change",
    "hotspot coordinate",
    "exon range",
    "splice site",
    "splice site coordinate",
    "loss of function",
    "homozygous deletion",
    "copy number",
    "fusion",
    "biomarker",
]
SubjectKind = Literal["variant", "copy_number", "fusion", "biomarker"]


@dataclass(frozen=True)
class Annotation:
    """One knowledge-base entry matched by one alteration."""

    alteration: str  # "EGFR p.L858R", "ERBB2 amplification", "EML4::ALK fusion", "TMB-high"
    gene: str
    level: str | None  # None when filtered or outside the entry's tumour types
    escat: str | None
    drugs: tuple[str, ...]
    tumour_type_matched: bool
    kb_entry_id: str
    kb_version: str
    match_basis: MatchBasis
    entry_level: str = ""  # the entry's level whatever the context, for display only
    entry_tumour_types: tuple[str, ...] = ()
    resistance: bool = False
    filtered: bool = False
    filter: str = "PASS"
    subject_kind: SubjectKind = "variant"
    subject_index: int = -1  # index into report.variants / copy_numbers / fusions
    source_line: int = 0

    @property
    def actionable(self) -> bool:
        return self.level is not None


@dataclass(frozen=True)
class AnnotatedReport:
    report: ParsedReport
    tumour_type: str
    kb_version: str
    kb_sha256: str
    annotations: tuple[Annotation, ...]
    tmb: float | None = None
    msi_status: str = ""  # "MSI-H", "MSS" or "" (unknown)
    notes: tuple[str, ...] = field(default=())

    @property
    def actionable(self) -> tuple[Annotation, ...]:
        """Annotations that carry a level here: passing, in the patient's tumour type."""
        return tuple(a for a in self.annotations if a.actionable)

    @property
    def filtered(self) -> tuple[Annotation, ...]:
        return tuple(a for a in self.annotations if a.filtered)

    @property
    def other_tumour_types(self) -> tuple[Annotation, ...]:
        return tuple(a for a in self.annotations if not a.filtered and not a.tumour_type_matched)

    def for_variant(self, index: int) -> tuple[Annotation, ...]:
        return tuple(
            a for a in self.annotations if a.subject_kind == "variant" and a.subject_index == index
        )


def consequences(variant: SmallVariant) -> frozenset[str]:
    """The variant's SO consequence terms ("a&b", "a,b" and MAF classes understood)."""
    raw = variant.consequence.replace("&", ",").replace("|", ",")
    return frozenset(MAF_CLASS_TO_SO.get(t.strip(), t.strip()) for t in raw.split(",") if t.strip())


def level_rank(level: str | None) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


def _trim(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Drop the shared suffix then prefix: the changed bases and where they start."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while ref and alt and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def _in_frame_change_within(variant: SmallVariant, region: GenomicRange, *, deletion: bool) -> bool:
    if variant.chrom != region.chrom:
        return False
    net = len(variant.alt) - len(variant.ref)
    if net == 0 or net % 3 != 0 or (net < 0) != deletion:
        return False
    start, ref, _alt = _trim(variant.pos, variant.ref, variant.alt)
    if ref:  # deletion or delins: the removed bases lie inside the exon
        return region.start <= start and start + len(ref) - 1 <= region.end
    return region.start <= start - 1 and start <= region.end  # pure insertion between two bases


def _touches_splice_sites(variant: SmallVariant, region: GenomicRange) -> bool:
    """Overlaps the 2 intronic bases either side of the exon, or spans an exon boundary."""
    if variant.chrom != region.chrom:
        return False
    start, ref, _alt = _trim(variant.pos, variant.ref, variant.alt)
    end = start + max(len(ref), 1) - 1
    acceptor = (region.start - 2, region.start - 1)
    donor = (region.end + 1, region.end + 2)
    return any(start <= hi and end >= lo for lo, hi in (acceptor, donor))


def _near(variant: SmallVariant, region: GenomicRange, window: int) -> bool:
    return (
        variant.chrom == region.chrom
        and region.start - window <= variant.pos <= region.end + window
    )


def _match_variant(
    entry: KbEntry,
    variant: SmallVariant,
    protein: ProteinChange | None,
    terms: frozenset[str],
    build: GenomeBuild | None,
) -> MatchBasis | None:
    alt = entry.alteration
    same_gene = variant.gene.upper() == entry.gene
    if alt.kind == "mutation":
        if same_gene and protein is not None and protein.one_letter in alt.protein_changes:
            return "protein change"
    elif alt.kind == "codon":
        if (
            same_gene
            and protein is not None
            and protein.kind == "missense"
            and protein.position in alt.codons
        ):
            return "protein change"
    elif alt.kind in ("exon_deletion", "exon_insertion"):
        deletion = alt.kind == "exon_deletion"
        if same_gene and protein is not None and alt.codon_range is not None:
            inframe = protein.is_inframe_deletion if deletion else protein.is_inframe_insertion
            first, last = alt.codon_range
            if inframe and first <= protein.position and protein.last_position <= last:
                return "protein change"
        if build and alt.ranges:
            if _in_frame_change_within(variant, alt.ranges[build], deletion=deletion):
                return "exon range"
        return None
    elif alt.kind == "exon_skipping":
        region = alt.ranges[build] if (build and alt.ranges) else None
        if region is None:
            return None
        if same_gene and terms & SPLICE_SKIPPING_CONSEQUENCES:
            if _near(variant, region, alt.splice_window):
                return "splice site"
        if _touches_splice_sites(variant, region):
            return "splice site coordinate"
        return None
    elif alt.kind == "loss_of_function":
        if protein is not None and protein.one_letter in alt.excluded_protein_changes:
            return None
        if same_gene and (terms & LOSS_OF_FUNCTION_CONSEQUENCES):
            return "loss of function"
        if same_gene and not terms and protein is not None and protein.is_truncating:
            return "loss of function"
        return None
    else:
        return None
    if build and alt.hotspots:  # mutation / codon entries: the curated alleles on this build
        key = (variant.chrom, variant.pos, variant.ref, variant.alt)
        for spot in alt.hotspots[build]:
            if (spot.chrom, spot.pos, spot.ref, spot.alt) == key:
                return "hotspot coordinate"
    return None


def _in_context(entry: KbEntry, tumour_type: str) -> str | None:
    tree = load_oncotree()
    for code in entry.tumour_types:
        if tree.is_descendant(tumour_type, code):
            return code
    return None


def _annotation(
    entry: KbEntry,
    kb: KnowledgeBase,
    tumour_type: str,
    *,
    label: str,
    basis: MatchBasis,
    filtered: bool = False,
    filter_value: str = "PASS",
    subject_kind: SubjectKind = "variant",
    subject_index: int = -1,
    source_line: int = 0,
    gene: str = "",
) -> Annotation:
    in_context = _in_context(entry, tumour_type) is not None
    counts = in_context and not filtered
    return Annotation(
        alteration=label,
        gene=gene or entry.gene,
        level=entry.level if counts else None,
        escat=entry.escat if counts else None,
        drugs=entry.drugs if counts else (),
        tumour_type_matched=in_context,
        kb_entry_id=entry.id,
        kb_version=kb.version,
        match_basis=basis,
        entry_level=entry.level,
        entry_tumour_types=entry.tumour_types,
        resistance=entry.is_resistance,
        filtered=filtered,
        filter=filter_value,
        subject_kind=subject_kind,
        subject_index=subject_index,
        source_line=source_line,
    )


def _variant_label(variant: SmallVariant, entry: KbEntry, protein: ProteinChange | None) -> str:
    gene = variant.gene or entry.gene
    if protein is not None and protein.kind != "unknown":
        return f"{gene} p.{protein.one_letter}"
    if variant.hgvs_c:
        return f"{gene} {variant.hgvs_c}"
    return f"{gene} {variant.chrom}:{variant.pos} {variant.ref}>{variant.alt}"


def annotate_variant(
    variant: SmallVariant,
    tumour_type: str,
    kb: KnowledgeBase | None = None,
    *,
    build: GenomeBuild | None = None,
    index: int = -1,
) -> list[Annotation]:
    """Every knowledge-base entry this variant matches, best level first.

    ``tumour_type`` is an OncoTree code (unknown -> ``UnknownOncoTreeCode``); ``build`` defaults
    to ``variant.build``; ``index`` is recorded as ``subject_index``.
    """
    kb = kb or load_knowledge_base()
    tumour_type = load_oncotree().node(tumour_type).code
    build = variant.build or build
    if variant.chrom.startswith("chr"):  # the parsers strip it; callers building values may not
        variant = dataclasses.replace(variant, chrom=variant.chrom[3:])
    protein = try_parse_protein_change(variant.hgvs_p)
    terms = consequences(variant)
    filtered = variant.filter not in PASSING_FILTERS
    candidates = _candidates(kb, variant, build)
    result = []
    for entry in candidates:
        basis = _match_variant(entry, variant, protein, terms, build)
        if basis is None:
            continue
        result.append(
            _annotation(
                entry,
                kb,
                tumour_type,
                label=_variant_label(variant, entry, protein),
                basis=basis,
                filtered=filtered,
                filter_value=variant.filter,
                subject_index=index,
                source_line=variant.source_line,
                gene=variant.gene.upper() or entry.gene,
            )
        )
    return sorted(result, key=lambda a: (level_rank(a.level), a.kb_entry_id))


def _candidates(
    kb: KnowledgeBase, variant: SmallVariant, build: GenomeBuild | None
) -> tuple[KbEntry, ...]:
    """Entries of the variant's gene, plus coordinate-bearing entries on its chromosome (for
    unannotated variants). Keeps a 50,000-variant report fast."""
    by_gene = kb.entries_for_gene(variant.gene) if variant.gene else ()
    if not build:
        return by_gene
    on_chrom = _chromosome_index(kb, build).get(variant.chrom, ())
    if not by_gene:
        return on_chrom
    return by_gene + tuple(e for e in on_chrom if e not in by_gene)


@lru_cache(maxsize=16)
def _chromosome_index(kb: KnowledgeBase, build: str) -> dict[str, tuple[KbEntry, ...]]:
    index: dict[str, list[KbEntry]] = {}
    for entry in kb.entries:
        alt = entry.alteration
        chroms = set()
        if alt.hotspots:
            chroms |= {spot.chrom for spot in alt.hotspots[build]}
        if alt.ranges:
            chroms.add(alt.ranges[build].chrom)
        for chrom in chroms:
            index.setdefault(chrom, []).append(entry)
    return {chrom: tuple(entries) for chrom, entries in index.items()}


def annotate_copy_number(
    call: CopyNumber, tumour_type: str, kb: KnowledgeBase | None = None, *, index: int = -1
) -> list[Annotation]:
    kb = kb or load_knowledge_base()
    tumour_type = load_oncotree().node(tumour_type).code
    result = []
    for entry in kb.entries_for_gene(call.gene):
        kind = entry.alteration.kind
        basis: MatchBasis | None = None
        if kind == "amplification" and call.call == "amplification":
            basis = "copy number"
        elif kind == "deletion" and call.call == "deletion":
            basis = "copy number"
        elif kind == "loss_of_function" and call.call == "deletion":
            basis = "homozygous deletion"
        if basis is None:
            continue
        word = "amplification" if call.call == "amplification" else "homozygous deletion"
        result.append(
            _annotation(
                entry,
                kb,
                tumour_type,
                label=f"{call.gene.upper()} {word}",
                basis=basis,
                subject_kind="copy_number",
                subject_index=index,
                source_line=call.source_line,
            )
        )
    return sorted(result, key=lambda a: (level_rank(a.level), a.kb_entry_id))


def annotate_fusion(
    fusion: Fusion, tumour_type: str, kb: KnowledgeBase | None = None, *, index: int = -1
) -> list[Annotation]:
    kb = kb or load_knowledge_base()
    tumour_type = load_oncotree().node(tumour_type).code
    five, three = fusion.gene_5prime.upper(), fusion.gene_3prime.upper()
    result = []
    seen: set[str] = set()
    for gene, partner in ((five, three), (three, five)):
        for entry in kb.entries_for_gene(gene):
            if entry.alteration.kind != "fusion" or entry.id in seen:
                continue
            if entry.alteration.partners and partner not in entry.alteration.partners:
                continue
            seen.add(entry.id)
            result.append(
                _annotation(
                    entry,
                    kb,
                    tumour_type,
                    label=f"{five}::{three} fusion",
                    basis="fusion",
                    subject_kind="fusion",
                    subject_index=index,
                    source_line=fusion.source_line,
                )
            )
    return sorted(result, key=lambda a: (level_rank(a.level), a.kb_entry_id))


def annotate_biomarkers(
    tumour_type: str,
    kb: KnowledgeBase | None = None,
    *,
    tmb: float | None = None,
    msi: str | None = None,
) -> list[Annotation]:
    """MSI-H and TMB-high entries, when the status/value is known and qualifies."""
    kb = kb or load_knowledge_base()
    tumour_type = load_oncotree().node(tumour_type).code
    result = []
    for entry in kb.entries:
        kind = entry.alteration.kind
        if kind == "msi_high" and msi == "MSI-H":
            label = "MSI-H"
        elif kind == "tmb_high" and tmb is not None:
            threshold = entry.alteration.threshold_mut_per_mb or 10.0
            if tmb < threshold:
                continue
            label = f"TMB-high ({tmb:.1f} mut/Mb)"
        else:
            continue
        result.append(
            _annotation(
                entry, kb, tumour_type, label=label, basis="biomarker", subject_kind="biomarker"
            )
        )
    return result


def annotate_report(
    report: ParsedReport,
    tumour_type: str,
    kb: KnowledgeBase | None = None,
    *,
    tmb: float | None = None,
    msi: str | None = None,
) -> AnnotatedReport:
    """Annotate every variant, copy number, fusion and biomarker of ``report``.

    ``tmb`` (mutations/Mb, e.g. from ``summary.tumour_mutational_burden``) and ``msi``
    ("MSI-H"/"MSS") come from the caller; ``msi`` defaults to the report's own status.
    """
    kb = kb or load_knowledge_base()
    tumour_type = load_oncotree().node(tumour_type).code
    msi_status = msi if msi is not None else report.msi_status
    if msi_status not in ("MSI-H", "MSS", ""):
        raise ValueError("msi must be 'MSI-H', 'MSS' or ''")
    annotations: list[Annotation] = []
    for i, variant in enumerate(report.variants):
        annotations += annotate_variant(variant, tumour_type, kb, build=report.build, index=i)
    for i, call in enumerate(report.copy_numbers):
        annotations += annotate_copy_number(call, tumour_type, kb, index=i)
    for i, fusion in enumerate(report.fusions):
        annotations += annotate_fusion(fusion, tumour_type, kb, index=i)
    annotations += annotate_biomarkers(tumour_type, kb, tmb=tmb, msi=msi_status)
    notes = []
    if report.variants and not (report.build or any(v.build for v in report.variants)):
        notes.append("no genome build: unannotated variants could not be matched by coordinate")
    return AnnotatedReport(
        report=report,
        tumour_type=tumour_type,
        kb_version=kb.version,
        kb_sha256=kb.sha256,
        annotations=tuple(annotations),
        tmb=tmb,
        msi_status=msi_status,
        notes=tuple(notes),
    )
