"""``python -m genomics.variants annotate FILE --tumour-type CODE``: parse and annotate a report.

    python -m genomics.variants annotate tumour.vcf.gz --tumour-type LUAD \
        [--build GRCh38] [--format vcf|maf|tsv] [--tumour-sample NAME] \
        [--reference GRCh38.fa] [--covered-mb 1.2]

Prints one JSON object per line: one per small variant (gene, hgvs_p, consequence, vaf, level,
drugs, plus position, depth, filter, the knowledge-base entries matched and the source line),
one per copy-number call and fusion, then one summary object (``"record": "summary"``: TMB when
--covered-mb is given, MSI, biomarker matches, the key alteration per gene, the
knowledge-base version). ``level`` is the highest actionable level in the given tumour type
(null when none); ``drugs`` are the drugs of the actionable matches.

A malformed file prints ``line N: reason`` on stderr and exits 2; so does an unknown tumour
type; a bad command line exits 2 too (argparse). The format comes from --format, else the
file name (.vcf, .vcf.gz, .vcf.bgz, .maf, .maf.txt, .maf.gz, .tsv), else the content.
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
    annotate.add_argument(
        "--covered-mb", type=_positive_float, help="assay territory in Mb, for TMB"
    )
    return parser.parse_args(argv)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number") from None
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError("must be a positive number of megabases")
    return value


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


def _best(annotations: Sequence[Any]) -> tuple[str | None, list[str], list[str]]:
    """(highest actionable level, drugs of the actionable matches, knowledge-base entry ids)."""
    from .annotate import level_rank

    actionable = [a for a in annotations if a.actionable]
    level = min((a.level for a in actionable), key=level_rank, default=None)
    drugs = sorted({drug for a in actionable for drug in a.drugs})
    return level, drugs, [a.kb_entry_id for a in annotations]


def _records(report: ParsedReport, annotated: Any) -> list[dict[str, Any]]:
    def matches(kind: str, index: int) -> list[Any]:
        if annotated is None:
            return []
        return [
            a for a in annotated.annotations if a.subject_kind == kind and a.subject_index == index
        ]

    records: list[dict[str, Any]] = []
    for i, variant in enumerate(report.variants):
        level, drugs, entries = _best(matches("variant", i))
        records.append(
            {
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
                "level": level,
                "drugs": drugs,
                "kb_entries": entries,
                "line": variant.source_line,
            }
        )
    for i, call in enumerate(report.copy_numbers):
        level, drugs, entries = _best(matches("copy_number", i))
        records.append(
            {
                "record": "copy_number",
                "gene": call.gene,
                "call": call.call,
                "copy_number": call.copy_number,
                "level": level,
                "drugs": drugs,
                "kb_entries": entries,
                "line": call.source_line,
            }
        )
    for i, fusion in enumerate(report.fusions):
        level, drugs, entries = _best(matches("fusion", i))
        records.append(
            {
                "record": "fusion",
                "gene_5prime": fusion.gene_5prime,
                "gene_3prime": fusion.gene_3prime,
                "supporting_reads": fusion.supporting_reads,
                "level": level,
                "drugs": drugs,
                "kb_entries": entries,
                "line": fusion.source_line,
            }
        )
    return records


def _summary(args: argparse.Namespace, report: ParsedReport, annotated: Any, tmb: Any) -> dict:
    from .summary import key_alterations

    biomarkers = [a for a in annotated.annotations if a.subject_kind == "biomarker"]
    return {
        "record": "summary",
        "tumour_type": annotated.tumour_type,
        "build": report.build,
        "tumour_sample": report.tumour_sample,
        "variants": len(report.variants),
        "copy_numbers": len(report.copy_numbers),
        "fusions": len(report.fusions),
        "tmb": None if tmb is None else round(tmb.value, 2),
        "tmb_high": None if tmb is None else tmb.high,
        "tmb_mutations": None if tmb is None else tmb.mutations,
        "covered_mb": args.covered_mb,
        "msi_status": annotated.msi_status or None,
        "biomarkers": [
            {"alteration": a.alteration, "level": a.level, "drugs": list(a.drugs)}
            for a in biomarkers
        ],
        "key_alterations": {
            gene: {"alteration": a.alteration, "level": a.level, "drugs": list(a.drugs)}
            for gene, a in key_alterations(annotated).items()
        },
        "actionable": len(annotated.actionable),
        "kb_version": annotated.kb_version,
        "notes": list(annotated.notes),
    }


def _print(obj: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _arguments(argv)
    try:
        report = _parse(args)
    except GenomicsParseError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_MALFORMED
    from .annotate import annotate_report
    from .oncotree import UnknownOncoTreeCode
    from .summary import tumour_mutational_burden

    tmb = None
    if args.covered_mb is not None:
        tmb = tumour_mutational_burden(report.variants, args.covered_mb)
    try:
        annotated = annotate_report(
            report, args.tumour_type, tmb=None if tmb is None else tmb.value
        )
    except UnknownOncoTreeCode as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_MALFORMED
    for record in _records(report, annotated):
        _print(record, out)
    _print(_summary(args, report, annotated, tmb), out)
    return 0
