"""Summaries of an annotated report: TMB, MSI status, key alterations per gene, feature vector.

TMB definition (documented in docs/genomics-knowledge-base.md):
    TMB = (PASS somatic variants whose consequence is in NON_SYNONYMOUS_CONSEQUENCES and whose
           VAF, when known, is >= vaf_floor) / covered territory in Mb
Synonymous, intronic, UTR and splice-region-only variants do not count; a variant without a
consequence cannot be classified and is reported as ``unclassified`` rather than guessed.
TMB-high is TMB >= 10 mutations/Mb (FDA pembrolizumab label, KEYNOTE-158; Marabelle et al.,
Lancet Oncol 2020; PMID 32919526).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .annotate import PASSING_FILTERS, AnnotatedReport, Annotation, consequences, level_rank
from .hgvs import try_parse_protein_change
from .model import ParsedReport, SmallVariant

TMB_HIGH_THRESHOLD = 10.0  # mutations per Mb
DEFAULT_VAF_FLOOR = 0.05
# Sequence Ontology terms that change the protein: missense, nonsense, frameshift, in-frame
# indels, canonical splice sites, stop/start lost.
NON_SYNONYMOUS_CONSEQUENCES = frozenset(
    {
        "missense_variant",
        "stop_gained",
        "frameshift_variant",
        "inframe_insertion",
        "inframe_deletion",
        "splice_donor_variant",
        "splice_acceptor_variant",
        "stop_lost",
        "start_lost",
        "protein_altering_variant",
    }
)
# The genes of the feature vector; each gets _mut, _amp, _del and _fusion keys.
DEFAULT_GENES: tuple[str, ...] = (
    "EGFR",
    "KRAS",
    "NRAS",
    "BRAF",
    "ERBB2",
    "PIK3CA",
    "ALK",
    "ROS1",
    "RET",
    "MET",
    "NTRK1",
    "NTRK2",
    "NTRK3",
    "BRCA1",
    "BRCA2",
    "IDH1",
    "FGFR2",
    "TP53",
)
# Named alterations with their own key: key -> knowledge-base entry id prefixes that set it.
SPECIFIC_FEATURES: dict[str, tuple[str, ...]] = {
    "EGFR_ex19del": ("EGFR-EX19DEL",),
    "EGFR_L858R": ("EGFR-L858R",),
    "EGFR_T790M": ("EGFR-T790M",),
    "EGFR_ex20ins": ("EGFR-EX20INS",),
    "KRAS_G12C": ("KRAS-G12C",),
    "BRAF_V600E": ("BRAF-V600E",),
    "MET_ex14": ("MET-EX14",),
}


@dataclass(frozen=True)
class TmbResult:
    value: float  # mutations per Mb
    mutations: int  # counted
    covered_mb: float
    high: bool
    threshold: float
    vaf_floor: float | None
    excluded_filtered: int
    excluded_low_vaf: int
    excluded_not_coding: int  # synonymous, intronic, UTR, splice region only
    unclassified: int  # no consequence to judge by


def is_non_synonymous(variant: SmallVariant) -> bool:
    return bool(consequences(variant) & NON_SYNONYMOUS_CONSEQUENCES)


def tumour_mutational_burden(
    variants: Iterable[SmallVariant],
    covered_mb: float,
    *,
    vaf_floor: float | None = DEFAULT_VAF_FLOOR,
    threshold: float = TMB_HIGH_THRESHOLD,
) -> TmbResult:
    """TMB in mutations/Mb over ``covered_mb`` (the assay's coding territory)."""
    if not covered_mb > 0 or math.isinf(covered_mb):
        raise ValueError("covered territory must be a positive number of megabases")
    counted = filtered = low_vaf = not_coding = unclassified = 0
    for variant in variants:
        if variant.filter not in PASSING_FILTERS:
            filtered += 1
            continue
        if not variant.consequence.strip():
            unclassified += 1
            continue
        if not is_non_synonymous(variant):
            not_coding += 1
            continue
        if vaf_floor is not None and variant.vaf is not None and variant.vaf < vaf_floor:
            low_vaf += 1
            continue
        counted += 1
    value = counted / covered_mb
    return TmbResult(
        value=value,
        mutations=counted,
        covered_mb=covered_mb,
        high=value >= threshold,
        threshold=threshold,
        vaf_floor=vaf_floor,
        excluded_filtered=filtered,
        excluded_low_vaf=low_vaf,
        excluded_not_coding=not_coding,
        unclassified=unclassified,
    )


def msi_status(report: ParsedReport, given: str | None = None) -> str:
    """ "MSI-H", "MSS" or "" (unknown): the given value wins over the report's own."""
    status = given if given is not None else report.msi_status
    if status not in ("MSI-H", "MSS", ""):
        raise ValueError("MSI status must be 'MSI-H', 'MSS' or ''")
    return status


def key_alterations(annotated: AnnotatedReport) -> dict[str, Annotation]:
    """The highest-level actionable annotation per gene ("" for MSI-H/TMB-high), ranked in
    OncoKB's order 1, R1, 2, 3A, 3B, 4, R2. Filtered and other-tumour-type matches never count."""
    best: dict[str, Annotation] = {}
    for annotation in annotated.actionable:
        key = annotation.gene or annotation.alteration.split(" ")[0]
        current = best.get(key)
        if current is None or level_rank(annotation.level) < level_rank(current.level):
            best[key] = annotation
    return dict(sorted(best.items(), key=lambda kv: (level_rank(kv[1].level), kv[0])))


def feature_keys(genes: Iterable[str] = DEFAULT_GENES) -> tuple[str, ...]:
    """The feature vector's keys, in order. Stable: outcome models are trained on them."""
    keys: list[str] = []
    for gene in genes:
        keys += [f"{gene}_mut", f"{gene}_amp", f"{gene}_del", f"{gene}_fusion"]
    keys += list(SPECIFIC_FEATURES)
    keys += ["TMB", "TMB_high", "MSI_H", "actionable_level_1", "n_actionable"]
    return tuple(keys)


def gene_feature_vector(
    annotated: AnnotatedReport, genes: Iterable[str] = DEFAULT_GENES
) -> dict[str, float]:
    """Gene-level features for the outcome models (1.0 present, 0.0 absent; NaN = not measured).

    ``{GENE}_mut``: a PASS non-synonymous mutation in the gene (or one matched to a knowledge-
    base entry of the gene by coordinate); ``_amp`` / ``_del``: an amplification / homozygous
    deletion call; ``_fusion``: the gene in a fusion. Specific keys (``KRAS_G12C`` ...) are set
    by actionable or other-tumour-type matches of their entries. ``TMB`` is mutations/Mb and
    ``TMB_high`` its >= 10 flag, ``MSI_H`` 1/0: NaN when the report does not say.
    """
    genes = tuple(g.upper() for g in genes)
    vector: dict[str, float] = dict.fromkeys(feature_keys(genes), 0.0)
    report = annotated.report
    kb_matched = {
        a.subject_index
        for a in annotated.annotations
        if a.subject_kind == "variant" and not a.filtered
    }
    kb_gene = {
        a.subject_index: a.gene
        for a in annotated.annotations
        if a.subject_kind == "variant" and not a.filtered
    }
    for i, variant in enumerate(report.variants):
        if variant.filter not in PASSING_FILTERS:
            continue
        gene = variant.gene.upper() or kb_gene.get(i, "")
        if gene in genes and (is_non_synonymous(variant) or i in kb_matched):
            protein = try_parse_protein_change(variant.hgvs_p)
            if protein is None or protein.kind != "synonymous":
                vector[f"{gene}_mut"] = 1.0
    for call in report.copy_numbers:
        gene = call.gene.upper()
        if gene in genes and call.call == "amplification":
            vector[f"{gene}_amp"] = 1.0
        if gene in genes and call.call == "deletion":
            vector[f"{gene}_del"] = 1.0
    for fusion in report.fusions:
        for gene in (fusion.gene_5prime.upper(), fusion.gene_3prime.upper()):
            if gene in genes:
                vector[f"{gene}_fusion"] = 1.0
    for annotation in annotated.annotations:
        if annotation.filtered:
            continue
        for key, prefixes in SPECIFIC_FEATURES.items():
            if annotation.kb_entry_id.startswith(prefixes):
                vector[key] = 1.0
    actionable = annotated.actionable
    vector["actionable_level_1"] = float(any(a.level == "1" for a in actionable))
    subjects = {
        (a.subject_kind, a.alteration if a.subject_kind == "biomarker" else a.subject_index)
        for a in actionable
    }
    vector["n_actionable"] = float(len(subjects))
    if annotated.tmb is None:
        vector["TMB"] = math.nan
        vector["TMB_high"] = math.nan
    else:
        vector["TMB"] = float(annotated.tmb)
        vector["TMB_high"] = float(annotated.tmb >= TMB_HIGH_THRESHOLD)
    vector["MSI_H"] = {"MSI-H": 1.0, "MSS": 0.0}.get(annotated.msi_status, math.nan)
    return vector
