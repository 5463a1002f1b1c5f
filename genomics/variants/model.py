"""The values the parsers produce and the annotator consumes. Plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

GenomeBuild = Literal["GRCh37", "GRCh38"]
CopyNumberCall = Literal["amplification", "gain", "loss", "deletion"]  # deletion = homozygous


@dataclass(frozen=True)
class SmallVariant:
    """An SNV, MNV, insertion or deletion in one sample, normalised (one ALT allele per object;
    multi-allelic records are split). Positions are 1-based VCF-style on `build`; `chrom`
    without the "chr" prefix ("7", "X", "MT")."""

    chrom: str
    pos: int
    ref: str
    alt: str
    build: GenomeBuild | None = None
    gene: str = ""  # HGNC symbol, from the annotation (VEP CSQ / SnpEff ANN / MAF)
    transcript: str = ""
    hgvs_c: str = ""  # e.g. "c.2573T>G"
    hgvs_p: str = ""  # e.g. "p.Leu858Arg" (3-letter, as VEP writes it) or "p.L858R"
    consequence: str = ""  # Sequence Ontology term, e.g. "missense_variant"
    vaf: float | None = None  # 0..1
    depth: int | None = None
    alt_depth: int | None = None
    filter: str = "PASS"  # "PASS" or the FILTER codes joined by ";"
    sample: str = ""  # the tumour sample name
    source_line: int = 0  # line number in the source file, for messages


@dataclass(frozen=True)
class CopyNumber:
    gene: str
    call: CopyNumberCall
    copy_number: float | None = None
    log2_ratio: float | None = None
    source_line: int = 0


@dataclass(frozen=True)
class Fusion:
    gene_5prime: str
    gene_3prime: str
    supporting_reads: int | None = None
    source_line: int = 0


@dataclass(frozen=True)
class ParsedReport:
    """Everything one file (or JSON payload) held."""

    variants: tuple[SmallVariant, ...] = ()
    copy_numbers: tuple[CopyNumber, ...] = ()
    fusions: tuple[Fusion, ...] = ()
    build: GenomeBuild | None = None
    samples: tuple[str, ...] = ()
    tumour_sample: str = ""
    normal_sample: str = ""
    msi_status: Literal["MSI-H", "MSS", ""] = ""  # when the pipeline reports it
    msi_score: float | None = None
    meta: dict[str, str] = field(default_factory=dict)  # header facts worth keeping


class GenomicsParseError(ValueError):
    """A malformed input. Carries the line number and reason; never echoes sample values."""

    def __init__(self, reason: str, *, line: int | None = None, source: str = "") -> None:
        self.reason = reason
        self.line = line
        self.source = source
        where = f"{source}: " if source else ""
        at = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{at}{reason}")
