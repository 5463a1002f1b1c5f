"""Genomic reports of a patient and what was found in them.

A report is an immutable document: the rows below are what one file (or API payload) held,
parsed by genomics.variants and annotated against the knowledge base whose version the report
and every actionability row record. A corrected report is a new report.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class SourceFormat(models.TextChoices):
    VCF = "vcf", "VCF"
    MAF = "maf", "MAF"
    TSV = "tsv", "CNV/fusion table (TSV)"
    JSON = "json", "JSON (API)"


class SpecimenType(models.TextChoices):
    PRIMARY = "primary", "Tumour tissue, primary"
    METASTASIS = "metastasis", "Tumour tissue, metastasis"
    CTDNA = "ctdna", "Plasma (ctDNA, liquid biopsy)"
    OTHER = "other", "Other"


class GenomeBuild(models.TextChoices):
    GRCH37 = "GRCh37", "GRCh37 (hg19)"
    GRCH38 = "GRCh38", "GRCh38 (hg38)"


class MsiStatus(models.TextChoices):
    MSI_H = "MSI-H", "MSI-high"
    MSS = "MSS", "Microsatellite stable"


class GenomicReport(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.CASCADE, related_name="genomic_reports"
    )
    diagnosis = models.ForeignKey(
        "oncology.Diagnosis",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="genomic_reports",
    )
    # The hospital system's key for the report: resending it is idempotent.
    external_id = models.CharField(max_length=100, null=True, blank=True)

    assay_name = models.CharField("assay or panel", max_length=200)
    genes = models.JSONField("genes on the panel", default=list, blank=True)
    covered_mb = models.FloatField("covered territory (Mb)")
    specimen_type = models.CharField(max_length=12, choices=SpecimenType.choices)
    specimen_site = models.CharField(max_length=100, blank=True)
    collection_date = models.DateField()
    laboratory = models.CharField(max_length=200, blank=True)
    genome_build = models.CharField(max_length=6, choices=GenomeBuild.choices, blank=True)

    source_format = models.CharField(max_length=4, choices=SourceFormat.choices)
    source_sha256 = models.CharField(max_length=64, db_index=True)
    # The name as uploaded is shown to those who may see the record; it never reaches a URL,
    # a log line, an audit event or the storage name (genomics/<uuid hex>).
    source_filename = models.CharField(max_length=255, blank=True)
    source_file = models.CharField(max_length=200, blank=True)  # default_storage name
    source_size = models.PositiveBigIntegerField(default=0)

    tumour_type = models.CharField("OncoTree code used", max_length=20, blank=True)
    kb_version = models.CharField("knowledge-base version", max_length=40, blank=True)
    tmb = models.FloatField("TMB (mutations/Mb)", null=True, blank=True)
    tmb_high = models.BooleanField(null=True, blank=True)
    msi_status = models.CharField(max_length=5, choices=MsiStatus.choices, blank=True)
    msi_score = models.FloatField(null=True, blank=True)
    # Gene-level features for the outcome models (genomics.variants.summary.feature_keys), made
    # at ingest with the same knowledge-base version; null where the report does not say.
    features = models.JSONField(default=dict, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-collection_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="genomicreport_external_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(covered_mb__gt=0), name="genomicreport_covered_mb_positive"
            ),
        ]
        indexes = [models.Index(fields=["patient", "source_sha256"])]

    def __str__(self) -> str:
        return f"genomic report {self.public_id}"


class Variant(models.Model):
    """A small variant (SNV, MNV, indel), normalised, one ALT allele a row."""

    report = models.ForeignKey(GenomicReport, on_delete=models.CASCADE, related_name="variants")
    chrom = models.CharField(max_length=10)
    pos = models.BigIntegerField()
    ref = models.TextField()
    alt = models.TextField()
    gene = models.CharField(max_length=40, blank=True)
    transcript = models.CharField(max_length=60, blank=True)
    hgvs_c = models.CharField(max_length=300, blank=True)
    hgvs_p = models.CharField(max_length=300, blank=True)
    consequence = models.CharField(max_length=120, blank=True)
    vaf = models.FloatField(null=True, blank=True)
    depth = models.PositiveIntegerField(null=True, blank=True)
    alt_depth = models.PositiveIntegerField(null=True, blank=True)
    filter = models.CharField(max_length=200, default="PASS")
    source_line = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["report", "gene"])]

    def __str__(self) -> str:
        return f"{self.chrom}:{self.pos} {self.ref}>{self.alt}"


class CopyNumberKind(models.TextChoices):
    AMPLIFICATION = "amplification", "Amplification"
    GAIN = "gain", "Gain"
    LOSS = "loss", "Loss"
    DELETION = "deletion", "Deep (homozygous) deletion"


class CopyNumberCall(models.Model):
    report = models.ForeignKey(GenomicReport, on_delete=models.CASCADE, related_name="copy_numbers")
    gene = models.CharField(max_length=40)
    call = models.CharField(max_length=14, choices=CopyNumberKind.choices)
    copy_number = models.FloatField(null=True, blank=True)
    log2_ratio = models.FloatField(null=True, blank=True)
    source_line = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["gene", "id"]

    def __str__(self) -> str:
        return f"{self.gene} {self.call}"


class FusionCall(models.Model):
    report = models.ForeignKey(GenomicReport, on_delete=models.CASCADE, related_name="fusions")
    gene_5prime = models.CharField(max_length=40)
    gene_3prime = models.CharField(max_length=40)
    supporting_reads = models.PositiveIntegerField(null=True, blank=True)
    source_line = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["gene_5prime", "gene_3prime", "id"]

    def __str__(self) -> str:
        return f"{self.gene_5prime}::{self.gene_3prime}"


class Actionability(models.Model):
    """One knowledge-base match: evidence for the board to weigh, not an instruction.

    A match outside the patient's tumour type, or on a variant that failed the caller's
    filters, is kept too ("known in another tumour type") but carries no level and no drugs:
    `level` is blank and `entry_level` says what the entry holds elsewhere."""

    report = models.ForeignKey(
        GenomicReport, on_delete=models.CASCADE, related_name="actionability"
    )
    gene = models.CharField(max_length=40)
    alteration = models.CharField(max_length=200)
    level = models.CharField("level of evidence", max_length=10, blank=True)
    escat = models.CharField("ESCAT tier", max_length=10, blank=True)
    drugs = models.JSONField(default=list, blank=True)
    kb_entry_id = models.CharField(max_length=80)
    kb_version = models.CharField(max_length=40)
    match_basis = models.CharField(max_length=60, blank=True)
    # The entry's OncoTree code the patient's tumour type falls under ("NSCLC" for a LUAD);
    # blank when the entry is listed for other tumour types only.
    tumour_type_matched = models.CharField(max_length=20, blank=True)
    entry_level = models.CharField(max_length=10, blank=True)
    resistance = models.BooleanField(default=False)
    filtered = models.BooleanField(default=False)  # the variant did not PASS the filters
    source_line = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "actionability"

    def __str__(self) -> str:
        return f"{self.gene} {self.alteration} ({self.level or 'no level'})"

    @property
    def actionable(self) -> bool:
        return bool(self.level)
