"""MAF (Mutation Annotation Format, GDC/TCGA flavour) reader.

Format: https://docs.gdc.cancer.gov/Data/File_Formats/MAF_Format/ . Tab-separated; lines
starting with '#' before the column header are comments ("#version 2.4"); the first other
line names the columns. Required columns (missing -> error naming it): Hugo_Symbol,
Chromosome, Start_Position, End_Position, Reference_Allele, Tumor_Seq_Allele2. Optional and
used: Tumor_Seq_Allele1 (when Allele2 equals the reference), Variant_Classification, HGVSc,
HGVSp (3-letter, preferred) / HGVSp_Short, Transcript_ID, t_depth, t_ref_count, t_alt_count,
NCBI_Build, Tumor_Sample_Barcode, Matched_Norm_Sample_Barcode, FILTER.

Coordinates: MAF writes indels without VCF's anchor base: a deletion is Reference_Allele =
the deleted bases, Tumor allele '-', Start = the first deleted base; an insertion is
Reference_Allele '-', Start = the base before the insertion, End = Start + 1. We convert to
VCF style. The anchor base is not in the file, so it is written "N":

    deletion  Start=S, REF=TT,  ALT=-   ->  pos S-1, REF "NTT", ALT "N"
    insertion Start=S, REF=-,   ALT=G   ->  pos S,   REF "N",   ALT "NG"

Given a `reference`, the N is replaced by the real base and the indel is left-aligned like a
VCF's. Without one, indels keep the N anchor: the annotator matches them on gene + protein
change (HGVSp), and SNVs/MNVs (no anchor needed) on coordinates too.

One report is one tumour: a MAF holding several Tumor_Sample_Barcodes needs `tumour_sample`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .bgzf import DEFAULT_MAX_BYTES, Source, read_text, split_lines
from .model import GenomeBuild, GenomicsParseError, ParsedReport, SmallVariant
from .normalize import normalize_alleles
from .reference import ReferenceSequence, canonical_chrom
from .vcf_header import build_from_name

DEFAULT_MAX_LINE_LENGTH = 1_000_000
DEFAULT_MAX_SAMPLES = 64

REQUIRED_COLUMNS = (
    "Hugo_Symbol",
    "Chromosome",
    "Start_Position",
    "End_Position",
    "Reference_Allele",
    "Tumor_Seq_Allele2",
)

# MAF Variant_Classification -> Sequence Ontology term: the inverse of vcf2maf's
# GetVariantClassification (github.com/mskcc/vcf2maf, vcf2maf.pl) and the GDC MAF
# documentation. Splice_Site stands for both splice_acceptor_variant and splice_donor_variant,
# so it maps to their parent term splice_site_variant (SO:0001629).
VARIANT_CLASSIFICATION_TO_SO: dict[str, str] = {
    "Missense_Mutation": "missense_variant",
    "Nonsense_Mutation": "stop_gained",
    "Nonstop_Mutation": "stop_lost",
    "Silent": "synonymous_variant",
    "Splice_Site": "splice_site_variant",
    "Splice_Region": "splice_region_variant",
    "Frame_Shift_Del": "frameshift_variant",
    "Frame_Shift_Ins": "frameshift_variant",
    "In_Frame_Del": "inframe_deletion",
    "In_Frame_Ins": "inframe_insertion",
    "Translation_Start_Site": "start_lost",
    "3'UTR": "3_prime_UTR_variant",
    "5'UTR": "5_prime_UTR_variant",
    "3'Flank": "downstream_gene_variant",
    "5'Flank": "upstream_gene_variant",
    "Intron": "intron_variant",
    "IGR": "intergenic_variant",
    "RNA": "non_coding_transcript_exon_variant",
    "Targeted_Region": "sequence_variant",
    "De_novo_Start_InFrame": "5_prime_UTR_premature_start_codon_gain_variant",
    "De_novo_Start_OutOfFrame": "5_prime_UTR_premature_start_codon_gain_variant",
}

_ALLELE = re.compile(r"[ACGTN]+|-")
_INT = re.compile(r"[0-9]+")


def parse_maf(
    source: Source,
    *,
    tumour_sample: str | None = None,
    build: GenomeBuild | None = None,
    reference: ReferenceSequence | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> ParsedReport:
    """Parse a MAF (plain or gzipped) into a ParsedReport; GenomicsParseError if malformed."""
    lines = split_lines(read_text(source, max_bytes=max_bytes), max_line_length=max_line_length)
    index = 0
    while index < len(lines) and lines[index].startswith("#"):
        index += 1
    if index == len(lines):
        raise GenomicsParseError("no column header line", line=index + 1)
    columns = lines[index].split("\t")
    position = {name: i for i, name in enumerate(columns)}
    if len(position) != len(columns):
        raise GenomicsParseError("a column name appears twice", line=index + 1)
    for name in REQUIRED_COLUMNS:
        if name not in position:
            raise GenomicsParseError(f"required column {name} is missing", line=index + 1)
    rows: list[tuple[int, list[str]]] = []
    barcodes: list[str] = []
    barcode_at = position.get("Tumor_Sample_Barcode")
    for row_index in range(index + 1, len(lines)):
        fields = lines[row_index].split("\t")
        if len(fields) != len(columns):
            raise GenomicsParseError(
                f"expected {len(columns)} tab-separated columns, found {len(fields)}",
                line=row_index + 1,
            )
        rows.append((row_index + 1, fields))
        if barcode_at is not None and fields[barcode_at] not in barcodes:
            barcodes.append(fields[barcode_at])
            if len(barcodes) > max_samples:
                raise GenomicsParseError(
                    f"more than {max_samples} tumour samples", line=row_index + 1
                )
    chosen = _choose_sample(barcodes, tumour_sample)
    reader = _MafRows(position, reference)
    variants: list[SmallVariant] = []
    file_build: GenomeBuild | None = None
    normal = ""
    for line, fields in rows:
        if barcode_at is not None and fields[barcode_at] != chosen:
            continue
        row_build = reader.build(fields, line)
        if row_build is not None:
            if file_build is not None and row_build != file_build:
                raise GenomicsParseError("NCBI_Build differs between rows", line=line)
            file_build = row_build
        normal = normal or reader.get(fields, "Matched_Norm_Sample_Barcode")
        variants.append(reader.variant(fields, line, chosen))
    if build is not None and file_build is not None and build != file_build:
        raise GenomicsParseError(f"the file says {file_build} but the report says {build}")
    report_build = build or file_build
    if report_build is not None:
        variants = [
            v if v.build == report_build else replace(v, build=report_build) for v in variants
        ]
    return ParsedReport(
        variants=tuple(variants),
        build=report_build,
        samples=tuple(barcodes),
        tumour_sample=chosen,
        normal_sample=normal,
        meta={"format": "MAF"},
    )


def _choose_sample(barcodes: list[str], requested: str | None) -> str:
    if requested:
        if requested not in barcodes:
            raise GenomicsParseError("the tumour sample is not in Tumor_Sample_Barcode")
        return requested
    if len(barcodes) > 1:
        raise GenomicsParseError(
            f"the MAF holds {len(barcodes)} tumour samples: pass the tumour sample's barcode"
        )
    return barcodes[0] if barcodes else ""


class _MafRows:
    def __init__(self, position: dict[str, int], reference: ReferenceSequence | None) -> None:
        self.position = position
        self.reference = reference

    def get(self, fields: list[str], name: str) -> str:
        at = self.position.get(name)
        value = fields[at].strip() if at is not None else ""
        return "" if value in (".", "NA", "__UNKNOWN__") else value

    def build(self, fields: list[str], line: int) -> GenomeBuild | None:
        text = self.get(fields, "NCBI_Build")
        if not text:
            return None
        found = build_from_name(text) or {"37": "GRCh37", "38": "GRCh38"}.get(text)
        if found is None:
            raise GenomicsParseError("NCBI_Build is neither GRCh37 nor GRCh38", line=line)
        return "GRCh37" if found == "GRCh37" else "GRCh38"

    def count(self, fields: list[str], name: str, line: int) -> int | None:
        text = self.get(fields, name)
        if not text:
            return None
        if not _INT.fullmatch(text):
            raise GenomicsParseError(f"{name} must be a non-negative integer", line=line)
        return int(text)

    def variant(self, fields: list[str], line: int, sample: str) -> SmallVariant:
        chrom = canonical_chrom(self.get(fields, "Chromosome"))
        if not chrom or any(c.isspace() or c == ":" for c in chrom):
            raise GenomicsParseError("Chromosome is missing or malformed", line=line)
        start = self.count(fields, "Start_Position", line)
        end = self.count(fields, "End_Position", line)
        if start is None or end is None or start < 1 or end < start:
            raise GenomicsParseError("Start_Position/End_Position are not a valid range", line=line)
        ref = self.get(fields, "Reference_Allele").upper()
        alt = self.get(fields, "Tumor_Seq_Allele2").upper()
        if alt == ref:
            alt = self.get(fields, "Tumor_Seq_Allele1").upper()
        if not _ALLELE.fullmatch(ref) or not _ALLELE.fullmatch(alt) or alt == ref:
            raise GenomicsParseError(
                "Reference_Allele/Tumor_Seq_Allele must be bases or '-', and differ", line=line
            )
        pos = start
        if ref == "-":  # insertion between Start and Start + 1
            ref, alt = "N", "N" + alt
        elif alt == "-":  # deletion of Start..End; the anchor is the base before
            if start < 2:
                raise GenomicsParseError("a deletion cannot start at position 1", line=line)
            pos, ref, alt = start - 1, "N" + ref, "N"
        elif len(ref) != end - start + 1 and len(ref) == len(alt):
            raise GenomicsParseError("Reference_Allele length does not match Start..End", line=line)
        try:
            pos, ref, alt = normalize_alleles(chrom, pos, ref, alt, self.reference)
        except GenomicsParseError as exc:
            raise GenomicsParseError(exc.reason, line=line) from None
        classification = self.get(fields, "Variant_Classification")
        consequence = ""
        if classification:
            if classification not in VARIANT_CLASSIFICATION_TO_SO:
                raise GenomicsParseError(
                    f"unknown Variant_Classification {classification[:40]!r}", line=line
                )
            consequence = VARIANT_CLASSIFICATION_TO_SO[classification]
        depth = self.count(fields, "t_depth", line)
        ref_count = self.count(fields, "t_ref_count", line)
        alt_count = self.count(fields, "t_alt_count", line)
        if depth is None and ref_count is not None and alt_count is not None:
            depth = ref_count + alt_count
        vaf = None
        if alt_count is not None and depth:
            if alt_count > depth:
                raise GenomicsParseError("t_alt_count exceeds t_depth", line=line)
            vaf = alt_count / depth
        hgvs_c = self.get(fields, "HGVSc")
        hgvs_p = self.get(fields, "HGVSp") or self.get(fields, "HGVSp_Short")
        return SmallVariant(
            chrom=chrom,
            pos=pos,
            ref=ref,
            alt=alt,
            gene=self.get(fields, "Hugo_Symbol"),
            transcript=self.get(fields, "Transcript_ID"),
            hgvs_c=hgvs_c.split(":", 1)[1] if ":" in hgvs_c else hgvs_c,
            hgvs_p=(hgvs_p.split(":", 1)[1] if ":" in hgvs_p else hgvs_p).replace("%3D", "="),
            consequence=consequence,
            vaf=vaf,
            depth=depth,
            alt_depth=alt_count,
            filter=self.get(fields, "FILTER") or "PASS",
            sample=sample,
            source_line=line,
        )
