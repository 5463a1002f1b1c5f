"""``python -m genomics.variants annotate FILE --tumour-type CODE``: parse (and annotate) a report.

Prints one JSON object per line: one per small variant (gene, hgvs_p, consequence, vaf, level,
drugs, plus position and filter), one per copy-number call and fusion, then one summary object
(``"record": "summary"``). A malformed file prints ``line N: reason`` on stderr and exits 2; a
bad command line exits 2 too (argparse); an unknown tumour type exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .formats import PARSERS, format_from_name, parse_report
from .model import GenomicsParseError, ParsedReport
from .reference import FastaReference

EXIT_MALFORMED = 2


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m genomics.variants")
    commands = parser.add_subparsers(dest="command", required=True)
    annotate = commands.add_parser("annotate", help="parse and annotate a VCF, MAF or TSV report")
    annotate.add_argument("file")
    annotate.add_argument("--tumour-type", "--tumor-type", required=True, help="OncoTree code")
    annotate.add_argument("--build", choices=("GRCh37", "GRCh38"))
    annotate.add_argument("--format", choices=sorted(PARSERS))
    annotate.add_argument("--tumour-sample", "--tumor-sample", help="VCF/MAF sample name")
    annotate.add_argument("--reference", help="FASTA of the build, to left-align indels")
    return parser.parse_args(argv)


def _parse(args: argparse.Namespace) -> ParsedReport:
    kind = args.format or format_from_name(args.file)
    options: dict[str, Any] = {}
    if kind != "tsv":
        options = {"build": args.build, "tumour_sample": args.tumour_sample}
        if args.reference:
            options["reference"] = FastaReference(args.reference)
    if kind is None:  # sniffed from the content; only the VCF/MAF readers take these options
        from .bgzf import read_raw
        from .formats import sniff_format

        raw = read_raw(args.file, max_bytes=1 << 16)
        kind = "vcf" if raw[:2] == b"\x1f\x8b" else sniff_format(raw)
        if kind == "tsv":
            options = {}
    return parse_report(args.file, format=kind, **options)


def _variant_record(variant: Any, annotation: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "record": "variant",
        "chrom": variant.chrom,
        "pos": variant.pos,
        "ref": variant.ref,
        "alt": variant.alt,
        "gene": variant.gene,
        "hgvs_p": variant.hgvs_p,
        "consequence": variant.consequence,
        "vaf": variant.vaf,
        "depth": variant.depth,
        "filter": variant.filter,
        "level": (annotation or {}).get("level"),
        "drugs": (annotation or {}).get("drugs", []),
        "line": variant.source_line,
    }


def _print(obj: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _arguments(argv)
    try:
        report = _parse(args)
    except GenomicsParseError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_MALFORMED
    for variant in report.variants:
        _print(_variant_record(variant, None), out)
    for copy_number in report.copy_numbers:
        _print(
            {
                "record": "copy_number",
                "gene": copy_number.gene,
                "call": copy_number.call,
                "copy_number": copy_number.copy_number,
                "level": None,
                "drugs": [],
                "line": copy_number.source_line,
            },
            out,
        )
    for fusion in report.fusions:
        _print(
            {
                "record": "fusion",
                "gene_5prime": fusion.gene_5prime,
                "gene_3prime": fusion.gene_3prime,
                "supporting_reads": fusion.supporting_reads,
                "level": None,
                "drugs": [],
                "line": fusion.source_line,
            },
            out,
        )
    _print(
        {
            "record": "summary",
            "tumour_type": args.tumour_type,
            "build": report.build,
            "tumour_sample": report.tumour_sample,
            "variants": len(report.variants),
            "copy_numbers": len(report.copy_numbers),
            "fusions": len(report.fusions),
            "msi_status": report.msi_status or None,
            "annotated": False,
        },
        out,
    )
    return 0
