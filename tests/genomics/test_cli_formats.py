"""The importer registry: format by file name, by content, and parse_report's dispatch."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from genomics.variants.formats import PARSERS, format_from_name, parse_report, sniff_format
from genomics.variants.model import GenomicsParseError
from genomics.variants.reference import FastaReference

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("tumour.vcf", "vcf"),
        ("TUMOUR.VCF.GZ", "vcf"),
        ("t.vcf.bgz", "vcf"),
        ("cohort.maf", "maf"),
        ("x.maf.txt", "maf"),
        ("calls.tsv", "tsv"),
        ("report.pdf", None),
    ],
)
def test_format_from_the_file_name(name, kind):
    assert format_from_name(name) == kind


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [("single_sample.vcf", "vcf"), ("case1.maf", "maf"), ("cnv_fusion.tsv", "tsv")],
)
def test_format_from_the_content(fixture, kind):
    data = (FIXTURES / fixture).read_bytes()
    assert sniff_format(data) == kind
    assert parse_report(data) == PARSERS[kind](data)
    assert parse_report(gzip.compress(data)) == PARSERS[kind](data)


def test_copy_number_rows_without_a_version_line_are_recognised():
    assert sniff_format(b"fusion\tEML4\tALK\t12\n") == "tsv"


def test_unknown_format_name_is_an_error():
    with pytest.raises(GenomicsParseError, match="unknown format 'bam'"):
        parse_report(b"", format="bam")


def test_missing_reference_fasta_is_a_parse_error(tmp_path):
    with pytest.raises(GenomicsParseError, match="does not exist"):
        FastaReference(tmp_path / "missing.fa")
