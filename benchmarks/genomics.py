"""Parse (and annotate, once the annotator exists) a 50,000-variant VCF, against the target.

    .venv/bin/python benchmarks/genomics.py

Writes a seeded synthetic single-sample VCF (VCFv4.2, GRCh38, FORMAT GT:AD:AF:DP, a VEP CSQ
field with two transcripts per variant, 10% indels, 2% multi-allelic records) to a temporary
directory, then times `parse_vcf` + annotation and summary (when genomics.variants.annotate and
summary are importable: TMB over 30 Mb, annotation for LUAD, key alterations, the gene
feature vector) best of 3. Target: < 5 s for the whole run; the ratio printed is
target / measured (>= 1.00x meets it). Synthetic data only.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genomics.variants.vcf import parse_vcf  # noqa: E402

VARIANTS = int(os.environ.get("BENCH_VARIANTS", "50000"))
TARGET_S = 5.0
GENES = ("EGFR", "KRAS", "BRAF", "PIK3CA", "TP53", "BRCA1", "BRCA2", "ERBB2", "ALK", "MET")
CSQ_FIELDS = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|"
    "cDNA_position|CDS_position|Protein_position|Amino_acids|Codons|Existing_variation|DISTANCE|"
    "STRAND|FLAGS|SYMBOL_SOURCE|HGNC_ID|CANONICAL|PICK"
)
AMINO = ("Ala", "Arg", "Asn", "Asp", "Cys", "Gln", "Glu", "Gly", "His", "Leu", "Lys", "Met", "Phe")


def _csq(rng: random.Random, allele: str, gene: str, canonical: bool) -> str:
    codon = rng.randint(1, 1200)
    fields = [
        allele, "missense_variant", "MODERATE", gene, "ENSG00000146648", "Transcript",
        f"ENST{rng.randint(10**10, 10**11 - 1)}", "protein_coding", "5/28", "",
        f"ENST00000275493.7:c.{codon * 3}T>G",
        f"ENSP00000275493.2:p.{rng.choice(AMINO)}{codon}{rng.choice(AMINO)}",
        str(codon * 3), str(codon * 3), str(codon), "L/R", "cTg/cGg", "", "", "1", "",
        "HGNC", "HGNC:3236", "YES" if canonical else "", "",
    ]  # fmt: skip
    return "|".join(fields)


def write_vcf(path: Path, n: int, seed: int = 20261124) -> None:
    rng = random.Random(seed)
    header = [
        "##fileformat=VCFv4.2",
        "##reference=file:///refs/GRCh38/Homo_sapiens_assembly38.fasta",
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
        '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="Somatic">',
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from '
        f'Ensembl VEP. Format: {CSQ_FIELDS}">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fractions">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOUR",
    ]
    bases = "ACGT"
    lines = []
    pos = 10_000
    chrom = 1
    for i in range(n):
        pos += rng.randint(50, 5000)
        if pos > 200_000_000:
            chrom, pos = chrom + 1, 10_000
        ref = rng.choice(bases)
        kind = rng.random()
        if kind < 0.02:
            alts = [b for b in bases if b != ref][:2]
        elif kind < 0.07:
            alts = [ref + "".join(rng.choice(bases) for _ in range(rng.randint(1, 6)))]
        elif kind < 0.12:
            ref = ref + "".join(rng.choice(bases) for _ in range(rng.randint(1, 6)))
            alts = [ref[0]]
        else:
            alts = [rng.choice([b for b in bases if b != ref])]
        depth = rng.randint(30, 800)
        alt_counts = [rng.randint(1, depth // 3) for _ in alts]
        ref_count = depth - sum(alt_counts)
        vep = alts if len(alts[0]) == len(ref) else [a[1:] or "-" for a in alts]
        gene = GENES[i % len(GENES)]
        csq = ",".join(
            _csq(rng, allele, gene, canonical) for allele in vep for canonical in (False, True)
        )
        af = ",".join(f"{c / depth:.3f}" for c in alt_counts)
        ad = ",".join(str(c) for c in (ref_count, *alt_counts))
        lines.append(
            f"{chrom}\t{pos}\t.\t{ref}\t{','.join(alts)}\t{rng.randint(20, 99)}\tPASS\t"
            f"DP={depth};SOMATIC;CSQ={csq}\tGT:AD:AF:DP\t0/1:{ad}:{af}:{depth}"
        )
    path.write_text("\n".join(header + lines) + "\n", encoding="ascii")


def _annotator():
    """annotate + summarise one report, or None while genomics.variants.annotate is absent."""
    try:
        from genomics.variants.annotate import annotate_report
        from genomics.variants.summary import (
            gene_feature_vector,
            key_alterations,
            tumour_mutational_burden,
        )
    except ImportError:
        return None

    def run(report):
        tmb = tumour_mutational_burden(report.variants, covered_mb=30.0)
        annotated = annotate_report(report, "LUAD", tmb=tmb.value)
        key_alterations(annotated)
        gene_feature_vector(annotated)
        return annotated

    return run


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.vcf"
        started = time.perf_counter()
        write_vcf(path, VARIANTS)
        size = path.stat().st_size
        print(f"wrote {VARIANTS:,} records ({size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        annotator = _annotator()
        parse_times, total_times = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            report = parse_vcf(path)
            t1 = time.perf_counter()
            if annotator is not None:
                annotated = annotator(report)
            t2 = time.perf_counter()
            parse_times.append(t1 - t0)
            total_times.append(t2 - t0)
    best_parse, best_total = min(parse_times), min(total_times)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"variants parsed: {len(report.variants):,}")
    print(f"parse: best of 3 {best_parse:.2f} s")
    if annotator is not None:
        print(f"knowledge-base matches: {len(annotated.annotations):,}")
    what = "parse + annotate + summary" if annotator else "parse only (no annotator yet)"
    print(f"{what}: best of 3 {best_total:.2f} s, target < {TARGET_S:.0f} s: "
          f"{TARGET_S / best_total:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
