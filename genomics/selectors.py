"""Reads of genomic reports, through the record's access rule (oncology.selectors.patient_get)
and with exactly one audit event per call, like every other read of the record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.http import Http404

from core.audit import audit_record
from core.models import AuditAction, User
from genomics.models import GenomicReport, Variant
from oncology.models import Patient
from oncology.selectors import patient_get

AUDIT_OBJECT = "genomic_report"


def genomic_report_list(
    *, user: User, patient_public_id: uuid.UUID | str
) -> tuple[Patient, QuerySet[GenomicReport]]:
    """The patient and their reports (newest specimen first) with row counts; one LIST event.
    Http404 when the patient does not exist or `user` may not see it."""
    patient = patient_get(
        user=user,
        public_id=patient_public_id,
        audit_action=AuditAction.LIST,
        object_type=AUDIT_OBJECT,
        object_id="",
    )
    reports = (
        GenomicReport.objects.filter(patient=patient)
        .annotate(
            variant_count=Count("variants", distinct=True),
            actionable_count=Count("actionability", distinct=True),
        )
        .order_by("-collection_date", "-pk")
    )
    return patient, reports


def genomic_report_get(
    *,
    user: User,
    patient_public_id: uuid.UUID | str,
    report_public_id: uuid.UUID | str,
    audit: bool = True,
) -> GenomicReport:
    """One report of one visible patient; one VIEW event. Http404 otherwise (a report of another
    patient is not reachable through this patient's URL)."""
    patient = patient_get(user=user, public_id=patient_public_id, audit_action=None)
    try:
        report = GenomicReport.objects.select_related("patient", "diagnosis").get(
            patient=patient, public_id=report_public_id
        )
    except (GenomicReport.DoesNotExist, ValueError) as exc:
        raise Http404("No such genomic report") from exc
    if audit:
        audit_record(
            actor=user,
            action=AuditAction.VIEW,
            object_type=AUDIT_OBJECT,
            object_id=report.public_id,
            patient_id=patient.pk,
            institution_id=patient.institution_id,
        )
    return report


@dataclass(frozen=True)
class VariantFilters:
    """Filters of the variant table. Gene symbols and consequence terms are not PHI, so they
    may travel in a URL."""

    gene: str = ""
    consequence: str = ""
    filter_status: str = ""  # "", "pass", "fail"
    vaf_min: float | None = None

    def active(self) -> list[str]:
        return [
            name
            for name, value in (
                ("gene", self.gene),
                ("consequence", self.consequence),
                ("filter_status", self.filter_status),
                ("vaf_min", self.vaf_min),
            )
            if value not in ("", None)
        ]


def report_variants(*, report: GenomicReport, filters: VariantFilters) -> QuerySet[Variant]:
    """The variants of an already access-checked report, filtered (no audit: the caller's
    read of the report is the event)."""
    variants = report.variants.all()
    if filters.gene:
        variants = variants.filter(gene__iexact=filters.gene)
    if filters.consequence:
        variants = variants.filter(consequence__icontains=filters.consequence)
    if filters.filter_status == "pass":
        variants = variants.filter(filter="PASS")
    elif filters.filter_status == "fail":
        variants = variants.exclude(filter="PASS")
    if filters.vaf_min is not None:
        variants = variants.filter(vaf__gte=filters.vaf_min)
    return variants.order_by("pk")  # file order: VCFs are sorted by the caller


def report_facets(*, report: GenomicReport) -> dict[str, list[str]]:
    """Genes and consequences present in the report, for the filter menus."""
    genes = report.variants.exclude(gene="").values_list("gene", flat=True).distinct()
    terms = report.variants.exclude(consequence="").values_list("consequence", flat=True)
    consequences = sorted({t for term in terms.distinct() for t in term.split("&")})
    return {"genes": sorted(genes), "consequences": consequences}


def genomic_features_latest(*, patient: Patient) -> tuple[GenomicReport | None, dict]:
    """The gene-level features of the patient's most recent report (by collection date) with
    the report they came from, for the outcome models, in feature_keys() order; (None, {})
    when there is none.

    No access check or audit here: the caller (a prediction service or job) has obtained
    `patient` through oncology.selectors and records the one event of its own operation.
    """
    from genomics.variants.summary import feature_keys

    report = (
        GenomicReport.objects.filter(patient=patient).order_by("-collection_date", "-pk").first()
    )
    if report is None:
        return None, {}
    # PostgreSQL's jsonb does not keep key order; the models expect feature_keys()' order.
    stored = report.features
    ordered = {key: stored[key] for key in feature_keys() if key in stored}
    return report, {**ordered, **stored}
