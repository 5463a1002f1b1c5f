"""`python -m genomics.variants annotate FILE --tumour-type CODE`."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from genomics.variants.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> list[dict]:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_annotate_prints_one_object_per_variant_then_a_summary():
    records = run("annotate", str(FIXTURES / "tumour_normal_vep.vcf"), "--tumour-type", "LUAD")
    variants, summary = records[:-1], records[-1]
    assert [r["record"] for r in variants] == ["variant"] * 5
    l858r = variants[0]
    assert {k: l858r[k] for k in ("gene", "hgvs_p", "consequence", "vaf", "line")} == {
        "gene": "EGFR",
        "hgvs_p": "p.Leu858Arg",
        "consequence": "missense_variant",
        "vaf": 0.301,
        "line": 16,
    }
    assert l858r["level"] is not None
    assert "osimertinib" in l858r["drugs"]
    assert variants[-1]["level"] is None
    assert variants[-1]["drugs"] == []
    assert summary["record"] == "summary"
    assert (summary["tumour_type"], summary["variants"]) == ("LUAD", 5)
    assert "EGFR" in summary["key_alterations"]
    assert summary["kb_version"]


def test_annotate_reads_maf_and_the_copy_number_format_by_extension():
    maf = run("annotate", str(FIXTURES / "case1.maf"), "--tumour-type", "NSCLC")
    assert [r["gene"] for r in maf[:-1]] == ["EGFR", "EGFR", "ERBB2", "BRAF", "TP53"]
    tsv = run("annotate", str(FIXTURES / "cnv_fusion.tsv"), "--tumour-type", "NSCLC")
    assert [r["record"] for r in tsv] == ["copy_number"] * 3 + ["fusion"] * 2 + ["summary"]
    assert tsv[-1]["msi_status"] == "MSS"


def test_gzipped_file_with_an_unknown_name_is_sniffed(tmp_path):
    data = gzip.compress((FIXTURES / "single_sample.vcf").read_bytes())
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    records = run("annotate", str(path), "--tumour-type", "LUAD", "--covered-mb", "1.0")
    assert len(records) == 7
    assert records[-1]["covered_mb"] == 1.0
    assert records[-1]["tmb"] is not None


def test_malformed_file_exits_2_with_the_line_on_stderr(tmp_path, capsys):
    text = (FIXTURES / "single_sample.vcf").read_text().replace("DP=400", "DP=4OO")
    path = tmp_path / "bad.vcf"
    path.write_text(text)
    out = io.StringIO()
    assert main(["annotate", str(path), "--tumour-type", "LUAD"], out=out) == 2
    assert out.getvalue() == ""
    assert capsys.readouterr().err.startswith("line 13: INFO DP is declared Integer")


def test_unknown_tumour_type_exits_2(capsys):
    out = io.StringIO()
    code = main(["annotate", str(FIXTURES / "case1.maf"), "--tumour-type", "NOPE"], out=out)
    assert code == 2
    assert "NOPE" in capsys.readouterr().err


def test_module_entry_point_exits_non_zero_on_a_malformed_file(tmp_path):
    path = tmp_path / "bad.vcf"
    path.write_text("##fileformat=VCFv4.2\nnot a header\n")
    result = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
        [sys.executable, "-m", "genomics.variants", "annotate", str(path), "--tumour-type", "LUAD"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "line 2: expected a ##meta line or the #CHROM header line"


def test_missing_tumour_type_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["annotate", str(FIXTURES / "case1.maf")])
    assert exit_info.value.code == 2
