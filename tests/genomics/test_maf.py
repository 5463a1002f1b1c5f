"""MAF reader (GDC MAF specification, docs.gdc.cancer.gov/Data/File_Formats/MAF_Format/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomics.variants.maf import VARIANT_CLASSIFICATION_TO_SO, parse_maf
from genomics.variants.model import GenomicsParseError
from genomics.variants.reference import InMemoryReference

FIXTURES = Path(__file__).parent / "fixtures"
MAF = (FIXTURES / "case1.maf").read_text()
LINES = MAF.splitlines()


def test_maf_rows_become_vcf_style_variants_with_annotation_and_counts():
    report = parse_maf(FIXTURES / "case1.maf")
    assert report.build == "GRCh38"
    assert (report.tumour_sample, report.normal_sample) == ("CASE1-T", "CASE1-N")
    l858r, exon19, exon20, v600k, r196 = report.variants
    assert (l858r.chrom, l858r.pos, l858r.ref, l858r.alt) == ("7", 55191822, "T", "G")
    assert (l858r.gene, l858r.hgvs_p, l858r.consequence) == (
        "EGFR",
        "p.Leu858Arg",
        "missense_variant",
    )
    assert (l858r.depth, l858r.alt_depth, l858r.vaf) == (140, 42, 0.3)
    assert l858r.source_line == 3
    assert (v600k.pos, v600k.ref, v600k.alt) == (140753335, "CA", "TT")  # a DNP stays an MNV
    assert r196.consequence == "stop_gained"
    assert r196.filter == "common_variant"


def test_maf_indels_get_an_unknown_n_anchor_without_a_reference():
    report = parse_maf(FIXTURES / "case1.maf")
    deletion, insertion = report.variants[1], report.variants[2]
    # deletion Start=55174772 of 15 bases -> anchored on the base before, written N
    assert (deletion.pos, deletion.ref, deletion.alt) == (55174771, "NGGAATTAAGAGAAGC", "N")
    assert deletion.consequence == "inframe_deletion"
    # insertion between 39724740 and 39724741 -> anchored on 39724740
    assert (insertion.pos, insertion.ref, insertion.alt) == (39724740, "N", "NGCATACGTGATG")


def test_maf_indel_anchor_comes_from_the_reference_when_given():
    reference = InMemoryReference({"17": "A" * 39724739 + "C" + "TTTT"})
    text = MAF.replace("55174772\t55174786", "55174772\t55174786")  # unchanged rows
    rows = [LINES[0], LINES[1], LINES[4]]  # header + the ERBB2 insertion only
    report = parse_maf("\n".join(rows).encode(), reference=reference)
    insertion = report.variants[0]
    assert (insertion.pos, insertion.ref, insertion.alt) == (39724740, "C", "CGCATACGTGATG")
    assert text == MAF


def test_every_gdc_variant_classification_maps_to_a_sequence_ontology_term():
    # the 18 classifications of the GDC MAF spec (section "Variant_Classification") + 3
    gdc = {
        "Frame_Shift_Del", "Frame_Shift_Ins", "In_Frame_Del", "In_Frame_Ins",
        "Missense_Mutation", "Nonsense_Mutation", "Silent", "Splice_Site",
        "Translation_Start_Site", "Nonstop_Mutation", "3'UTR", "3'Flank", "5'UTR", "5'Flank",
        "IGR", "Intron", "RNA", "Targeted_Region",
    }  # fmt: skip
    assert gdc <= set(VARIANT_CLASSIFICATION_TO_SO)
    assert VARIANT_CLASSIFICATION_TO_SO["Frame_Shift_Ins"] == "frameshift_variant"
    assert VARIANT_CLASSIFICATION_TO_SO["Nonsense_Mutation"] == "stop_gained"


def test_missing_required_column_is_named():
    text = MAF.replace("Tumor_Seq_Allele2", "Tumor_Allele")
    with pytest.raises(GenomicsParseError, match="required column Tumor_Seq_Allele2") as error:
        parse_maf(text.encode())
    assert error.value.line == 2


def test_row_with_wrong_column_count_is_rejected_with_its_line():
    lines = list(LINES)
    lines[3] = lines[3].rsplit("\t", 1)[0]
    with pytest.raises(
        GenomicsParseError, match="expected 23 tab-separated columns, found 22"
    ) as e:
        parse_maf("\n".join(lines).encode())
    assert e.value.line == 4


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("\t140\t98\t42\t", "\tdeep\t98\t42\t", "t_depth must be a non-negative integer"),
        ("Missense_Mutation\tSNP\tT", "Missense\tSNP\tT", "unknown Variant_Classification"),
        ("55191822\t55191822", "55191822\t55191800", "not a valid range"),
        ("\tT\tT\tG\t", "\tT\tT\tX\t", "must be bases or '-'"),
        ("\t140\t98\t42\t", "\t40\t98\t42\t", "t_alt_count exceeds t_depth"),
    ],
)
def test_malformed_values_are_rejected_with_the_line(old, new, reason):
    lines = list(LINES)
    lines[2] = lines[2].replace(old, new)
    assert lines[2] != LINES[2]
    with pytest.raises(GenomicsParseError, match=reason) as error:
        parse_maf("\n".join(lines).encode())
    assert error.value.line == 3


def test_maf_with_two_tumours_needs_the_tumour_barcode():
    lines = list(LINES)
    lines[3] = lines[3].replace("CASE1-T", "CASE2-T")
    data = "\n".join(lines).encode()
    with pytest.raises(GenomicsParseError, match="2 tumour samples"):
        parse_maf(data)
    report = parse_maf(data, tumour_sample="CASE2-T")
    assert [v.gene for v in report.variants] == ["EGFR"]
    assert report.variants[0].source_line == 4


def test_build_argument_conflicting_with_ncbi_build_is_an_error():
    with pytest.raises(GenomicsParseError, match="GRCh38 but the report says GRCh37"):
        parse_maf(FIXTURES / "case1.maf", build="GRCh37")
