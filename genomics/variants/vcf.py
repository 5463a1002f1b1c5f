"""VCF 4.x (4.1 to 4.3) reader: one SmallVariant per sample-called ALT allele.

Strict by design: a file that breaks the specification is rejected with the line number and
the reason (GenomicsParseError), never half read. What is checked, beyond the header
(vcf_header.py): the column count of every line, POS, the REF/ALT alphabet, every INFO key
declared by ##INFO and every FORMAT key by ##FORMAT, value counts (Number=A/R/n) and numeric
types (Type=Integer/Float), and caps on file size, line length and sample count.

Which sample is the tumour, in this order:
1. the `tumour_sample` argument (it must name a sample column);
2. the ``##tumor_sample=`` line (GATK Mutect2 writes it; ``##tumour_sample=`` is accepted too);
3. a ``##SAMPLE=<ID=...>`` line whose Genomes / Description / ID says tumour or tumor (the
   VCF cancer convention, spec section 1.4.8);
4. the only sample of a single-sample file;
5. a sample column literally named TUMOR / TUMOUR (Strelka2, VarScan).
Anything else with several samples is an error asking for `tumour_sample`. The normal sample
comes from ``##normal_sample=``, a SAMPLE line saying normal/germline, or is the other sample
of a pair.

Per ALT allele: VAF is FORMAT AF (the allele's value) when declared, else AD as
alt / sum(AD) (which is alt / (ref + alt) for a biallelic site); depth is DP, else sum(AD);
alt_depth is the allele's AD. Symbolic alleles (<DEL>, breakends), '*' and '.' carry no
sequence and are skipped (counted in meta["skipped_alleles"]). Alleles are then normalised
(normalize.py): trimmed, and left-aligned if a `reference` is given.
"""

from __future__ import annotations

import re

from .bgzf import DEFAULT_MAX_BYTES, Source, read_text, split_lines
from .model import GenomeBuild, GenomicsParseError, ParsedReport, SmallVariant
from .normalize import normalize_alleles
from .reference import ReferenceSequence, canonical_chrom
from .vcf_annotation import (
    NO_ANNOTATION,
    Annotation,
    AnnReader,
    CsqReader,
    field_names_from_description,
    vep_alleles,
)
from .vcf_header import FieldDef, VcfHeader, parse_header

DEFAULT_MAX_LINE_LENGTH = 1_000_000
DEFAULT_MAX_SAMPLES = 64

_BASES = re.compile(r"[ACGTN]+")
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)",
    re.IGNORECASE | re.ASCII,  # ASCII: under Unicode rules "ınf" would match, then float() fails
)
_POS = re.compile(r"[0-9]+")
_SYMBOLIC = re.compile(r"<[^<>,\s]+>")
_BREAKEND = re.compile(
    r"[ACGTNacgtn]*[\[\]][^\[\]\s]+[\[\]][ACGTNacgtn]*|\.[ACGTNacgtn]+|[ACGTNacgtn]+\."
)
_CHROM_BAD = re.compile(r"[\s:]")
_TUMOUR_WORDS = re.compile(r"tumou?r|cancer|somatic", re.IGNORECASE)
_NORMAL_WORDS = re.compile(r"normal|germline", re.IGNORECASE)


def parse_vcf(
    source: Source,
    *,
    tumour_sample: str | None = None,
    build: GenomeBuild | None = None,
    reference: ReferenceSequence | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> ParsedReport:
    """Parse a VCF (plain or bgzipped) into a ParsedReport; GenomicsParseError if malformed."""
    text = read_text(source, max_bytes=max_bytes)
    lines = split_lines(text, max_line_length=max_line_length)
    del text
    header = parse_header(lines, max_samples=max_samples)
    report_build = _resolve_build(header, build)
    tumour, normal = _choose_samples(header, tumour_sample)
    reader = _RecordReader(header, tumour, report_build, reference)
    variants: list[SmallVariant] = []
    for index in range(header.first_data_index, len(lines)):
        reader.read(lines[index], index + 1, variants)
    meta: dict[str, str] = {k: header.meta[k] for k in ("source", "reference") if k in header.meta}
    meta["fileformat"] = header.fileformat
    if reader.skipped_alleles:
        meta["skipped_alleles"] = str(reader.skipped_alleles)
    return ParsedReport(
        variants=tuple(variants),
        build=report_build,
        samples=tuple(header.samples),
        tumour_sample=header.samples[tumour] if tumour is not None else "",
        normal_sample=normal,
        meta=meta,
    )


def _resolve_build(header: VcfHeader, given: GenomeBuild | None) -> GenomeBuild | None:
    found: GenomeBuild | None = None
    for build, line in header.builds:
        if found is not None and build != found:
            raise GenomicsParseError(
                f"the header names both {found} and {build} as the genome build", line=line
            )
        found = build
    if given is not None and found is not None and given != found:
        line = header.builds[0][1]
        raise GenomicsParseError(f"the header says {found} but the report says {given}", line=line)
    return given or found


def _choose_samples(header: VcfHeader, requested: str | None) -> tuple[int | None, str]:
    """(index of the tumour sample column or None, normal sample name or "")."""
    samples = header.samples
    line = header.first_data_index  # the #CHROM line's number
    if not samples:
        if requested:
            raise GenomicsParseError("tumour sample requested but the file has no samples")
        return None, ""
    named_normal = header.meta.get("normal_sample", "")
    for entry in header.sample_lines:
        words = " ".join((entry.get("Genomes", ""), entry.get("Description", "")))
        if not named_normal and _NORMAL_WORDS.search(words):
            named_normal = entry.get("ID", "")
    tumour = requested or header.meta.get("tumor_sample") or header.meta.get("tumour_sample")
    if not tumour:
        for entry in header.sample_lines:
            words = " ".join((entry.get("Genomes", ""), entry.get("Description", "")))
            if _TUMOUR_WORDS.search(words) or _TUMOUR_WORDS.fullmatch(entry.get("ID", "")):
                tumour = entry.get("ID", "")
                break
    if not tumour and len(samples) == 1:
        tumour = samples[0]
    if not tumour:
        by_name = [s for s in samples if s.upper() in ("TUMOR", "TUMOUR")]
        tumour = by_name[0] if len(by_name) == 1 else ""
    if not tumour:
        raise GenomicsParseError(
            f"{len(samples)} samples and no tumour named in the header: "
            "pass the tumour sample's name",
            line=line,
        )
    if tumour not in samples:
        raise GenomicsParseError("the tumour sample is not one of the sample columns", line=line)
    index = samples.index(tumour)
    if requested and named_normal == tumour:  # the caller overrides the header's labels
        named_normal = ""
    if not named_normal and len(samples) == 2:
        named_normal = samples[1 - index]
    if named_normal == tumour:
        raise GenomicsParseError("the same sample is named tumour and normal", line=line)
    return index, named_normal if named_normal in samples else ""


class _RecordReader:
    def __init__(
        self,
        header: VcfHeader,
        tumour: int | None,
        build: GenomeBuild | None,
        reference: ReferenceSequence | None,
    ) -> None:
        self.info_defs = header.info
        self.format_defs = header.format
        self.n_columns = 9 + len(header.samples) if header.has_format_column else 8
        self.tumour = tumour
        self.sample = header.samples[tumour] if tumour is not None else ""
        self.build = build
        self.reference = reference
        self.skipped_alleles = 0
        self._formats: dict[str, _FormatPlan] = {}
        self._chroms: dict[str, str] = {}  # CHROM as written -> checked, canonical name
        self.csq: CsqReader | None = None
        self.ann: AnnReader | None = None
        line = header.first_data_index
        if "CSQ" in header.info:
            names = field_names_from_description(header.info["CSQ"].description, "Format:")
            self.csq = CsqReader(names, line) if names else None
        if "ANN" in header.info:
            names = field_names_from_description(header.info["ANN"].description, ":")
            self.ann = AnnReader(names, line) if "Allele" in names else None

    def read(self, text: str, line: int, out: list[SmallVariant]) -> None:
        columns = text.split("\t")
        if len(columns) != self.n_columns:
            raise GenomicsParseError(
                f"expected {self.n_columns} tab-separated columns, found {len(columns)}",
                line=line,
            )
        chrom_text, pos_text, _id, ref, alt_text, qual, filter_text, info = columns[:8]
        chrom = self._chroms.get(chrom_text)
        if chrom is None:  # first record on this contig: check the name once
            if not chrom_text or _CHROM_BAD.search(chrom_text):
                raise GenomicsParseError("CHROM must be a name without spaces or colons", line=line)
            chrom = self._chroms[chrom_text] = canonical_chrom(chrom_text)
        if not _POS.fullmatch(pos_text):
            raise GenomicsParseError("POS must be a positive integer", line=line)
        pos = int(pos_text)
        if pos < 1:
            raise GenomicsParseError("POS must be a positive integer", line=line)
        ref = ref.upper()
        if not _BASES.fullmatch(ref):
            raise GenomicsParseError("REF must be one or more of A, C, G, T, N", line=line)
        alts = alt_text.split(",")
        n_alt = len(alts)
        kinds = [self._allele_kind(alt, ref, n_alt, line) for alt in alts]
        if len(set(alts)) != n_alt:
            raise GenomicsParseError("ALT lists the same allele twice", line=line)
        if qual != "." and not _FLOAT.fullmatch(qual):
            raise GenomicsParseError("QUAL must be a number or '.'", line=line)
        if not filter_text or " " in filter_text:
            raise GenomicsParseError("FILTER must be PASS, '.' or codes joined by ';'", line=line)
        info_values = self._check_info(info, n_alt, line)
        sample_fields: list[str] | None = None
        plan: _FormatPlan | None = None
        if self.n_columns > 8:
            plan = self._format_plan(columns[8], line)
            sample_fields = self._check_samples(columns, plan, n_alt, line)
        alleles_upper = [alt.upper() for alt in alts]
        csq_entries = ann_entries = None
        names: list[str] = []
        if self.csq is not None and "CSQ" in info_values:
            csq_entries = self.csq.entries(info_values["CSQ"], line)
            names = vep_alleles(ref, alleles_upper)
        if self.ann is not None and "ANN" in info_values:
            ann_entries = self.ann.entries(info_values["ANN"], line)
        for i, alt in enumerate(alleles_upper):
            if not kinds[i]:
                self.skipped_alleles += 1
                continue
            annotation: Annotation = NO_ANNOTATION
            if csq_entries is not None and self.csq is not None:
                annotation = self.csq.pick(csq_entries, i, names[i])
            if annotation is NO_ANNOTATION and ann_entries is not None and self.ann is not None:
                annotation = self.ann.pick(ann_entries, alts[i])
            vaf = depth = alt_depth = None
            if sample_fields is not None and plan is not None:
                vaf, depth, alt_depth = plan.allele_counts(sample_fields, i, line)
            try:
                npos, nref, nalt = normalize_alleles(chrom, pos, ref, alt, self.reference)
            except GenomicsParseError as exc:
                raise GenomicsParseError(exc.reason, line=line) from None
            out.append(
                SmallVariant(
                    chrom=chrom,
                    pos=npos,
                    ref=nref,
                    alt=nalt,
                    build=self.build,
                    gene=annotation.gene,
                    transcript=annotation.transcript,
                    hgvs_c=annotation.hgvs_c,
                    hgvs_p=annotation.hgvs_p,
                    consequence=annotation.consequence,
                    vaf=vaf,
                    depth=depth,
                    alt_depth=alt_depth,
                    filter=filter_text,
                    sample=self.sample,
                    source_line=line,
                )
            )

    @staticmethod
    def _allele_kind(alt: str, ref: str, n_alt: int, line: int) -> bool:
        """True for a sequence allele; False for one without sequence; error if malformed."""
        upper = alt.upper()
        if _BASES.fullmatch(upper):
            if upper == ref:
                raise GenomicsParseError("an ALT allele equals REF", line=line)
            return True
        if alt == "*" or (alt == "." and n_alt == 1):
            return False
        if _SYMBOLIC.fullmatch(alt) or _BREAKEND.fullmatch(alt):
            return False
        raise GenomicsParseError("ALT must be bases, '*', '.', <ID> or a breakend", line=line)

    def _check_info(self, info: str, n_alt: int, line: int) -> dict[str, str]:
        values: dict[str, str] = {}
        if info == ".":
            return values
        if not info:
            raise GenomicsParseError("INFO is empty (write '.')", line=line)
        for item in info.split(";"):
            key, eq, value = item.partition("=")
            definition = self.info_defs.get(key)
            if definition is None:
                raise GenomicsParseError(
                    f"INFO key {key[:40]!r} is not declared by a ##INFO header line", line=line
                )
            if key in values:
                raise GenomicsParseError(f"INFO key {key!r} appears twice", line=line)
            if definition.type == "Flag":
                if eq:
                    raise GenomicsParseError(f"INFO flag {key!r} takes no value", line=line)
            elif not eq:
                raise GenomicsParseError(f"INFO key {key!r} needs a value", line=line)
            else:
                _check_values(value, definition, n_alt, "INFO", line)
            values[key] = value
        return values

    def _format_plan(self, text: str, line: int) -> _FormatPlan:
        plan = self._formats.get(text)
        if plan is None:
            plan = _FormatPlan(text, self.format_defs, line)
            self._formats[text] = plan
        return plan

    def _check_samples(
        self, columns: list[str], plan: _FormatPlan, n_alt: int, line: int
    ) -> list[str] | None:
        tumour_fields: list[str] | None = None
        for s in range(9, len(columns)):
            fields = columns[s].split(":")
            if len(fields) > len(plan.keys):
                raise GenomicsParseError(
                    f"sample column {s - 8} has {len(fields)} fields; FORMAT has {len(plan.keys)}",
                    line=line,
                )
            for value, definition in zip(fields, plan.checked, strict=False):
                if definition is not None and value != ".":
                    _check_values(value, definition, n_alt, "FORMAT", line)
            if s - 9 == self.tumour:
                tumour_fields = fields
        return tumour_fields


class _FormatPlan:
    """One FORMAT string, checked once: its keys, which need type checks, where AF/AD/DP are."""

    def __init__(self, text: str, defs: dict[str, FieldDef], line: int) -> None:
        keys = text.split(":")
        for key in keys:
            if key not in defs:
                raise GenomicsParseError(
                    f"FORMAT key {key[:40]!r} is not declared by a ##FORMAT header line",
                    line=line,
                )
        if len(set(keys)) != len(keys):
            raise GenomicsParseError("FORMAT lists a key twice", line=line)
        if "GT" in keys and keys[0] != "GT":
            raise GenomicsParseError("GT must be the first FORMAT key", line=line)
        self.keys = keys
        self.checked: list[FieldDef | None] = [
            defs[key] if defs[key].type != "String" else None for key in keys
        ]
        self.af = keys.index("AF") if "AF" in keys else None
        self.ad = keys.index("AD") if "AD" in keys else None
        self.dp = keys.index("DP") if "DP" in keys else None
        self.ad_checked = self.ad is not None and defs["AD"].type == "Integer"

    def allele_counts(
        self, fields: list[str], alt_index: int, line: int
    ) -> tuple[float | None, int | None, int | None]:
        ad: list[int] | None = None
        if self.ad is not None and self.ad < len(fields) and fields[self.ad] != ".":
            parts = fields[self.ad].split(",")
            if "." not in parts and len(parts) > alt_index + 1:
                ad = (
                    [int(part) for part in parts]  # already checked as Integer
                    if self.ad_checked
                    else [_integer(part, "AD", line) for part in parts]
                )
                if min(ad) < 0:
                    raise GenomicsParseError("FORMAT AD must not be negative", line=line)
        depth: int | None = None
        if self.dp is not None and self.dp < len(fields) and fields[self.dp] != ".":
            depth = _integer(fields[self.dp].split(",", 1)[0], "DP", line)
            if depth < 0:
                raise GenomicsParseError("FORMAT DP must not be negative", line=line)
        elif ad is not None:
            depth = sum(ad)
        alt_depth = ad[alt_index + 1] if ad is not None else None
        vaf: float | None = None
        if self.af is not None and self.af < len(fields):
            parts = fields[self.af].split(",")
            if alt_index < len(parts) and parts[alt_index] != ".":
                if not _FLOAT.fullmatch(parts[alt_index]):
                    raise GenomicsParseError("FORMAT AF must be a number", line=line)
                vaf = float(parts[alt_index])
                if not 0.0 <= vaf <= 1.0:
                    raise GenomicsParseError("FORMAT AF must lie between 0 and 1", line=line)
        if vaf is None and ad is not None and sum(ad) > 0 and alt_depth is not None:
            vaf = alt_depth / sum(ad)
        return vaf, depth, alt_depth


def _integer(text: str, key: str, line: int) -> int:
    if not _INT.fullmatch(text):
        raise GenomicsParseError(f"FORMAT {key} must be an integer", line=line)
    return int(text)


def _check_values(value: str, definition: FieldDef, n_alt: int, where: str, line: int) -> None:
    """Value count (Number=A/R/n) and numeric grammar (Type=Integer/Float) of one value list."""
    if value == ".":
        return
    if definition.per_allele:
        expected: int | None = n_alt if definition.per_allele == 1 else n_alt + 1
    else:
        expected = definition.fixed_count
    kind = definition.type
    if kind == "String":
        if definition.per_allele and value.count(",") + 1 != expected:
            _count_error(definition, where, line)
        return
    if "," in value:
        parts = value.split(",")
        if expected is not None and len(parts) != expected:
            _count_error(definition, where, line)
    else:  # one value: the common case, no list built
        if expected is not None and expected != 1:
            _count_error(definition, where, line)
        parts = [value]
    if kind == "Character":
        for part in parts:
            if len(part) != 1:
                raise GenomicsParseError(
                    f"{where} {definition.id} is declared Character but holds a longer value",
                    line=line,
                )
        return
    fullmatch = _INT.fullmatch if kind == "Integer" else _FLOAT.fullmatch
    for part in parts:
        if part != "." and fullmatch(part) is None:
            raise GenomicsParseError(
                f"{where} {definition.id} is declared {kind} but holds a non-numeric value",
                line=line,
            )


def _count_error(definition: FieldDef, where: str, line: int) -> None:
    raise GenomicsParseError(
        f"{where} {definition.id} has the wrong number of values for Number={definition.number}",
        line=line,
    )
