"""Annotation: every knowledge-base rule matches its alteration in its tumour type (by protein
change and by coordinates on both builds), and near misses do not match: another tumour type,
another amino-acid change at the same codon, a neighbouring position, a filtered variant."""

from __future__ import annotations

import dataclasses

import pytest

from genomics.variants.annotate import (
    annotate_copy_number,
    annotate_fusion,
    annotate_report,
    annotate_variant,
)
from genomics.variants.hgvs import parse_protein_change
from genomics.variants.knowledge import load_knowledge_base
from genomics.variants.model import CopyNumber, Fusion, ParsedReport, SmallVariant
from genomics.variants.oncotree import UnknownOncoTreeCode

KB = load_knowledge_base()
# A subtype under each entry's tumour type: the hierarchy must carry the entry down to it.
SUBTYPE = {
    "NSCLC": "LUAD",
    "COADREAD": "COAD",
    "BRCA": "IDC",
    "MEL": "SKCM",
    "EGC": "STAD",
    "CHOL": "IHCH",
    "OVT": "HGSOC",
    "PRAD": "PRAD",
    "PAAD": "PAAD",
    "TISSUE": "UCEC",
}
OUTSIDE = "HCC"  # no entry names liver cancer: only tumour-agnostic entries apply there


def entries(*kinds):
    return [e for e in KB.entries if e.alteration.kind in kinds]


def ids(annotations):
    return {a.kb_entry_id for a in annotations}


def levelled(annotations):
    return {a.kb_entry_id: a.level for a in annotations if a.level is not None}


def protein_cases():
    for entry in entries("mutation"):
        for change in entry.alteration.protein_changes:
            yield pytest.param(entry, change, id=f"{entry.id}-{change}")


def hotspot_cases():
    for entry in entries("mutation", "codon"):
        for build, spots in (entry.alteration.hotspots or {}).items():
            for spot in spots:
                yield pytest.param(
                    entry, build, spot, id=f"{entry.id}-{spot.protein_change}-{build}"
                )


# --- protein change --------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "change"), list(protein_cases()))
def test_listed_protein_change_matches_in_its_tumour_type_in_both_notations(entry, change):
    three = parse_protein_change(change).three_letter
    for hgvs_p in (f"p.{change}", three):
        variant = SmallVariant("1", 1, "A", "T", gene=entry.gene, hgvs_p=hgvs_p)
        for code in entry.tumour_types:
            found = annotate_variant(variant, SUBTYPE[code], KB)
            match = next(a for a in found if a.kb_entry_id == entry.id)
            assert match.level == entry.level
            assert match.drugs == entry.drugs
            assert match.tumour_type_matched
            assert match.match_basis == "protein change"
            assert match.kb_version == "2026.11.0"


@pytest.mark.parametrize(("entry", "change"), list(protein_cases()))
def test_listed_protein_change_gives_no_level_in_another_tumour_type(entry, change):
    variant = SmallVariant("1", 1, "A", "T", gene=entry.gene, hgvs_p=f"p.{change}")
    found = [a for a in annotate_variant(variant, OUTSIDE, KB) if a.kb_entry_id == entry.id]
    assert found, "still reported as known in another tumour type"
    assert all(a.level is None and a.drugs == () and not a.tumour_type_matched for a in found)
    assert all(a.entry_level == entry.level for a in found)


@pytest.mark.parametrize(
    ("entry", "change"),
    [p for p in protein_cases() if parse_protein_change(p.values[1]).kind == "missense"],
)
def test_another_amino_acid_at_the_same_codon_does_not_match(entry, change):
    parsed = parse_protein_change(change)
    other = next(
        aa
        for aa in "ACDEFGHIKLMNPQRSTVWY"
        if aa not in (parsed.ref, parsed.alt)
        and f"{parsed.ref}{parsed.position}{aa}" not in entry.alteration.protein_changes
    )
    variant = SmallVariant(
        "1", 1, "A", "T", gene=entry.gene, hgvs_p=f"p.{parsed.ref}{parsed.position}{other}"
    )
    assert entry.id not in ids(annotate_variant(variant, SUBTYPE[entry.tumour_types[0]], KB))


def test_same_change_in_another_gene_does_not_match():
    variant = SmallVariant("1", 1, "A", "T", gene="HRAS", hgvs_p="p.G12C")
    assert annotate_variant(variant, "LUAD", KB) == []


@pytest.mark.parametrize(
    ("gene", "hgvs_p", "tumour_type", "entry_id"),
    [
        ("KRAS", "p.Gly12Asp", "COAD", "KRAS-RAS-COADREAD-R1"),
        ("KRAS", "p.Q61H", "READ", "KRAS-RAS-COADREAD-R1"),
        ("KRAS", "p.A146T", "COAD", "KRAS-RAS-COADREAD-R1"),
        ("NRAS", "p.Q61K", "COAD", "NRAS-RAS-COADREAD-R1"),
        ("NRAS", "p.K117N", "COAD", "NRAS-RAS-COADREAD-R1"),
        ("IDH1", "p.Arg132Cys", "IHCH", "IDH1-R132-CHOL"),
        ("IDH1", "p.R132H", "EHCH", "IDH1-R132-CHOL"),
    ],
)
def test_a_missense_change_at_a_listed_codon_matches_a_codon_rule(
    gene, hgvs_p, tumour_type, entry_id
):
    variant = SmallVariant("1", 1, "A", "T", gene=gene, hgvs_p=hgvs_p)
    match = next(a for a in annotate_variant(variant, tumour_type, KB) if a.kb_entry_id == entry_id)
    assert match.level == KB.entry(entry_id).level
    assert match.match_basis == "protein change"


@pytest.mark.parametrize(
    ("gene", "hgvs_p"),
    [("KRAS", "p.G14V"), ("KRAS", "p.G12="), ("KRAS", "p.Gly12Gly"), ("IDH1", "p.R131H")],
)
def test_codon_rules_ignore_other_codons_and_silent_changes(gene, hgvs_p):
    variant = SmallVariant("1", 1, "A", "T", gene=gene, hgvs_p=hgvs_p)
    assert annotate_variant(variant, "COAD", KB) == []
    assert annotate_variant(variant, "IHCH", KB) == []


def test_kras_g12d_in_lung_cancer_is_not_g12c():
    variant = SmallVariant("12", 25245350, "C", "T", build="GRCh38", gene="KRAS", hgvs_p="p.G12D")
    assert levelled(annotate_variant(variant, "LUAD", KB)) == {}


def test_kras_g12c_in_colorectal_cancer_is_level_1_combination_and_r1_anti_egfr_alone():
    variant = SmallVariant("12", 25245351, "C", "A", build="GRCh38", gene="KRAS", hgvs_p="p.G12C")
    assert levelled(annotate_variant(variant, "COAD", KB)) == {
        "KRAS-G12C-COADREAD": "1",
        "KRAS-RAS-COADREAD-R1": "R1",
    }
    assert levelled(annotate_variant(variant, "LUAD", KB)) == {"KRAS-G12C-NSCLC": "1"}


def test_egfr_t790m_is_sensitive_to_osimertinib_and_resistant_to_earlier_tkis():
    variant = SmallVariant("7", 55249071, "C", "T", build="GRCh37")
    found = {a.kb_entry_id: a for a in annotate_variant(variant, "LUAD", KB)}
    assert found["EGFR-T790M-NSCLC"].drugs == ("osimertinib",)
    assert found["EGFR-T790M-NSCLC-R1"].level == "R1"
    assert found["EGFR-T790M-NSCLC-R1"].resistance
    assert "gefitinib" in found["EGFR-T790M-NSCLC-R1"].drugs
    assert [a.level for a in annotate_variant(variant, "LUAD", KB)] == ["1", "R1"]


# --- coordinates -----------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "build", "spot"), list(hotspot_cases()))
def test_unannotated_hotspot_matches_by_coordinate_on_its_build(entry, build, spot):
    variant = SmallVariant(spot.chrom, spot.pos, spot.ref, spot.alt, build=build)
    match = next(
        a
        for a in annotate_variant(variant, SUBTYPE[entry.tumour_types[0]], KB)
        if a.kb_entry_id == entry.id
    )
    assert match.match_basis == "hotspot coordinate"
    assert match.level == entry.level
    assert match.gene == entry.gene


@pytest.mark.parametrize(("entry", "build", "spot"), list(hotspot_cases()))
def test_hotspot_near_misses_do_not_match(entry, build, spot):
    code = SUBTYPE[entry.tumour_types[0]]
    other_build = "GRCh38" if build == "GRCh37" else "GRCh37"
    other_alt = next(b for b in "ACGT" if b not in (spot.ref, spot.alt))
    near_misses = [
        SmallVariant(spot.chrom, spot.pos + 1, spot.ref, spot.alt, build=build),
        SmallVariant(spot.chrom, spot.pos - 1, spot.ref, spot.alt, build=build),
        SmallVariant(spot.chrom, spot.pos, spot.ref, other_alt, build=build),
        SmallVariant(spot.chrom, spot.pos, spot.ref, spot.alt, build=other_build),
        SmallVariant(spot.chrom, spot.pos, spot.ref, spot.alt),  # build unknown
    ]
    for variant in near_misses:
        found = annotate_variant(variant, code, KB)
        same = [a for a in found if a.kb_entry_id == entry.id]
        if not same:
            continue
        # another allele at the same position may be another listed allele of the same rule
        listed = {(s.pos, s.ref, s.alt) for s in entry.alteration.hotspots[variant.build or build]}
        assert variant.build == build
        assert (variant.pos, variant.ref, variant.alt) in listed


@pytest.mark.parametrize(("entry", "build", "spot"), list(hotspot_cases()))
def test_filtered_hotspot_is_reported_as_filtered_without_a_level(entry, build, spot):
    variant = SmallVariant(spot.chrom, spot.pos, spot.ref, spot.alt, build=build, filter="LowQual")
    found = [
        a
        for a in annotate_variant(variant, SUBTYPE[entry.tumour_types[0]], KB)
        if a.kb_entry_id == entry.id
    ]
    assert found
    assert all(a.filtered and a.level is None and a.drugs == () for a in found)
    assert found[0].filter == "LowQual"


def test_the_report_build_is_used_when_the_variant_has_none():
    variant = SmallVariant("7", 140753336, "A", "T")
    report = ParsedReport(variants=(variant,), build="GRCh38")
    annotated = annotate_report(report, "SKCM", KB)
    assert levelled(annotated.actionable) == {"BRAF-V600E-MEL": "1"}
    assert annotated.for_variant(0)[0].match_basis == "hotspot coordinate"


# --- exon 19 deletions and exon 20 insertions ------------------------------------------

EX19_DELETIONS = {  # E746_A750del (c.2235_2249del15), VCF with its anchor base
    "GRCh37": ("7", 55242464, "AGGAATTAAGAGAAGC", "A"),
    "GRCh38": ("7", 55174771, "AGGAATTAAGAGAAGC", "A"),
}


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_unannotated_exon19_in_frame_deletion_matches_by_exon_range(build):
    chrom, pos, ref, alt = EX19_DELETIONS[build]
    variant = SmallVariant(chrom, pos, ref, alt, build=build)
    assert levelled(annotate_variant(variant, "LUAD", KB)) == {"EGFR-EX19DEL-NSCLC": "1"}
    assert annotate_variant(variant, "LUAD", KB)[0].match_basis == "exon range"


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_exon19_near_misses_do_not_match(build):
    chrom, pos, ref, alt = EX19_DELETIONS[build]
    frameshift = SmallVariant(chrom, pos, ref[:-1], alt, build=build)  # 14 bp: not in frame
    region = KB.entry("EGFR-EX19DEL-NSCLC").alteration.ranges[build]
    outside = SmallVariant(chrom, region.end + 10, "AGGAATTAAGAGAAGC", "A", build=build)
    straddling = SmallVariant(chrom, region.end - 5, "AGGAATTAAGAGAAGC", "A", build=build)
    insertion = SmallVariant(chrom, pos, "A", "AGGA", build=build)
    for variant in (frameshift, outside, straddling, insertion):
        assert "EGFR-EX19DEL-NSCLC" not in ids(annotate_variant(variant, "LUAD", KB))


@pytest.mark.parametrize(
    "hgvs_p", ["p.Glu746_Ala750del", "p.E746_A750del", "p.L747_T751delinsP", "p.L747_P753delinsS"]
)
def test_annotated_exon19_in_frame_deletions_match_by_protein_change(hgvs_p):
    variant = SmallVariant("1", 1, "A", "T", gene="EGFR", hgvs_p=hgvs_p)
    assert levelled(annotate_variant(variant, "LUAD", KB)) == {"EGFR-EX19DEL-NSCLC": "1"}


@pytest.mark.parametrize("hgvs_p", ["p.E746fs", "p.L858del", "p.E709_T710delinsD"])
def test_annotated_deletions_outside_exon19_or_out_of_frame_do_not_match(hgvs_p):
    variant = SmallVariant("1", 1, "A", "T", gene="EGFR", hgvs_p=hgvs_p)
    assert "EGFR-EX19DEL-NSCLC" not in ids(annotate_variant(variant, "LUAD", KB))


@pytest.mark.parametrize(
    ("build", "pos"),
    [("GRCh37", 55249011), ("GRCh38", 55249011 - 67693)],  # c.2310_2311ins, D770_N771
)
def test_unannotated_exon20_in_frame_insertion_matches_amivantamab(build, pos):
    variant = SmallVariant("7", pos, "G", "GGGT", build=build)
    assert levelled(annotate_variant(variant, "LUSC", KB)) == {"EGFR-EX20INS-NSCLC": "1"}
    frameshift = SmallVariant("7", pos, "G", "GGG", build=build)
    assert annotate_variant(frameshift, "LUSC", KB) == []


@pytest.mark.parametrize("hgvs_p", ["p.A767_V769dup", "p.Asp770_Asn771insGly", "p.S768_D770dup"])
def test_annotated_exon20_insertions_match_by_protein_change(hgvs_p):
    variant = SmallVariant("1", 1, "A", "T", gene="EGFR", hgvs_p=hgvs_p)
    assert levelled(annotate_variant(variant, "LUAD", KB)) == {"EGFR-EX20INS-NSCLC": "1"}
    assert levelled(annotate_variant(variant, "IDC", KB)) == {}


# --- MET exon 14 skipping --------------------------------------------------------------


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_met_exon14_donor_and_acceptor_variants_match(build):
    region = KB.entry("MET-EX14-NSCLC").alteration.ranges[build]
    donor = SmallVariant("7", region.end + 1, "G", "T", build=build)  # c.3028+1G>T
    acceptor = SmallVariant("7", region.start - 2, "A", "G", build=build)
    spanning = SmallVariant("7", region.end - 3, "ACAGGTA", "A", build=build)
    for variant in (donor, acceptor, spanning):
        found = annotate_variant(variant, "LUAD", KB)
        assert levelled(found) == {"MET-EX14-NSCLC": "1"}
        assert found[0].match_basis == "splice site coordinate"
    annotated = SmallVariant(
        "7",
        region.end + 5,
        "G",
        "A",
        build=build,
        gene="MET",
        consequence="splice_donor_5th_base_variant",
    )
    assert annotate_variant(annotated, "LUAD", KB)[0].match_basis == "splice site"


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_met_variants_away_from_the_exon14_splice_sites_do_not_match(build):
    region = KB.entry("MET-EX14-NSCLC").alteration.ranges[build]
    exonic = SmallVariant(
        "7", region.start + 50, "A", "G", build=build, gene="MET", consequence="missense_variant"
    )
    deep_intronic = SmallVariant("7", region.end + 200, "A", "G", build=build)
    other_exon_splice = SmallVariant(
        "7",
        region.start - 5000,
        "A",
        "G",
        build=build,
        gene="MET",
        consequence="splice_acceptor_variant",
    )
    for variant in (exonic, deep_intronic, other_exon_splice):
        assert annotate_variant(variant, "LUAD", KB) == []


# --- loss of function ------------------------------------------------------------------


@pytest.mark.parametrize("gene", ["BRCA1", "BRCA2"])
@pytest.mark.parametrize(
    ("consequence", "hgvs_p"),
    [
        ("stop_gained", "p.Q1756*"),
        ("frameshift_variant", "p.E1836fs"),
        ("splice_acceptor_variant&intron_variant", ""),
        ("splice_donor_variant", ""),
        ("", "p.Gln1756Ter"),  # no consequence given: the protein change says truncating
        ("Nonsense_Mutation", "p.Q1756*"),  # MAF class
    ],
)
@pytest.mark.parametrize(
    ("tumour_type", "suffix"),
    [("HGSOC", "OVT"), ("IDC", "BRCA"), ("PRAD", "PRAD"), ("PAAD", "PAAD")],
)
def test_brca_loss_of_function_matches_parp_inhibitors(
    gene, consequence, hgvs_p, tumour_type, suffix
):
    variant = SmallVariant("13", 1, "A", "T", gene=gene, consequence=consequence, hgvs_p=hgvs_p)
    found = levelled(annotate_variant(variant, tumour_type, KB))
    assert found == {f"{gene}-LOF-{suffix}": "1"}


@pytest.mark.parametrize(
    ("consequence", "hgvs_p"),
    [("missense_variant", "p.R1699W"), ("synonymous_variant", "p.L100="), ("inframe_deletion", "")],
)
def test_brca_non_truncating_variants_are_not_loss_of_function(consequence, hgvs_p):
    variant = SmallVariant("17", 1, "A", "T", gene="BRCA1", consequence=consequence, hgvs_p=hgvs_p)
    assert annotate_variant(variant, "HGSOC", KB) == []


@pytest.mark.parametrize("hgvs_p", ["p.K3326*", "p.Lys3326Ter", "p.(Lys3326*)"])
def test_the_benign_brca2_k3326_stop_is_not_loss_of_function(hgvs_p):
    # rs11571833: removes the last 93 residues, population frequency ~1%, benign (ClinVar).
    variant = SmallVariant(
        "13", 1, "A", "T", gene="BRCA2", consequence="stop_gained", hgvs_p=hgvs_p
    )
    assert annotate_variant(variant, "PRAD", KB) == []
    nearby = dataclasses.replace(variant, hgvs_p="p.K3325*")
    assert levelled(annotate_variant(nearby, "PRAD", KB)) == {"BRCA2-LOF-PRAD": "1"}


def test_chr_prefixed_chromosomes_still_match_by_coordinate():
    variant = SmallVariant("chr7", 55191822, "T", "G", build="GRCh38")
    assert levelled(annotate_variant(variant, "LUAD", KB)) == {"EGFR-L858R-NSCLC": "1"}


def test_brca_loss_of_function_in_lung_cancer_has_no_level():
    variant = SmallVariant("13", 1, "A", "T", gene="BRCA2", consequence="stop_gained")
    found = annotate_variant(variant, "LUAD", KB)
    assert found
    assert levelled(found) == {}


# --- copy number, fusions, biomarkers ----------------------------------------------------


@pytest.mark.parametrize(
    ("tumour_type", "entry_id"),
    [
        ("IDC", "ERBB2-AMP-BRCA"),
        ("STAD", "ERBB2-AMP-EGC"),
        ("GEJ", "ERBB2-AMP-EGC"),
        ("READ", "ERBB2-AMP-COADREAD"),
    ],
)
def test_erbb2_amplification_matches_in_breast_gastric_and_colorectal_cancer(tumour_type, entry_id):
    found = annotate_copy_number(CopyNumber("ERBB2", "amplification"), tumour_type, KB)
    assert levelled(found) == {entry_id: "1"}
    assert found[0].match_basis == "copy number"
    assert found[0].alteration == "ERBB2 amplification"


def test_erbb2_gain_or_other_tumour_types_are_not_actionable_amplifications():
    assert annotate_copy_number(CopyNumber("ERBB2", "gain"), "IDC", KB) == []
    assert levelled(annotate_copy_number(CopyNumber("ERBB2", "amplification"), "LUAD", KB)) == {}
    assert annotate_copy_number(CopyNumber("EGFR", "amplification"), "IDC", KB) == []


def test_brca2_homozygous_deletion_is_loss_of_function():
    found = annotate_copy_number(CopyNumber("BRCA2", "deletion"), "PRAD", KB)
    assert levelled(found) == {"BRCA2-LOF-PRAD": "1"}
    assert found[0].match_basis == "homozygous deletion"
    assert annotate_copy_number(CopyNumber("BRCA2", "loss"), "PRAD", KB) == []  # one copy lost


@pytest.mark.parametrize(
    ("fusion", "tumour_type", "entry_id"),
    [
        (Fusion("EML4", "ALK"), "LUAD", "ALK-FUSION-NSCLC"),
        (Fusion("CD74", "ROS1"), "LUAD", "ROS1-FUSION-NSCLC"),
        (Fusion("KIF5B", "RET"), "LCLC", "RET-FUSION-NSCLC"),
        (Fusion("TPM3", "NTRK1"), "COAD", "NTRK1-FUSION-TISSUE"),
        (Fusion("QKI", "NTRK2"), "IDC", "NTRK2-FUSION-TISSUE"),
        (Fusion("ETV6", "NTRK3"), "HCC", "NTRK3-FUSION-TISSUE"),
        (Fusion("FGFR2", "BICC1"), "IHCH", "FGFR2-FUSION-CHOL"),
    ],
)
def test_fusions_match_by_gene_with_any_partner(fusion, tumour_type, entry_id):
    found = annotate_fusion(fusion, tumour_type, KB)
    assert levelled(found) == {entry_id: "1"}
    assert found[0].match_basis == "fusion"
    assert "::" in found[0].alteration


def test_fusions_outside_their_tumour_type_or_of_other_genes_have_no_level():
    assert levelled(annotate_fusion(Fusion("EML4", "ALK"), "IDC", KB)) == {}
    assert levelled(annotate_fusion(Fusion("FGFR2", "BICC1"), "LUAD", KB)) == {}
    assert annotate_fusion(Fusion("TMPRSS2", "ERG"), "PRAD", KB) == []


def test_msi_high_and_tmb_high_are_tumour_agnostic_level_1():
    report = ParsedReport(msi_status="MSI-H")
    annotated = annotate_report(report, "HCC", KB, tmb=10.0)
    assert levelled(annotated.actionable) == {"MSI-H-TISSUE": "1", "TMB-H-TISSUE": "1"}


@pytest.mark.parametrize(("tmb", "msi"), [(9.99, "MSS"), (None, ""), (0.0, None)])
def test_tmb_below_10_or_mss_gives_no_biomarker_level(tmb, msi):
    annotated = annotate_report(ParsedReport(), "COAD", KB, tmb=tmb, msi=msi)
    assert annotated.actionable == ()


def test_a_given_msi_status_overrides_the_report():
    annotated = annotate_report(ParsedReport(msi_status="MSI-H"), "COAD", KB, msi="MSS")
    assert annotated.msi_status == "MSS"
    assert annotated.actionable == ()


def test_a_tumour_agnostic_entry_applies_where_a_tumour_specific_one_does_not():
    # NTRK fusion in breast cancer: level 1 via the tumour-agnostic entry, while an ALK fusion
    # (listed for NSCLC) gets no level in the same patient.
    report = ParsedReport(fusions=(Fusion("ETV6", "NTRK3"), Fusion("EML4", "ALK")))
    annotated = annotate_report(report, "IDC", KB)
    assert levelled(annotated.actionable) == {"NTRK3-FUSION-TISSUE": "1"}
    assert ids(annotated.other_tumour_types) == {"ALK-FUSION-NSCLC"}


# --- report level ----------------------------------------------------------------------


def test_annotate_report_records_the_kb_version_and_indexes_each_subject():
    report = ParsedReport(
        variants=(
            SmallVariant("7", 55259515, "T", "G"),
            SmallVariant("7", 55259516, "G", "A"),
            SmallVariant("7", 55249071, "C", "T", filter="strand_bias"),
        ),
        copy_numbers=(CopyNumber("MET", "amplification"),),
        fusions=(Fusion("EML4", "ALK"),),
        build="GRCh37",
    )
    annotated = annotate_report(report, "luad", KB)
    assert annotated.tumour_type == "LUAD"
    assert annotated.kb_version == KB.version
    assert annotated.kb_sha256 == KB.sha256
    assert all(a.kb_version == KB.version for a in annotated.annotations)
    assert [a.kb_entry_id for a in annotated.for_variant(0)] == ["EGFR-L858R-NSCLC"]
    assert annotated.for_variant(1) == ()
    assert {a.kb_entry_id for a in annotated.filtered} == {
        "EGFR-T790M-NSCLC",
        "EGFR-T790M-NSCLC-R1",
    }
    assert levelled(annotated.actionable) == {"EGFR-L858R-NSCLC": "1", "ALK-FUSION-NSCLC": "1"}


def test_a_variant_without_build_is_not_matched_by_coordinate_and_the_report_says_so():
    annotated = annotate_report(
        ParsedReport(variants=(SmallVariant("7", 55259515, "T", "G"),)), "LUAD", KB
    )
    assert annotated.annotations == ()
    assert annotated.notes


def test_a_dot_filter_means_no_filter_was_applied():
    variant = SmallVariant("7", 55259515, "T", "G", build="GRCh37", filter=".")
    assert levelled(annotate_variant(variant, "LUAD", KB)) == {"EGFR-L858R-NSCLC": "1"}


def test_an_unknown_tumour_type_is_an_error():
    with pytest.raises(UnknownOncoTreeCode):
        annotate_variant(SmallVariant("7", 55259515, "T", "G", build="GRCh37"), "LUNGX", KB)
    with pytest.raises(UnknownOncoTreeCode):
        annotate_report(ParsedReport(), "NOPE", KB)


def test_the_default_knowledge_base_is_the_shipped_one():
    variant = SmallVariant("7", 140453136, "A", "T", build="GRCh37")
    assert annotate_variant(variant, "SKCM")[0].kb_version == KB.version


def test_annotations_are_immutable():
    found = annotate_variant(SmallVariant("7", 140453136, "A", "T", build="GRCh37"), "SKCM", KB)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].level = "2"  # type: ignore[misc]
