"""Copy-number / fusion / MSI format of docs/genomics-formats.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomics.variants.model import CopyNumber, Fusion, GenomicsParseError
from genomics.variants.tabular import parse_tabular

FIXTURES = Path(__file__).parent / "fixtures"


def test_copy_numbers_fusions_and_msi_are_read_with_their_lines():
    report = parse_tabular(FIXTURES / "cnv_fusion.tsv")
    assert report.copy_numbers == (
        CopyNumber("ERBB2", "amplification", 12.5, 2.64, source_line=3),
        CopyNumber("CDKN2A", "deletion", 0.0, None, source_line=4),
        CopyNumber("MYC", "gain", None, 0.58, source_line=5),
    )
    assert report.fusions == (
        Fusion("EML4", "ALK", 41, source_line=7),
        Fusion("CD74", "ROS1", None, source_line=8),
    )
    assert (report.msi_status, report.msi_score) == ("MSS", 1.2)
    assert report.variants == ()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("cnv\tERBB2\tamplified\t12\t2.6", "call must be amplification, gain, loss or deletion"),
        ("cnv\tERBB2\tamplification\t12", "a cnv row has 5 tab-separated columns, found 4"),
        ("cnv\tERBB2\tamplification\ttwelve\t2.6", "copy number must be a number"),
        ("cnv\tERBB2\tamplification\t-1\t2.6", "copy number must not be negative"),
        ("cnv\tERBB 2\tamplification\t12\t2.6", "gene must be an HGNC symbol"),
        ("fusion\tEML4\tALK\t4.5", "supporting reads must be a non-negative integer"),
        ("fusion\tEML4\tALK", "a fusion row has 4 tab-separated columns"),
        ("msi\thigh\t40", "MSI status must be MSI-H or MSS"),
        ("msi\tMSI-H\t40", "more than one msi row"),
        ("amplification\tERBB2", "a row must start with cnv, fusion or msi"),
        ("", "blank lines are not allowed"),
    ],
)
def test_malformed_rows_are_rejected_with_their_line(row, reason):
    data = (FIXTURES / "cnv_fusion.tsv").read_text() + row + "\nfusion\tKIF5B\tRET\t9\n"
    with pytest.raises(GenomicsParseError, match=reason) as error:
        parse_tabular(data.encode())
    assert error.value.line == 10


def test_unknown_format_version_is_rejected():
    with pytest.raises(GenomicsParseError, match="version") as error:
        parse_tabular(b"#oncoboard-genomics-tsv 2\ncnv\tMET\tgain\t4\t.\n")
    assert error.value.line == 1
