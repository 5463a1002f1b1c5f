"""Every malformed VCF is rejected with GenomicsParseError naming the line and the reason."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from genomics.variants.model import GenomicsParseError
from genomics.variants.vcf import parse_vcf

FIXTURES = Path(__file__).parent / "fixtures"
VALID = (FIXTURES / "single_sample.vcf").read_text()
LINES = VALID.splitlines()
FIRST_DATA = 13  # line number of the first record in single_sample.vcf


def with_line(number: int, text: str) -> bytes:
    lines = list(LINES)
    lines[number - 1] = text
    return ("\n".join(lines) + "\n").encode()


def record(*columns: str) -> str:
    return "\t".join(columns)


def rejected(data: bytes, **options) -> GenomicsParseError:
    with pytest.raises(GenomicsParseError) as error:
        parse_vcf(data, **options)
    assert str(error.value).startswith(f"line {error.value.line}: ")
    return error.value


def test_missing_fileformat_line_is_rejected_at_line_1():
    error = rejected(VALID.replace("##fileformat=VCFv4.2\n", "").encode())
    assert error.line == 1
    assert "fileformat" in error.reason


def test_unsupported_version_is_rejected():
    error = rejected(VALID.replace("VCFv4.2", "VCFv3.3").encode())
    assert error.line == 1


def test_header_line_with_wrong_fixed_columns_is_rejected():
    error = rejected(with_line(12, LINES[11].replace("QUAL", "QUALITY")))
    assert error.line == 12
    assert "#CHROM POS ID REF ALT QUAL FILTER INFO" in error.reason


def test_missing_chrom_header_line_is_rejected():
    lines = [line for line in LINES if not line.startswith("#CHROM")]
    error = rejected(("\n".join(lines) + "\n").encode())
    assert error.line == 12
    assert "#CHROM" in error.reason


def test_malformed_info_declaration_is_rejected():
    bad = '##INFO=<ID=DP,Number=1,Type=Integr,Description="Total depth">'
    error = rejected(with_line(5, bad))
    assert error.line == 5
    assert "invalid Type" in error.reason


def test_data_line_with_a_missing_column_is_rejected():
    line = record("chr7", "55191822", ".", "T", "G", "50", "PASS", "DP=400", "GT:AD:DP")
    error = rejected(with_line(FIRST_DATA, line))
    assert error.line == FIRST_DATA
    assert "expected 10 tab-separated columns, found 9" in error.reason


def test_sample_column_count_mismatch_is_rejected():
    line = LINES[FIRST_DATA] + "\t0/1:1,1:2"  # an extra sample column on line 14
    error = rejected(with_line(FIRST_DATA + 1, line))
    assert error.line == FIRST_DATA + 1
    assert "found 11" in error.reason


def test_undeclared_info_key_is_rejected_with_its_name():
    line = LINES[FIRST_DATA - 1].replace("DP=400;SOMATIC", "DP=400;SOMATIC;MQ=60")
    error = rejected(with_line(FIRST_DATA, line))
    assert error.line == FIRST_DATA
    assert "'MQ'" in error.reason
    assert "##INFO" in error.reason


def test_undeclared_format_key_is_rejected_with_its_name():
    line = LINES[FIRST_DATA - 1].replace("GT:AD:DP\t0/1:300,100:400", "GT:AD:GQ\t0/1:300,100:99")
    error = rejected(with_line(FIRST_DATA, line))
    assert "'GQ'" in error.reason
    assert "##FORMAT" in error.reason


def test_non_numeric_depth_in_the_sample_is_rejected():
    line = LINES[FIRST_DATA - 1].replace("0/1:300,100:400", "0/1:300,100:deep")
    error = rejected(with_line(FIRST_DATA, line))
    assert error.line == FIRST_DATA
    assert error.reason == "FORMAT DP is declared Integer but holds a non-numeric value"


def test_non_numeric_info_depth_is_rejected():
    line = LINES[FIRST_DATA - 1].replace("DP=400", "DP=4OO")
    error = rejected(with_line(FIRST_DATA, line))
    assert "INFO DP is declared Integer" in error.reason


def test_more_sample_fields_than_format_keys_are_rejected():
    line = LINES[FIRST_DATA - 1].replace("0/1:300,100:400", "0/1:300,100:400:7")
    error = rejected(with_line(FIRST_DATA, line))
    assert "FORMAT has 3" in error.reason


def test_allele_depth_count_must_match_number_r():
    line = LINES[FIRST_DATA - 1].replace("0/1:300,100:400", "0/1:300:400")
    error = rejected(with_line(FIRST_DATA, line))
    assert "Number=R" in error.reason


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (1, "0", "POS must be a positive integer"),
        (1, "12a", "POS must be a positive integer"),
        (3, "TXG", "REF must be one or more of A, C, G, T, N"),
        (4, "G,", "ALT must be bases"),
        (4, "T", "an ALT allele equals REF"),
        (4, "G,G", "ALT lists the same allele twice"),
        (5, "high", "QUAL must be a number"),
        (0, "chr 7", "CHROM must be a name"),
    ],
)
def test_bad_fixed_column_values_are_rejected(column, value, reason):
    columns = LINES[FIRST_DATA - 1].split("\t")
    columns[column] = value
    error = rejected(with_line(FIRST_DATA, "\t".join(columns)))
    assert error.line == FIRST_DATA
    assert reason in error.reason


def test_flag_with_a_value_is_rejected():
    line = LINES[FIRST_DATA - 1].replace("SOMATIC", "SOMATIC=1")
    assert "takes no value" in rejected(with_line(FIRST_DATA, line)).reason


def test_blank_line_between_records_is_rejected():
    error = rejected(with_line(FIRST_DATA + 1, ""))
    assert error.line == FIRST_DATA + 1


def test_truncated_bgzip_names_the_line_reached():
    data = gzip.compress(VALID.encode())
    error = rejected(data[: len(data) - 30])
    assert "truncated bgzip" in error.reason
    assert 1 <= error.line <= len(LINES)


def test_bgzip_cut_after_the_first_block_reports_the_following_line():
    head, tail = VALID[: VALID.index("chr7\t55181319")], VALID[VALID.index("chr7\t55181319") :]
    first = gzip.compress(head.encode())
    second = gzip.compress(tail.encode())
    error = rejected(first + second[:20])
    assert error.line == FIRST_DATA + 2  # the first two records were read in full
    assert "truncated bgzip" in error.reason


def test_file_over_the_size_cap_is_rejected():
    error = rejected(VALID.encode(), max_bytes=100)
    assert "100-byte limit" in error.reason
    assert error.line == 3  # lines 1 and 2 take 83 bytes: byte 100 lies in line 3


def test_decompressed_size_cap_stops_a_gzip_bomb():
    bomb = gzip.compress(b"##fileformat=VCFv4.2\n" + b"#" * 5_000_000)
    assert len(bomb) < 20_000
    error = rejected(bomb, max_bytes=1_000_000)
    assert "decompressed text larger than" in error.reason


def test_line_over_the_length_cap_is_rejected_with_its_number():
    line = LINES[FIRST_DATA - 1].replace("DP=400", "DP=" + "4" * 2000)
    error = rejected(with_line(FIRST_DATA, line), max_line_length=1000)
    assert error.line == FIRST_DATA
    assert "1,000-character limit" in error.reason


def test_too_many_samples_is_rejected_at_the_header_line():
    header = "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
    header += "".join(f"\tS{i}" for i in range(5))
    error = rejected(f"##fileformat=VCFv4.2\n{header}\n".encode(), max_samples=4)
    assert error.line == 2
    assert "limit is 4" in error.reason


def test_requested_tumour_sample_must_exist():
    error = rejected(VALID.encode(), tumour_sample="SOMEONE")
    assert "not one of the sample columns" in error.reason


def test_not_utf8_text_is_rejected_with_its_line():
    data = with_line(FIRST_DATA, LINES[FIRST_DATA - 1]).replace(b"chr12\t", b"chr\xff2\t")
    error = rejected(data)
    assert error.line == FIRST_DATA + 4
    assert "UTF-8" in error.reason


def test_messages_never_echo_sample_values():
    line = LINES[FIRST_DATA - 1].replace("0/1:300,100:400", "0/1:300,100:SECRET42")
    assert "SECRET42" not in str(rejected(with_line(FIRST_DATA, line)))


def test_unicode_lookalike_of_inf_in_a_float_field_is_rejected():
    # "ınf" (dotless i) matches "inf" case-insensitively under Unicode rules; float() refuses it
    text = (FIXTURES / "tumour_normal_vep.vcf").read_text()
    text = text.replace("0/1:98,42:0.301:140", "0/1:98,42:\u0131nf:140")
    error = rejected(text.encode())
    assert error.line == 16
    assert "FORMAT AF is declared Float" in error.reason
