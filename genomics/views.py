"""Genomics pages of a patient: the report list, a report, and the upload with its preview.

Each request that touches patient data leaves exactly one audit event: LIST for the list, VIEW
for a report, VIEW for the upload form and its preview (the preview writes nothing else), and
the service's CREATE (or SYNC_UNCHANGED for a file already stored) for a confirmed upload.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.audit import audit_record
from core.models import AuditAction, User
from genomics import selectors, services
from genomics.forms import GenomicUploadForm, VariantFilterForm
from oncology.models import Patient
from oncology.selectors import patient_get_for_write
from oncology.views import person_required

VARIANTS_PER_PAGE = 100
_TOKEN_SALT = "genomics.upload.preview"  # noqa: S105  (a signing salt, not a secret)
_TOKEN_MAX_AGE = 24 * 3600


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _audit_form_view(user: User, patient: Patient) -> None:
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type=services.AUDIT_OBJECT,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )


@person_required
@require_GET
def report_list(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    patient, reports = selectors.genomic_report_list(user=user, patient_public_id=public_id)
    return render(
        request,
        "genomics/report_list.html",
        {"patient": patient, "reports": list(reports), "can_edit": user.can_edit_record},
    )


@person_required
@require_GET
def report_detail(request: HttpRequest, public_id: uuid.UUID, report_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    report = selectors.genomic_report_get(
        user=user, patient_public_id=public_id, report_public_id=report_id
    )
    facets = selectors.report_facets(report=report)
    findings = list(report.actionability.all())
    filter_form = VariantFilterForm(
        request.GET or None, genes=facets["genes"], consequences=facets["consequences"]
    )
    filters = filter_form.filters()
    variants = selectors.report_variants(report=report, filters=filters)
    page = Paginator(variants, VARIANTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "genomics/report_detail.html",
        {
            "patient": report.patient,
            "report": report,
            "findings": [f for f in findings if f.actionable],
            "other_findings": [f for f in findings if not f.actionable],
            "copy_numbers": list(report.copy_numbers.all()),
            "fusions": list(report.fusions.all()),
            "filter_form": filter_form,
            "filtered": bool(filters.active()),
            "page": page,
            "page_query": query.urlencode(),
            "total_variants": report.variants.count(),
        },
    )


# ---------------------------------------------------------------------------------------------
# Upload: form -> preview (nothing written but a staged copy of a clean file) -> confirm
# ---------------------------------------------------------------------------------------------


def _token_for(
    *, user: User, patient: Patient, staged: str, form: GenomicUploadForm, sha256: str
) -> str:
    d = form.cleaned_data
    return signing.dumps(
        {
            "user": user.pk,
            "patient": patient.pk,
            "staged": staged,
            "sha256": sha256,
            "format": d["source_format"],
            "filename": d["file"].name or "",
            "tumour_sample": d["tumour_sample"],
            "meta": {
                "assay_name": d["assay_name"],
                "covered_mb": d["covered_mb"],
                "specimen_type": d["specimen_type"],
                "collection_date": d["collection_date"].isoformat(),
                "genes": list(d["genes"]),
                "specimen_site": d["specimen_site"],
                "laboratory": d["laboratory"],
                "genome_build": d["genome_build"],
                "diagnosis": d["diagnosis"].pk if d["diagnosis"] else None,
                "tumour_type": d["tumour_type"],
            },
        },
        salt=_TOKEN_SALT,
        compress=True,
    )


def _metadata_from_token(patient: Patient, meta: dict[str, Any]) -> services.ReportMetadata:
    diagnosis = None
    if meta.get("diagnosis") is not None:
        diagnosis = patient.diagnoses.filter(pk=meta["diagnosis"]).first()
        if diagnosis is None:
            raise ValueError("diagnosis gone")
    return services.ReportMetadata(
        assay_name=str(meta["assay_name"]),
        covered_mb=float(meta["covered_mb"]),
        specimen_type=str(meta["specimen_type"]),
        collection_date=dt.date.fromisoformat(meta["collection_date"]),
        genes=tuple(str(g) for g in meta["genes"]),
        specimen_site=str(meta["specimen_site"]),
        laboratory=str(meta["laboratory"]),
        genome_build=str(meta["genome_build"]),
        diagnosis=diagnosis,
        tumour_type=str(meta["tumour_type"]),
    )


def _confirm(request: HttpRequest, user: User, patient: Patient) -> HttpResponse:
    new_url = reverse("genomics:report-create", kwargs={"public_id": patient.public_id})
    try:
        data = signing.loads(request.POST["token"], salt=_TOKEN_SALT, max_age=_TOKEN_MAX_AGE)
        if data["user"] != user.pk or data["patient"] != patient.pk:
            raise ValueError("a preview of another user or patient")
        metadata = _metadata_from_token(patient, data["meta"])
        content = services.genomic_upload_read(name=data["staged"], sha256=data["sha256"])
        if content is None:
            raise ValueError("staged upload gone")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        _audit_form_view(user, patient)
        messages.error(request, "That preview has expired or is not valid; upload the file again.")
        return redirect(new_url)
    source = services.ReportSource(
        format=data["format"],
        data=content,
        filename=str(data["filename"]),
        tumour_sample=str(data.get("tumour_sample", "")),
    )
    try:
        saved = services.genomic_report_create(
            user=user, patient=patient, source=source, metadata=metadata
        )
    except ValidationError as exc:
        _audit_form_view(user, patient)
        for message in exc.messages:
            messages.error(request, message)
        return redirect(new_url)
    services.genomic_upload_discard(name=data["staged"])
    if saved.created:
        messages.success(request, "Genomic report saved.")
    else:
        messages.info(request, "This report was already stored; showing it.")
    return redirect(
        "genomics:report-detail", public_id=patient.public_id, report_id=saved.report.public_id
    )


@person_required
@require_http_methods(["GET", "POST"])
def report_create(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    patient = patient_get_for_write(user=user, public_id=public_id)
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, user, patient)
    form = GenomicUploadForm(request.POST or None, request.FILES or None, patient=patient)
    _audit_form_view(user, patient)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read(services.max_upload_bytes() + 1)
        source = services.ReportSource(
            format=form.cleaned_data["source_format"],
            data=data,
            filename=form.cleaned_data["file"].name or "",
            tumour_sample=form.cleaned_data["tumour_sample"],
        )
        preview = services.genomic_report_preview(
            user=user, patient=patient, source=source, metadata=form.metadata()
        )
        for name, errors in preview.field_errors.items():
            for message in errors:
                form.add_error(name if name in form.fields else None, message)
        token = None
        if preview.ok:
            staged = services.genomic_upload_stage(data=data)
            token = _token_for(
                user=user, patient=patient, staged=staged, form=form, sha256=preview.sha256
            )
        if not preview.field_errors:
            return render(
                request,
                "genomics/report_preview.html",
                {
                    "patient": patient,
                    "preview": preview,
                    "token": token,
                    "metadata": form.metadata(),
                    "filename": source.filename,
                    "title": "Genomic report preview",
                },
            )
    return render(
        request,
        "genomics/report_form.html",
        {"patient": patient, "form": form, "title": "Upload a genomic report"},
    )
