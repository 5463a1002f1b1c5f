"""Trimming and left-alignment (Tan, Abecasis & Kang, Bioinformatics 2015;31:2202), checked on
a hand-written FASTA whose repeats give known answers:

    position  1        10        20        30
              GATTACAGCACACACATTTGGCCAAAAAAGTCAGGT   (chr1, 10 bases a line)

CA repeat at 9-16 (after G8), A run at 24-29 (after C23).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genomics.variants.model import GenomicsParseError, SmallVariant
from genomics.variants.normalize import normalize, normalize_alleles
from genomics.variants.reference import FastaReference, InMemoryReference

FIXTURES = Path(__file__).parent / "fixtures"
FASTA = FIXTURES / "repeats.fa"


@pytest.fixture(params=["scanned", "fai"])
def reference(request, tmp_path):
    if request.param == "scanned":
        return FastaReference(FASTA)
    copy = tmp_path / "repeats.fa"
    shutil.copy(FASTA, copy)
    # samtools faidx columns: name, length, offset of the first base, bases/line, bytes/line
    (tmp_path / "repeats.fa.fai").write_text("chr1\t36\t25\t10\t11\nchr2\t12\t71\t10\t11\n")
    return FastaReference(copy)


def test_fetch_reads_across_line_breaks_with_or_without_chr(reference):
    assert reference.fetch("chr1", 8, 16) == "GCACACACA"
    assert reference.fetch("1", 9, 12) == "CACA"
    assert reference.fetch("chr1", 36, 36) == "T"
    assert reference.fetch("2", 10, 12) == "CGT"


def test_fetch_outside_the_sequence_or_unknown_name_is_an_error(reference):
    with pytest.raises(GenomicsParseError, match="outside"):
        reference.fetch("chr1", 30, 37)
    with pytest.raises(GenomicsParseError, match="no sequence"):
        reference.fetch("chr9", 1, 2)


def test_deletion_of_a_repeat_unit_is_left_aligned(reference):
    # deleting CA at 15-16, written right-aligned on anchor A14, belongs on anchor G8
    assert normalize_alleles("1", 14, "ACA", "A", reference) == (8, "GCA", "G")
    # the same deletion written anywhere in the repeat ends in the same place
    assert normalize_alleles("1", 10, "ACA", "A", reference) == (8, "GCA", "G")


def test_insertion_in_a_homopolymer_is_left_aligned(reference):
    assert normalize_alleles("1", 29, "A", "AA", reference) == (23, "C", "CA")
    assert normalize_alleles("1", 28, "AA", "A", reference) == (23, "CA", "C")


def test_indel_outside_a_repeat_does_not_move(reference):
    assert normalize_alleles("1", 3, "TT", "T", reference) == (2, "AT", "A")
    assert normalize_alleles("1", 5, "A", "AG", reference) == (5, "A", "AG")


def test_ref_not_matching_the_reference_is_an_error(reference):
    with pytest.raises(GenomicsParseError, match="does not match the reference"):
        normalize_alleles("1", 14, "GCA", "G", reference)


def test_without_a_reference_only_shared_bases_are_trimmed():
    assert normalize_alleles("1", 14, "ACA", "A") == (14, "ACA", "A")  # not moved
    assert normalize_alleles("1", 100, "CTG", "CAA") == (101, "TG", "AA")
    assert normalize_alleles("1", 100, "CAGT", "CTGT") == (101, "A", "T")
    assert normalize_alleles("1", 100, "ATTT", "ATT") == (100, "AT", "A")
    assert normalize_alleles("1", 100, "GAC", "GACAC") == (100, "G", "GAC")


def test_ref_equal_to_alt_is_an_error():
    with pytest.raises(GenomicsParseError):
        normalize_alleles("1", 5, "A", "A")


def test_normalize_keeps_the_annotation_of_the_variant():
    variant = SmallVariant("1", 29, "A", "AA", gene="X", vaf=0.2, source_line=7)
    moved = normalize(variant, InMemoryReference({"1": "GATTACAGCACACACATTTGGCCAAAAAAGTC"}))
    assert (moved.pos, moved.ref, moved.alt) == (23, "C", "CA")
    assert (moved.gene, moved.vaf, moved.source_line) == ("X", 0.2, 7)
    assert normalize(SmallVariant("1", 5, "A", "G")) == SmallVariant("1", 5, "A", "G")


def test_n_anchor_of_a_maf_deletion_is_filled_from_the_reference(reference):
    assert normalize_alleles("1", 23, "NA", "N", reference) == (23, "CA", "C")
    with pytest.raises(GenomicsParseError):
        normalize_alleles("1", 23, "NT", "N", reference)  # deleted base is A, not T
