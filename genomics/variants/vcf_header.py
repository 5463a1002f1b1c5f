"""The VCF 4.x meta-information and header lines (VCF spec 4.3, section 1.4 and 1.5).

Parsed strictly: the first line must be ``##fileformat=VCFv4.x``, every ``##INFO`` and
``##FORMAT`` line must be a well-formed ``<ID=...,Number=...,Type=...,Description="...">``,
and the ``#CHROM`` line must hold the eight fixed columns, then optionally FORMAT and the
sample names. Messages name keys and line numbers, never sample values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import GenomeBuild, GenomicsParseError

FIXED_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
_TYPES = frozenset({"Integer", "Float", "Flag", "Character", "String"})
_NUMBER = re.compile(r"[0-9]+|[ARG.]")  # [0-9], not \d: int() must accept what matches
_FILEFORMAT = re.compile(r"VCFv4\.[0-9]+")

# Assembly names as they appear in ##reference / ##assembly / ##contig lines. Bounded so that
# "lab38" is not "b38". GATK's bundle names: Homo_sapiens_assembly38, human_g1k_v37, hs37d5.
_BUILD_NAMES: tuple[tuple[re.Pattern[str], GenomeBuild], ...] = (
    (re.compile(r"(?<![a-z0-9])(grch38|hg38|hs38\w*|assembly38|b38)(?![0-9])", re.I), "GRCh38"),
    (
        re.compile(r"(?<![a-z0-9])(grch37|hg19|hs37\w*|assembly19|b37|v37)(?![0-9])", re.I),
        "GRCh37",
    ),
)
# Lengths of chromosome 1 and X: GRC assembly reports GCF_000001405.13 (GRCh37) and .26 (GRCh38).
_CONTIG_LENGTHS: dict[str, dict[int, GenomeBuild]] = {
    "1": {249_250_621: "GRCh37", 248_956_422: "GRCh38"},
    "X": {155_270_560: "GRCh37", 156_040_895: "GRCh38"},
}


@dataclass(frozen=True)
class FieldDef:
    """One ##INFO or ##FORMAT declaration."""

    id: str
    number: str  # a count, "A" (one per ALT), "R" (REF + ALTs), "G" (per genotype) or "."
    type: str
    description: str
    # derived from `number`, once, for the per-record checks
    fixed_count: int | None = field(init=False, default=None, compare=False)
    per_allele: int = field(init=False, default=0, compare=False)  # 1: A, 2: R

    def __post_init__(self) -> None:
        if self.number.isdigit() and self.number != "0":
            object.__setattr__(self, "fixed_count", int(self.number))
        object.__setattr__(self, "per_allele", {"A": 1, "R": 2}.get(self.number, 0))


@dataclass
class VcfHeader:
    fileformat: str
    info: dict[str, FieldDef] = field(default_factory=dict)
    format: dict[str, FieldDef] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    has_format_column: bool = False
    meta: dict[str, str] = field(default_factory=dict)  # first value of each plain ##key=value
    sample_lines: list[dict[str, str]] = field(default_factory=list)  # ##SAMPLE=<...>
    builds: list[tuple[GenomeBuild, int]] = field(default_factory=list)  # (build, line)
    first_data_index: int = 0  # index into the lines of the first data line


def parse_structured(text: str, line: int) -> dict[str, str]:
    """``<ID=DP,Number=1,Type=Integer,Description="Total, depth">`` -> a dict (quotes honoured)."""
    if not (text.startswith("<") and text.endswith(">")):
        raise GenomicsParseError("structured header value must be enclosed in <...>", line=line)
    body = text[1:-1]
    fields: dict[str, str] = {}
    i, n = 0, len(body)
    while i < n:
        eq = body.find("=", i)
        if eq == -1:
            raise GenomicsParseError("header entry without '=' in <...>", line=line)
        key = body[i:eq].strip()
        i = eq + 1
        if i < n and body[i] == '"':
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise GenomicsParseError("unterminated quoted string in header", line=line)
                char = body[i]
                if char == "\\" and i + 1 < n:
                    chars.append(body[i + 1])
                    i += 2
                    continue
                i += 1
                if char == '"':
                    break
                chars.append(char)
            value = "".join(chars)
            if i < n:
                if body[i] != ",":
                    raise GenomicsParseError("expected ',' after a quoted header value", line=line)
                i += 1
        else:
            comma = body.find(",", i)
            end = n if comma == -1 else comma
            value = body[i:end]
            i = end + 1
        if not key or key in fields:
            raise GenomicsParseError("empty or repeated key in a structured header", line=line)
        fields[key] = value
    return fields


def _field_def(kind: str, text: str, line: int) -> FieldDef:
    fields = parse_structured(text, line)
    ident, number, type_ = fields.get("ID", ""), fields.get("Number", ""), fields.get("Type", "")
    if not ident:
        raise GenomicsParseError(f"##{kind} line without ID", line=line)
    if not _NUMBER.fullmatch(number):
        raise GenomicsParseError(f"##{kind} {ident}: invalid Number", line=line)
    if type_ not in _TYPES or (kind == "FORMAT" and type_ == "Flag"):
        raise GenomicsParseError(f"##{kind} {ident}: invalid Type", line=line)
    if type_ == "Flag" and number != "0":
        raise GenomicsParseError(f"##{kind} {ident}: a Flag must have Number=0", line=line)
    return FieldDef(ident, number, type_, fields.get("Description", ""))


def build_from_name(text: str) -> GenomeBuild | None:
    """GRCh37 / GRCh38 from an assembly or reference-file name; None if unknown or both."""
    found = {build for pattern, build in _BUILD_NAMES if pattern.search(text)}
    return found.pop() if len(found) == 1 else None


def parse_header(lines: list[str], *, max_samples: int) -> VcfHeader:
    if not lines or not lines[0].startswith("##fileformat="):
        raise GenomicsParseError("the first line must be ##fileformat=VCFv4.x", line=1)
    version = lines[0][len("##fileformat=") :]
    if not _FILEFORMAT.fullmatch(version):
        raise GenomicsParseError("unsupported fileformat (expected VCFv4.x)", line=1)
    header = VcfHeader(fileformat=version)
    for index in range(1, len(lines)):
        text = lines[index]
        number = index + 1
        if text.startswith("#CHROM"):
            _parse_column_line(header, text, number, max_samples)
            header.first_data_index = index + 1
            return header
        if not text.startswith("##"):
            raise GenomicsParseError(
                "expected a ##meta line or the #CHROM header line", line=number
            )
        key, eq, value = text[2:].partition("=")
        if not eq or not key:
            raise GenomicsParseError("meta line must be ##key=value", line=number)
        if key in ("INFO", "FORMAT"):
            definition = _field_def(key, value, number)
            table = header.info if key == "INFO" else header.format
            if definition.id in table:
                raise GenomicsParseError(f"##{key} {definition.id} declared twice", line=number)
            table[definition.id] = definition
        elif key in ("FILTER", "ALT"):
            parse_structured(value, number)
        elif key == "contig":
            contig = parse_structured(value, number)
            _contig_build(header, contig, number)
        elif key == "SAMPLE":
            header.sample_lines.append(parse_structured(value, number))
        else:
            header.meta.setdefault(key, value)
            if key in ("reference", "assembly"):
                build = build_from_name(value)
                if build is not None:
                    header.builds.append((build, number))
    raise GenomicsParseError("no #CHROM header line", line=len(lines) + 1)


def _contig_build(header: VcfHeader, contig: dict[str, str], line: int) -> None:
    from .reference import canonical_chrom

    assembly = contig.get("assembly", "")
    build = build_from_name(assembly) if assembly else None
    if build is None:
        lengths = _CONTIG_LENGTHS.get(canonical_chrom(contig.get("ID", "")), {})
        length = contig.get("length", "")
        build = lengths.get(int(length)) if length.isascii() and length.isdigit() else None
    if build is not None:
        header.builds.append((build, line))


def _parse_column_line(header: VcfHeader, text: str, line: int, max_samples: int) -> None:
    columns = text.split("\t")
    if tuple(columns[:8]) != FIXED_COLUMNS:
        raise GenomicsParseError(
            "the header line must start with the 8 tab-separated columns "
            "#CHROM POS ID REF ALT QUAL FILTER INFO",
            line=line,
        )
    if len(columns) > 8:
        if columns[8] != "FORMAT":
            raise GenomicsParseError("the 9th header column must be FORMAT", line=line)
        header.has_format_column = True
        samples = columns[9:]
        if len(samples) > max_samples:
            raise GenomicsParseError(
                f"{len(samples)} sample columns; the limit is {max_samples}", line=line
            )
        if len(set(samples)) != len(samples) or "" in samples:
            raise GenomicsParseError("sample names must be unique and non-empty", line=line)
        header.samples = samples
