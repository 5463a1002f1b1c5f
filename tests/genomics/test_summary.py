"""Summaries: TMB by hand-computed cases, MSI status, key alterations, feature-vector keys."""

from __future__ import annotations

import math

import pytest

from genomics.variants.annotate import annotate_report
from genomics.variants.knowledge import load_knowledge_base
from genomics.variants.model import CopyNumber, Fusion, ParsedReport, SmallVariant
from genomics.variants.summary import (
    DEFAULT_GENES,
    NON_SYNONYMOUS_CONSEQUENCES,
    TMB_HIGH_THRESHOLD,
    feature_keys,
    gene_feature_vector,
    key_alterations,
    msi_status,
    tumour_mutational_burden,
)

KB = load_knowledge_base()


def snv(consequence, *, vaf=0.3, filter="PASS", gene="TP53", pos=1):
    return SmallVariant(
        "17", pos, "C", "T", gene=gene, consequence=consequence, vaf=vaf, filter=filter
    )


def test_tmb_high_threshold_is_10_mutations_per_megabase():
    # FDA pembrolizumab label (TMB-H >= 10 mut/Mb, FoundationOne CDx); KEYNOTE-158.
    assert TMB_HIGH_THRESHOLD == 10.0


def test_tmb_counts_non_synonymous_pass_variants_per_megabase():
    counted = [
        snv("missense_variant"),
        snv("missense_variant"),
        snv("missense_variant"),
        snv("missense_variant"),
        snv("missense_variant"),
        snv("stop_gained"),
        snv("frameshift_variant"),
        snv("inframe_deletion"),
        snv("splice_acceptor_variant&intron_variant"),
        snv("start_lost"),
        snv("stop_lost"),
    ]  # 11
    not_counted = [
        snv("synonymous_variant"),
        snv("synonymous_variant"),
        snv("synonymous_variant"),
        snv("intron_variant"),
        snv("3_prime_UTR_variant"),
        snv("splice_region_variant&intron_variant"),
    ]
    filtered = [snv("missense_variant", filter="LowQual"), snv("stop_gained", filter="germline")]
    low_vaf = [snv("missense_variant", vaf=0.02)]
    unclassified = [snv("")]
    result = tumour_mutational_burden(
        counted + not_counted + filtered + low_vaf + unclassified, covered_mb=0.8
    )
    # 11 mutations / 0.8 Mb = 13.75 mut/Mb
    assert result.mutations == 11
    assert result.value == pytest.approx(13.75)
    assert result.high
    assert result.excluded_not_coding == 6
    assert result.excluded_filtered == 2
    assert result.excluded_low_vaf == 1
    assert result.unclassified == 1


def test_tmb_exactly_at_the_threshold_is_high_and_just_below_is_not():
    twelve = [snv("missense_variant", pos=i) for i in range(12)]
    assert tumour_mutational_burden(twelve, covered_mb=1.2).value == pytest.approx(10.0)
    assert tumour_mutational_burden(twelve, covered_mb=1.2).high
    eleven = twelve[:11]
    assert tumour_mutational_burden(eleven, covered_mb=1.2).value == pytest.approx(9.1666, abs=1e-3)
    assert not tumour_mutational_burden(eleven, covered_mb=1.2).high


def test_vaf_floor_can_be_disabled_and_unknown_vaf_is_counted():
    variants = [snv("missense_variant", vaf=0.01), snv("missense_variant", vaf=None)]
    assert tumour_mutational_burden(variants, covered_mb=1.0).mutations == 1
    assert tumour_mutational_burden(variants, covered_mb=1.0, vaf_floor=None).mutations == 2


def test_maf_classes_count_like_their_sequence_ontology_terms():
    variants = [snv("Missense_Mutation"), snv("Frame_Shift_Del"), snv("Silent"), snv("Intron")]
    assert tumour_mutational_burden(variants, covered_mb=1.0).mutations == 2


@pytest.mark.parametrize("covered", [0.0, -1.0, math.inf, math.nan])
def test_tmb_needs_a_positive_territory(covered):
    with pytest.raises(ValueError, match="positive"):
        tumour_mutational_burden([], covered_mb=covered)


def test_the_non_synonymous_set_excludes_silent_and_non_coding_terms():
    assert "synonymous_variant" not in NON_SYNONYMOUS_CONSEQUENCES
    assert "splice_region_variant" not in NON_SYNONYMOUS_CONSEQUENCES
    assert "intron_variant" not in NON_SYNONYMOUS_CONSEQUENCES
    assert {"missense_variant", "stop_gained", "frameshift_variant"} <= NON_SYNONYMOUS_CONSEQUENCES


def test_msi_status_comes_from_the_report_unless_given():
    assert msi_status(ParsedReport(msi_status="MSI-H")) == "MSI-H"
    assert msi_status(ParsedReport(msi_status="MSI-H"), "MSS") == "MSS"
    assert msi_status(ParsedReport()) == ""
    with pytest.raises(ValueError, match="MSI status"):
        msi_status(ParsedReport(), "high")


def crc_report():
    return ParsedReport(
        variants=(
            SmallVariant(
                "12",
                25398285,
                "C",
                "A",
                gene="KRAS",
                hgvs_p="p.G12C",
                consequence="missense_variant",
            ),
            SmallVariant(
                "17",
                7577120,
                "C",
                "T",
                gene="TP53",
                hgvs_p="p.R273H",
                consequence="missense_variant",
            ),
            SmallVariant("7", 140453136, "A", "T", filter="LowQual"),
            SmallVariant(
                "3",
                178936091,
                "G",
                "A",
                gene="PIK3CA",
                hgvs_p="p.E545=",
                consequence="synonymous_variant",
            ),
        ),
        copy_numbers=(CopyNumber("ERBB2", "amplification"), CopyNumber("BRCA2", "deletion")),
        fusions=(Fusion("ETV6", "NTRK3"),),
        build="GRCh37",
        msi_status="MSS",
    )


def test_key_alterations_keep_the_highest_level_per_gene():
    annotated = annotate_report(crc_report(), "COAD", KB, tmb=4.0)
    keys = key_alterations(annotated)
    assert keys["KRAS"].kb_entry_id == "KRAS-G12C-COADREAD"  # level 1 outranks R1
    assert keys["ERBB2"].kb_entry_id == "ERBB2-AMP-COADREAD"
    assert keys["NTRK3"].level == "1"
    assert "BRAF" not in keys  # filtered
    assert "BRCA2" not in keys  # BRCA2 deletion has no colorectal entry
    assert "TP53" not in keys


def test_feature_vector_keys_are_stable():
    # Outcome models are trained on these names: changing one is a model-breaking change.
    keys = feature_keys()
    assert keys[:4] == ("EGFR_mut", "EGFR_amp", "EGFR_del", "EGFR_fusion")
    assert len(keys) == 4 * len(DEFAULT_GENES) + 7 + 5
    assert keys[-12:] == (
        "EGFR_ex19del",
        "EGFR_L858R",
        "EGFR_T790M",
        "EGFR_ex20ins",
        "KRAS_G12C",
        "BRAF_V600E",
        "MET_ex14",
        "TMB",
        "TMB_high",
        "MSI_H",
        "actionable_level_1",
        "n_actionable",
    )


def test_feature_vector_values_for_a_colorectal_report():
    annotated = annotate_report(crc_report(), "COAD", KB, tmb=12.3)
    vector = gene_feature_vector(annotated)
    assert tuple(vector) == feature_keys()
    assert vector["KRAS_mut"] == 1.0
    assert vector["KRAS_G12C"] == 1.0
    assert vector["TP53_mut"] == 1.0  # not in the knowledge base, still a coding mutation
    assert vector["BRAF_mut"] == 0.0  # filtered
    assert vector["BRAF_V600E"] == 0.0
    assert vector["PIK3CA_mut"] == 0.0  # synonymous
    assert vector["ERBB2_amp"] == 1.0
    assert vector["BRCA2_del"] == 1.0
    assert vector["NTRK3_fusion"] == 1.0
    assert vector["EGFR_mut"] == 0.0
    assert vector["TMB"] == pytest.approx(12.3)
    assert vector["TMB_high"] == 1.0
    assert vector["MSI_H"] == 0.0
    assert vector["actionable_level_1"] == 1.0
    # KRAS G12C (two entries, one subject), ERBB2 amp, NTRK3 fusion, TMB-high
    assert vector["n_actionable"] == 4.0


def test_unmeasured_tmb_and_msi_are_nan_not_zero():
    annotated = annotate_report(ParsedReport(), "LUAD", KB)
    vector = gene_feature_vector(annotated)
    assert math.isnan(vector["TMB"])
    assert math.isnan(vector["TMB_high"])
    assert math.isnan(vector["MSI_H"])
    assert vector["actionable_level_1"] == 0.0


def test_unannotated_hotspot_sets_its_gene_feature():
    report = ParsedReport(variants=(SmallVariant("7", 55191822, "T", "G"),), build="GRCh38")
    vector = gene_feature_vector(annotate_report(report, "LUAD", KB))
    assert vector["EGFR_mut"] == 1.0
    assert vector["EGFR_L858R"] == 1.0


def test_a_custom_gene_list_gives_its_own_keys():
    annotated = annotate_report(crc_report(), "COAD", KB)
    vector = gene_feature_vector(annotated, genes=("KRAS",))
    assert list(vector)[:4] == ["KRAS_mut", "KRAS_amp", "KRAS_del", "KRAS_fusion"]
    assert "TP53_mut" not in vector
