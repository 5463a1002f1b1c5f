"""JSON payload -> ParsedReport: the API's way in, as strict as the file readers."""

from __future__ import annotations

import pytest

from genomics.variants.model import GenomicsParseError
from genomics.variants.payload import parse_payload


def payload(**changes):
    data = {
        "build": "GRCh38",
        "tumour_sample": "T1",
        "msi_status": "MSI-H",
        "msi_score": 38,
        "variants": [
            {"chrom": "chr7", "pos": 55191822, "ref": "T", "alt": "G", "gene": "EGFR",
             "hgvs_p": "p.Leu858Arg", "consequence": "missense_variant", "vaf": 0.31,
             "depth": 140, "alt_depth": 43},
            {"chrom": "7", "pos": 100, "ref": "CTG", "alt": "CAA"},
        ],
        "copy_numbers": [{"gene": "ERBB2", "call": "amplification", "copy_number": 12}],
        "fusions": [{"gene_5prime": "EML4", "gene_3prime": "ALK", "supporting_reads": 41}],
    }  # fmt: skip
    data.update(changes)
    return data


def test_payload_becomes_a_report_with_normalised_variants():
    report = parse_payload(payload())
    l858r, mnv = report.variants
    assert (l858r.chrom, l858r.build, l858r.sample, l858r.source_line) == ("7", "GRCh38", "T1", 1)
    assert (l858r.vaf, l858r.depth, l858r.filter) == (0.31, 140, "PASS")
    assert (mnv.pos, mnv.ref, mnv.alt) == (101, "TG", "AA")
    assert report.copy_numbers[0].copy_number == 12.0
    assert report.fusions[0].supporting_reads == 41
    assert (report.msi_status, report.msi_score) == ("MSI-H", 38.0)


def test_empty_payload_is_an_empty_report():
    report = parse_payload({})
    assert (report.variants, report.copy_numbers, report.fusions, report.build) == (
        (),
        (),
        (),
        None,
    )


def variant_with(**changes):
    variant = {"chrom": "7", "pos": 5, "ref": "A", "alt": "G"}
    variant.update(changes)
    return payload(variants=[payload()["variants"][0], variant])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (variant_with(pos="5"), "variants[1].pos: must be an integer"),
        (variant_with(pos=0), "variants[1].pos: must be a positive integer"),
        (variant_with(pos=True), "variants[1].pos: must be an integer"),
        (variant_with(vaf=1.5), "variants[1].vaf: must lie between 0 and 1"),
        (variant_with(vaf=float("nan")), "variants[1].vaf: must be a finite number"),
        (variant_with(ref="X"), "variants[1].ref: must be bases"),
        (variant_with(alt="A"), "variants[1]: REF and ALT are the same allele"),
        (variant_with(colour="red"), "variants[1].colour: unknown key"),
        (variant_with(build="hg19"), "variants[1].build: must be GRCh37 or GRCh38"),
        (variant_with(build="GRCh37"), "variants[1].build: differs from the report's build"),
        (variant_with(depth=-1), "variants[1].depth: must not be negative"),
        (payload(variants=[{"chrom": "7", "pos": 5, "ref": "A"}]), "variants[0].alt: is required"),
        (payload(variants="many"), "variants: must be a list"),
        (payload(variants=[3]), "variants[0]: must be an object"),
        (payload(build="hg38"), "build: must be GRCh37 or GRCh38"),
        (payload(msi_status="high"), "msi_status: must be MSI-H or MSS"),
        (payload(patient="x"), "patient: unknown key"),
        (payload(copy_numbers=[{"gene": "ERBB2", "call": "amp"}]), "copy_numbers[0].call"),
        (payload(copy_numbers=[{"gene": "ERBB2"}]), "copy_numbers[0].call: is required"),
        (payload(fusions=[{"gene_5prime": "EML4", "gene_3prime": "A LK"}]),
         "fusions[0].gene_3prime"),
        (payload(fusions=[{"gene_5prime": "EML4", "gene_3prime": "ALK", "supporting_reads": 2.5}]),
         "fusions[0].supporting_reads: must be an integer"),
    ],
)  # fmt: skip
def test_malformed_payload_names_the_path(data, message):
    with pytest.raises(GenomicsParseError) as error:
        parse_payload(data)
    assert str(error.value).startswith(message)


def test_payload_that_is_not_an_object_is_rejected():
    with pytest.raises(GenomicsParseError, match="JSON object"):
        parse_payload(["variants"])  # type: ignore[arg-type]
