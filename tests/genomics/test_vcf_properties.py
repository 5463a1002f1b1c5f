"""Property tests: no input, however broken, raises anything but GenomicsParseError."""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomics.variants.maf import parse_maf
from genomics.variants.model import GenomicsParseError, ParsedReport
from genomics.variants.payload import parse_payload
from genomics.variants.tabular import parse_tabular
from genomics.variants.vcf import parse_vcf

FIXTURES = Path(__file__).parent / "fixtures"
VALID = {
    "vcf": (FIXTURES / "tumour_normal_vep.vcf").read_bytes(),
    "maf": (FIXTURES / "case1.maf").read_bytes(),
    "tsv": (FIXTURES / "cnv_fusion.tsv").read_bytes(),
}
PARSERS = {"vcf": parse_vcf, "maf": parse_maf, "tsv": parse_tabular}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# bytes that matter to the formats, so mutations hit separators, not just letters
INTERESTING = st.sampled_from(
    [b"\t", b"\n", b";", b",", b":", b"=", b"|", b".", b"-", b"<", b">", b"#", b"A", b"N", b"0",
     b"-1", b"1e999", b"nan", b"\xff", b"\x1f\x8b", b"", b"*", b"chr", b"\r",
     "\u0131nf".encode()]
)  # fmt: skip


@st.composite
def mutated(draw, kind: str) -> bytes:
    data = bytearray(VALID[kind])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "replace", "delete", "truncate"]))
        if action == "insert":
            data[at:at] = draw(INTERESTING | st.binary(max_size=4))
        elif action == "replace" and at < len(data):
            data[at : at + 1] = draw(INTERESTING)
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        else:
            del data[at:]
    return bytes(data)


def only_parse_errors(parser, data: bytes) -> None:
    try:
        result: object = parser(data)
    except GenomicsParseError as error:
        result = error
    assert isinstance(result, ParsedReport | GenomicsParseError)
    if isinstance(result, GenomicsParseError):
        assert result.reason


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_parse_errors(data):
    for parser in PARSERS.values():
        only_parse_errors(parser, data)


@SETTINGS
@given(mutated("vcf"))
def test_mutated_vcf_raises_only_parse_errors(data):
    only_parse_errors(parse_vcf, data)


@SETTINGS
@given(mutated("vcf"))
def test_mutated_bgzipped_vcf_raises_only_parse_errors(data):
    compressed = gzip.compress(data)
    only_parse_errors(parse_vcf, compressed)
    only_parse_errors(parse_vcf, compressed[: len(compressed) // 2])


@SETTINGS
@given(mutated("maf"))
def test_mutated_maf_raises_only_parse_errors(data):
    only_parse_errors(parse_maf, data)


@SETTINGS
@given(mutated("tsv"))
def test_mutated_copy_number_file_raises_only_parse_errors(data):
    only_parse_errors(parse_tabular, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(["variants", "copy_numbers", "fusions", "build", "msi_status", "msi_score"])
FIELDS = st.sampled_from(
    ["chrom", "pos", "ref", "alt", "vaf", "depth", "gene", "call", "gene_5prime", "gene_3prime",
     "supporting_reads", "copy_number", "build"]
)  # fmt: skip


@SETTINGS
@given(
    st.dictionaries(
        KEYS, JSON | st.lists(st.dictionaries(FIELDS, JSON, max_size=6), max_size=3), max_size=4
    )
)
def test_arbitrary_json_payloads_raise_only_parse_errors(data):
    try:
        result: object = parse_payload(data)
    except GenomicsParseError as error:
        result = error
    assert isinstance(result, ParsedReport | GenomicsParseError)
