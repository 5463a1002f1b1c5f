"""VCF reader on hand-written, spec-conformant files (VCF 4.1-4.3, samtools/hts-specs VCFv4.3)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from genomics.variants.model import GenomicsParseError
from genomics.variants.reference import InMemoryReference
from genomics.variants.vcf import parse_vcf

FIXTURES = Path(__file__).parent / "fixtures"


def by_alt(report):
    return {(v.pos, v.ref, v.alt): v for v in report.variants}


def test_single_sample_file_yields_snv_mnv_insertion_deletion_and_split_multiallelic():
    report = parse_vcf(FIXTURES / "single_sample.vcf")
    assert report.build == "GRCh38"
    assert report.samples == ("TUMOUR01",)
    assert report.tumour_sample == "TUMOUR01"
    variants = by_alt(report)
    snv = variants[(55191822, "T", "G")]
    assert (snv.chrom, snv.depth, snv.alt_depth, snv.vaf) == ("7", 400, 100, 0.25)
    assert snv.filter == "PASS"
    assert snv.source_line == 13
    # CTG>CAA shares the leading C: trimmed to the MNV TG>AA one base to the right
    assert (140753336, "TG", "AA") in variants
    assert variants[(55181319, "A", "AGCGTGG")].vaf == 30 / 120
    assert variants[(55174771, "AGGAATTAAGAGAAGC", "A")].depth == 500
    # CC>CA,AC: each ALT becomes its own SNV, with its own AD and the shared DP
    first, second = variants[(25245351, "C", "A")], variants[(25245350, "C", "A")]
    assert (first.alt_depth, second.alt_depth) == (60, 50)
    assert first.vaf == pytest.approx(60 / 210)
    assert second.vaf == pytest.approx(50 / 210)
    assert first.filter == second.filter == "LowQual"
    assert first.source_line == second.source_line == 17


def test_tumour_normal_pair_takes_the_tumour_named_by_the_header_and_vep_annotation():
    report = parse_vcf(FIXTURES / "tumour_normal_vep.vcf")
    assert (report.tumour_sample, report.normal_sample) == ("PATIENT7_T", "PATIENT7_N")
    l858r = report.variants[0]
    # the tumour column (0.301), not the normal one (0.008); CANONICAL=YES transcript chosen
    assert (l858r.vaf, l858r.depth, l858r.alt_depth) == (0.301, 140, 42)
    assert (l858r.gene, l858r.transcript) == ("EGFR", "ENST00000275493")
    assert (l858r.hgvs_c, l858r.hgvs_p) == ("c.2573T>G", "p.Leu858Arg")
    assert l858r.consequence == "missense_variant"
    assert l858r.sample == "PATIENT7_T"


def test_vep_indel_alleles_without_the_shared_first_base_match_their_alt():
    report = parse_vcf(FIXTURES / "tumour_normal_vep.vcf")
    variants = by_alt(report)
    assert variants[(55174771, "AGGAATTAAGAGAAGC", "A")].hgvs_p == "p.Glu746_Ala750del"
    deletion, duplication = variants[(32340300, "GT", "G")], variants[(32340300, "G", "GT")]
    assert deletion.hgvs_p == "p.Ser1982ArgfsTer22"
    assert deletion.consequence == "frameshift_variant"  # first of frameshift&splice_region
    assert duplication.hgvs_p == "p.Ser1983PhefsTer3"
    # per-allele FORMAT AF (Number=A) gives each split allele its own VAF
    assert (deletion.vaf, duplication.vaf) == (0.222, 0.111)
    assert deletion.filter == "weak_evidence"


def test_vep_percent_encoded_equals_sign_is_decoded():
    report = parse_vcf(FIXTURES / "tumour_normal_vep.vcf")
    assert report.variants[-1].hgvs_p == "p.Pro72="


def test_snpeff_ann_fields_fill_gene_transcript_hgvs_and_consequence():
    report = parse_vcf(FIXTURES / "snpeff_ann.vcf")
    assert report.build == "GRCh37"
    braf, kras, e545k, e545q = report.variants
    assert (braf.gene, braf.transcript, braf.hgvs_c, braf.hgvs_p) == (
        "BRAF",
        "NM_004333.4",
        "c.1799T>A",
        "p.Val600Glu",
    )
    assert kras.hgvs_p == "p.Gly12Cys"
    assert (e545k.alt, e545k.hgvs_p, e545k.vaf) == ("A", "p.Glu545Lys", 0.3)
    assert (e545q.alt, e545q.hgvs_p, e545q.vaf) == ("C", "p.Glu545Gln", 0.2)


def test_sites_only_file_has_no_sample_values_and_skips_symbolic_alleles():
    report = parse_vcf(FIXTURES / "sites_only.vcf")
    assert report.build == "GRCh37"  # from ##reference=hs37d5
    assert len(report.variants) == 1
    variant = report.variants[0]
    assert (variant.vaf, variant.depth, variant.filter) == (None, None, ".")
    assert report.meta["skipped_alleles"] == "1"


def test_bgzip_made_of_several_gzip_members_reads_like_the_plain_file():
    text = (FIXTURES / "tumour_normal_vep.vcf").read_bytes()
    cut = len(text) // 2
    blocks = gzip.compress(text[:cut]) + gzip.compress(text[cut:]) + gzip.compress(b"")
    assert parse_vcf(blocks) == parse_vcf(text)
    assert parse_vcf(io.BytesIO(blocks)).variants == parse_vcf(text).variants


def test_tumour_sample_argument_overrides_the_header():
    report = parse_vcf(FIXTURES / "tumour_normal_vep.vcf", tumour_sample="PATIENT7_N")
    assert (report.tumour_sample, report.normal_sample) == ("PATIENT7_N", "PATIENT7_T")
    assert report.variants[0].vaf == 0.008


def test_strelka_style_pair_is_resolved_by_the_tumor_column_name():
    text = (FIXTURES / "tumour_normal_vep.vcf").read_text()
    text = text.replace("##normal_sample=PATIENT7_N\n##tumor_sample=PATIENT7_T\n", "")
    text = text.replace("PATIENT7_N\tPATIENT7_T", "NORMAL\tTUMOR")
    report = parse_vcf(text.encode())
    assert (report.tumour_sample, report.normal_sample) == ("TUMOR", "NORMAL")


def test_pair_without_any_tumour_hint_asks_for_the_tumour_sample():
    text = (FIXTURES / "tumour_normal_vep.vcf").read_text()
    text = text.replace("##normal_sample=PATIENT7_N\n##tumor_sample=PATIENT7_T\n", "")
    with pytest.raises(GenomicsParseError, match="tumour sample's name") as error:
        parse_vcf(text.encode())
    assert error.value.line == 13  # the #CHROM line, once the two lines are gone


def test_sample_header_lines_identify_the_tumour():
    text = (FIXTURES / "tumour_normal_vep.vcf").read_text()
    text = text.replace(
        "##normal_sample=PATIENT7_N\n##tumor_sample=PATIENT7_T\n",
        '##SAMPLE=<ID=PATIENT7_N,Genomes=Germline,Description="Blood">\n'
        '##SAMPLE=<ID=PATIENT7_T,Genomes=Tumor,Description="Lung biopsy">\n',
    )
    report = parse_vcf(text.encode())
    assert (report.tumour_sample, report.normal_sample) == ("PATIENT7_T", "PATIENT7_N")


def test_build_argument_agreeing_with_the_header_is_accepted_and_conflict_is_an_error():
    assert parse_vcf(FIXTURES / "single_sample.vcf", build="GRCh38").build == "GRCh38"
    with pytest.raises(GenomicsParseError, match="GRCh38 but the report says GRCh37") as error:
        parse_vcf(FIXTURES / "single_sample.vcf", build="GRCh37")
    assert error.value.line == 2


def test_build_is_taken_from_contig_lengths_when_nothing_names_it():
    text = (
        (FIXTURES / "single_sample.vcf")
        .read_text()
        .replace("##reference=file:///refs/GRCh38/Homo_sapiens_assembly38.fasta\n", "")
    )
    text = text.replace(
        "##contig=<ID=chr7,length=159345973>", "##contig=<ID=chr1,length=249250621>"
    )
    assert parse_vcf(text.encode()).build == "GRCh37"  # GRCh37 chr1 is 249,250,621 bases


def test_header_naming_two_builds_is_an_error():
    text = (
        (FIXTURES / "sites_only.vcf")
        .read_text()
        .replace("##reference=hs37d5\n", "##reference=hs37d5\n##assembly=GRCh38\n")
    )
    with pytest.raises(GenomicsParseError, match="both GRCh37 and GRCh38") as error:
        parse_vcf(text.encode())
    assert error.value.line == 3


def test_indels_are_left_aligned_when_a_reference_is_given():
    reference = InMemoryReference({"7": "GG" + "CACACA" + "TT"})
    text = (
        b"##fileformat=VCFv4.3\n"
        b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        b"7\t6\t.\tACA\tA\t.\tPASS\t.\n"  # deletes the last CA of the repeat
    )
    assert by_alt(parse_vcf(text)).keys() == {(6, "ACA", "A")}
    assert by_alt(parse_vcf(text, reference=reference)).keys() == {(2, "GCA", "G")}


def test_crlf_line_endings_are_accepted():
    text = (FIXTURES / "single_sample.vcf").read_bytes()
    assert parse_vcf(text.replace(b"\n", b"\r\n")) == parse_vcf(text)


def test_vep_allele_num_chooses_the_entry_of_each_split_allele():
    fields = "Allele|Consequence|SYMBOL|Feature|HGVSc|HGVSp|ALLELE_NUM"
    csq = ",".join(
        [  # Allele columns deliberately unhelpful: ALLELE_NUM decides
            "A|missense_variant|PIK3CA|ENST00000263967|c.1633G>A|p.Glu545Lys|1",
            "A|missense_variant|PIK3CA|ENST00000263967|c.1633G>C|p.Glu545Gln|2",
        ]
    )
    text = (
        "##fileformat=VCFv4.2\n"
        f'##INFO=<ID=CSQ,Number=.,Type=String,Description="VEP. Format: {fields}">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"3\t179218303\t.\tG\tA,C\t.\tPASS\tCSQ={csq}\n"
    )
    first, second = parse_vcf(text.encode()).variants
    assert (first.alt, first.hgvs_p) == ("A", "p.Glu545Lys")
    assert (second.alt, second.hgvs_p) == ("C", "p.Glu545Gln")


def test_csq_entry_with_the_wrong_field_count_is_an_error():
    text = (FIXTURES / "tumour_normal_vep.vcf").read_text()
    text = text.replace(":p.Leu858Arg|YES|", ":p.Leu858Arg|YES|extra|")
    with pytest.raises(GenomicsParseError, match="CSQ entry has 15 fields") as error:
        parse_vcf(text.encode())
    assert error.value.line == 16
