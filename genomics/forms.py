"""The upload form (file + report metadata) and the variant-table filters."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from genomics import analysis
from genomics.models import GenomeBuild, SourceFormat, SpecimenType
from genomics.selectors import VariantFilters
from genomics.services import ReportMetadata, max_upload_bytes
from oncology.forms import DateInput
from oncology.models import Diagnosis, Patient

FILE_FORMATS = [c for c in SourceFormat.choices if c[0] != SourceFormat.JSON]
_SPLIT = re.compile(r"[\s,;]+")


class DiagnosisChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.primary_site} {obj.morphology}, {obj.diagnosis_date:%Y-%m-%d}"


class GenomicUploadForm(forms.Form):
    file = forms.FileField(
        label="Report file",
        help_text="VCF 4.x (plain or bgzipped), MAF, or the CNV/fusion table (TSV).",
    )
    source_format = forms.ChoiceField(
        label="Format",
        choices=[("", "From the file name"), *FILE_FORMATS],
        required=False,
    )
    tumour_sample = forms.CharField(
        label="Tumour sample",
        max_length=100,
        required=False,
        help_text=(
            "The tumour sample's column in a tumour/normal VCF or MAF; needed only when the file "
            "does not say which sample is the tumour."
        ),
    )
    assay_name = forms.CharField(label="Assay or panel", max_length=200)
    covered_mb = forms.FloatField(
        label="Covered territory (Mb)",
        min_value=0.001,
        help_text="The panel's sequenced territory; TMB is mutations per covered Mb.",
    )
    genes = forms.CharField(
        label="Genes on the panel",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="HGNC symbols separated by spaces or commas (optional).",
    )
    specimen_type = forms.ChoiceField(choices=[("", "Choose…"), *SpecimenType.choices])
    specimen_site = forms.CharField(max_length=100, required=False)
    collection_date = forms.DateField(widget=DateInput())
    laboratory = forms.CharField(max_length=200, required=False)
    genome_build = forms.ChoiceField(
        choices=[("", "From the file header"), *GenomeBuild.choices], required=False
    )
    diagnosis = DiagnosisChoiceField(
        queryset=Diagnosis.objects.none(),
        required=False,
        empty_label="The primary (earliest) diagnosis",
        help_text="Gives the tumour type the alterations are matched against.",
    )
    tumour_type = forms.CharField(
        label="Tumour type (OncoTree code)",
        max_length=20,
        required=False,
        help_text="Leave empty to derive it from the diagnosis; e.g. LUAD, COADREAD.",
    )

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["diagnosis"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.queryset = patient.diagnoses.order_by("diagnosis_date", "pk")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size is not None and upload.size > max_upload_bytes():
            raise forms.ValidationError(
                f"The file is larger than {max_upload_bytes() // 2**20} MB."
            )
        return upload

    def clean_genes(self) -> tuple[str, ...]:
        raw = self.cleaned_data.get("genes", "")
        return tuple(g for g in _SPLIT.split(raw.strip()) if g)

    def clean_tumour_type(self) -> str:
        return str(self.cleaned_data.get("tumour_type", "")).strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None and not data.get("source_format"):
            fmt = analysis.format_from_name(upload.name or "")
            if not fmt:
                self.add_error("source_format", "Choose the format: the file name does not say.")
            data["source_format"] = fmt
        return data

    def metadata(self) -> ReportMetadata:
        d = self.cleaned_data
        return ReportMetadata(
            assay_name=d["assay_name"],
            covered_mb=d["covered_mb"],
            specimen_type=d["specimen_type"],
            collection_date=d["collection_date"],
            genes=d["genes"],
            specimen_site=d["specimen_site"],
            laboratory=d["laboratory"],
            genome_build=d["genome_build"],
            diagnosis=d["diagnosis"],
            tumour_type=d["tumour_type"],
        )


FILTER_STATUS = [("", "Any"), ("pass", "PASS only"), ("fail", "Filtered out only")]


class VariantFilterForm(forms.Form):
    """GET filters of the variant table: gene symbols and sequence terms, never patient data."""

    gene = forms.ChoiceField(required=False)
    consequence = forms.ChoiceField(required=False)
    filter_status = forms.ChoiceField(label="Filter status", choices=FILTER_STATUS, required=False)
    vaf_min = forms.FloatField(
        label="VAF at least",
        required=False,
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )

    def __init__(self, *args: Any, genes: list[str], consequences: list[str], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["gene"].choices = [("", "Any"), *((g, g) for g in genes)]  # type: ignore[attr-defined]
        self.fields["consequence"].choices = [  # type: ignore[attr-defined]
            ("", "Any"),
            *((c, c.replace("_", " ")) for c in consequences),
        ]

    def filters(self) -> VariantFilters:
        if not self.is_valid():
            return VariantFilters()
        d = self.cleaned_data
        return VariantFilters(
            gene=d["gene"],
            consequence=d["consequence"],
            filter_status=d["filter_status"],
            vaf_min=d["vaf_min"],
        )
