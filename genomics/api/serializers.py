"""Input and output shapes of the genomic-report API.

A POST carries the report's metadata at the top level and the findings under "report", in the
payload format of genomics.variants (docs/genomics-formats.md). The metadata is validated here
(types, lengths, choices, unknown keys); the findings by the library's payload parser, whose
errors are reported under "report.<path>".
"""

from __future__ import annotations

from rest_framework import serializers

from genomics.models import (
    Actionability,
    CopyNumberCall,
    CopyNumberKind,
    FusionCall,
    GenomeBuild,
    GenomicReport,
    MsiStatus,
    SpecimenType,
    Variant,
)
from oncology.services.payload import StrictSerializer

# --- the findings (documentation of the library's payload format) ------------------------------


class VariantPayloadSerializer(serializers.Serializer):
    chrom = serializers.CharField(help_text='Without "chr": "7", "X", "MT".')
    pos = serializers.IntegerField(min_value=1, help_text="1-based, VCF-style.")
    ref = serializers.CharField()
    alt = serializers.CharField()
    gene = serializers.CharField(required=False, help_text="HGNC symbol.")
    transcript = serializers.CharField(required=False)
    hgvs_c = serializers.CharField(required=False, help_text='e.g. "c.2573T>G".')
    hgvs_p = serializers.CharField(required=False, help_text='e.g. "p.Leu858Arg" or "p.L858R".')
    consequence = serializers.CharField(required=False, help_text="Sequence Ontology term.")
    vaf = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    depth = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    alt_depth = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    filter = serializers.CharField(required=False, help_text='"PASS" or FILTER codes.')


class CopyNumberPayloadSerializer(serializers.Serializer):
    gene = serializers.CharField()
    call = serializers.ChoiceField(choices=CopyNumberKind.choices)
    copy_number = serializers.FloatField(required=False, allow_null=True)
    log2_ratio = serializers.FloatField(required=False, allow_null=True)


class FusionPayloadSerializer(serializers.Serializer):
    gene_5prime = serializers.CharField()
    gene_3prime = serializers.CharField()
    supporting_reads = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class FindingsPayloadSerializer(serializers.Serializer):
    build = serializers.CharField(
        required=False, help_text='"GRCh37" or "GRCh38"; must agree with genome_build.'
    )
    variants = VariantPayloadSerializer(many=True, required=False)
    copy_numbers = CopyNumberPayloadSerializer(many=True, required=False)
    fusions = FusionPayloadSerializer(many=True, required=False)
    msi_status = serializers.ChoiceField(choices=MsiStatus.choices, required=False)
    msi_score = serializers.FloatField(required=False, allow_null=True)


class _MetadataFields(StrictSerializer):
    external_id = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Your key for the report; resending it is idempotent.",
    )
    assay_name = serializers.CharField(max_length=200)
    covered_mb = serializers.FloatField(
        min_value=0.001, max_value=3200, help_text="Sequenced territory in Mb (for TMB)."
    )
    genes = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=2000
    )
    specimen_type = serializers.ChoiceField(choices=SpecimenType.choices)
    specimen_site = serializers.CharField(max_length=100, required=False, allow_blank=True)
    collection_date = serializers.DateField()
    laboratory = serializers.CharField(max_length=200, required=False, allow_blank=True)
    genome_build = serializers.ChoiceField(choices=GenomeBuild.choices, required=False)
    diagnosis_external_id = serializers.CharField(
        max_length=100, required=False, help_text="The diagnosis the specimen belongs to."
    )
    tumour_type = serializers.RegexField(
        r"^[A-Z][A-Z0-9_]{0,19}$",
        required=False,
        help_text="OncoTree code; by default derived from the diagnosis.",
    )


class GenomicReportCreateSerializer(_MetadataFields):
    """What the schema documents for POST."""

    report = FindingsPayloadSerializer()


class GenomicReportInputSerializer(_MetadataFields):
    """What the view validates: the findings pass to the library's parser as they came."""

    report = serializers.DictField()


# --- output ------------------------------------------------------------------------------------


class VariantOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = [
            "chrom", "pos", "ref", "alt", "gene", "transcript", "hgvs_c", "hgvs_p",
            "consequence", "vaf", "depth", "alt_depth", "filter",
        ]  # fmt: skip
        read_only_fields = fields


class CopyNumberOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = CopyNumberCall
        fields = ["gene", "call", "copy_number", "log2_ratio"]
        read_only_fields = fields


class FusionOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = FusionCall
        fields = ["gene_5prime", "gene_3prime", "supporting_reads"]
        read_only_fields = fields


class ActionabilityOutSerializer(serializers.ModelSerializer):
    drugs = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Actionability
        fields = [
            "gene", "alteration", "level", "escat", "drugs", "kb_entry_id", "kb_version",
            "match_basis", "tumour_type_matched",
        ]  # fmt: skip
        read_only_fields = fields


class GenomicReportSummarySerializer(serializers.ModelSerializer):
    genes = serializers.ListField(child=serializers.CharField(), read_only=True)
    # Plain text out ("" when the file declared none): one enum name per choice set.
    genome_build = serializers.CharField(read_only=True)
    # "" when the report gives no MSI status (the schema's enum must allow it).
    msi_status = serializers.ChoiceField(
        choices=MsiStatus.choices, allow_blank=True, read_only=True
    )
    diagnosis_external_id = serializers.CharField(
        source="diagnosis.external_id", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = GenomicReport
        fields = [
            "public_id", "external_id", "assay_name", "genes", "covered_mb", "specimen_type",
            "specimen_site", "collection_date", "laboratory", "genome_build", "source_format",
            "source_sha256", "tumour_type", "kb_version", "tmb", "tmb_high", "msi_status",
            "msi_score", "diagnosis_external_id", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class GenomicReportOutSerializer(GenomicReportSummarySerializer):
    features = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        read_only=True,
        help_text="Gene-level features for outcome models; null = not measured.",
    )
    actionability = ActionabilityOutSerializer(many=True, read_only=True)
    variants = VariantOutSerializer(many=True, read_only=True)
    copy_numbers = CopyNumberOutSerializer(many=True, read_only=True)
    fusions = FusionOutSerializer(many=True, read_only=True)

    class Meta(GenomicReportSummarySerializer.Meta):
        fields = [
            *GenomicReportSummarySerializer.Meta.fields,
            "features",
            "actionability",
            "variants",
            "copy_numbers",
            "fusions",
        ]
        read_only_fields = fields
