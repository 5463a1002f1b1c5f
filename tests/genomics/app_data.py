"""Hand-written inputs for the genomics app tests (tests/genomics/test_app_*.py): a small
VEP-annotated tumour/normal VCF, report metadata, and a JSON payload. Synthetic values only."""

from __future__ import annotations

import datetime as dt
from typing import Any

# EGFR c.2573T>G p.Leu858Arg (chr7:55191822 on GRCh38; NM_005228 / ENST00000275493) and a KRAS
# G12C (chr12:25245351 C>A on GRCh38, c.34G>T p.Gly12Cys), a TP53 synonymous change, and a
# filtered-out BRCA2 frameshift. Lines are numbered 1.. from the first header line.
_CSQ_FORMAT = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|"
    "HGVSp|CANONICAL"
)
_HEADER = [
    "##fileformat=VCFv4.2",
    "##reference=GRCh38",
    "##contig=<ID=chr7,length=159345973>",
    "##contig=<ID=chr12,length=133275309>",
    "##contig=<ID=chr13,length=114364328>",
    "##contig=<ID=chr17,length=83257441>",
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl '
    f'VEP. Format: {_CSQ_FORMAT}">',
    '##FILTER=<ID=PASS,Description="All filters passed">',
    '##FILTER=<ID=weak_evidence,Description="Weak evidence">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    "##normal_sample=NORMAL",
    "##tumor_sample=TUMOUR",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOUR",
]
FIRST_RECORD_LINE = len(_HEADER) + 1


def _csq(allele: str, consequence: str, gene: str, tx: str, hgvs_c: str, hgvs_p: str) -> str:
    return (
        f"CSQ={allele}|{consequence}|MODERATE|{gene}|G|Transcript|{tx}|protein_coding|||"
        f"{tx}:{hgvs_c}|{hgvs_p}|YES"
    )


RECORDS = [
    "chr7\t55191822\t.\tT\tG\t.\tPASS\tDP=400;"
    + _csq("G", "missense_variant", "EGFR", "ENST00000275493", "c.2573T>G", "p.Leu858Arg")
    + "\tGT:AD:DP\t0/0:200,0:200\t0/1:300,100:400",
    "chr12\t25245351\t.\tC\tA\t.\tPASS\tDP=200;"
    + _csq("A", "missense_variant", "KRAS", "ENST00000311936", "c.34G>T", "p.Gly12Cys")
    + "\tGT:AD:DP\t0/0:100,0:100\t0/1:150,50:200",
    "chr17\t7676154\t.\tG\tT\t.\tPASS\tDP=100;"
    + _csq("T", "synonymous_variant", "TP53", "ENST00000269305", "c.215C>T", "p.Pro72%3D")
    + "\tGT:AD:DP\t0/0:50,0:50\t0/1:80,20:100",
    "chr13\t32340300\t.\tGT\tG\t.\tweak_evidence\tDP=90;"
    + _csq("-", "frameshift_variant", "BRCA2", "ENST00000380152", "c.5946del", "p.Ser1982fs")
    + "\tGT:AD:DP\t0/0:45,0:45\t0/1:80,10:90",
]


def vcf(records: list[str] | None = None) -> bytes:
    return ("\n".join(_HEADER + (RECORDS if records is None else records)) + "\n").encode()


def vcf_with_bad_depth() -> tuple[bytes, int]:
    """The same file with a non-numeric DP on the third record; returns (bytes, its line)."""
    records = list(RECORDS)
    records[2] = records[2].replace("DP=100;", "DP=many;")
    return vcf(records), FIRST_RECORD_LINE + 2


def metadata_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "assay_name": "Lung panel v2",
        "covered_mb": 1.2,
        "specimen_type": "primary",
        "collection_date": dt.date(2022, 4, 1),
        "genes": ("EGFR", "KRAS", "TP53", "BRCA2"),
        "laboratory": "Molecular pathology",
        "tumour_type": "LUAD",
    }
    values.update(overrides)
    return values


def api_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": "NGS-0001",
        "assay_name": "Lung panel v2",
        "covered_mb": 1.2,
        "specimen_type": "primary",
        "collection_date": "2022-04-01",
        "genes": ["EGFR", "KRAS"],
        "tumour_type": "LUAD",
        "report": {
            "build": "GRCh38",
            "variants": [
                {
                    "chrom": "7",
                    "pos": 55191822,
                    "ref": "T",
                    "alt": "G",
                    "gene": "EGFR",
                    "hgvs_p": "p.Leu858Arg",
                    "consequence": "missense_variant",
                    "vaf": 0.25,
                    "depth": 400,
                    "alt_depth": 100,
                }
            ],
            "copy_numbers": [{"gene": "ERBB2", "call": "amplification", "copy_number": 12.5}],
            "fusions": [{"gene_5prime": "EML4", "gene_3prime": "ALK", "supporting_reads": 41}],
        },
    }
    body.update(overrides)
    return body
