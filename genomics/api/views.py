"""The genomic-report API: list and create a patient's reports, read one. One view per
operation, thin: access and audit are the selectors' and services' business."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES, Conflict
from core.api.pagination import Pagination
from core.models import User
from genomics import selectors, services
from genomics.api.serializers import (
    GenomicReportCreateSerializer,
    GenomicReportInputSerializer,
    GenomicReportOutSerializer,
    GenomicReportSummarySerializer,
)
from genomics.models import GenomicReport, SourceFormat
from oncology.models import Patient
from oncology.selectors import patient_get_for_write

_WRITE_ERRORS = {
    **ERROR_RESPONSES,
    409: OpenApiResponse(description="A different report is stored under this external_id."),
}


def _metadata(patient: Patient, data: dict[str, Any]) -> services.ReportMetadata:
    diagnosis = None
    if data.get("diagnosis_external_id"):
        diagnosis = patient.diagnoses.filter(external_id=data["diagnosis_external_id"]).first()
        if diagnosis is None:
            raise exceptions.ValidationError(
                {"diagnosis_external_id": ["No diagnosis of this patient has this external id."]}
            )
    return services.ReportMetadata(
        assay_name=data["assay_name"],
        covered_mb=data["covered_mb"],
        specimen_type=data["specimen_type"],
        collection_date=data["collection_date"],
        genes=tuple(data.get("genes", ())),
        specimen_site=data.get("specimen_site", ""),
        laboratory=data.get("laboratory", ""),
        genome_build=data.get("genome_build", ""),
        diagnosis=diagnosis,
        tumour_type=data.get("tumour_type", ""),
        external_id=data.get("external_id"),
    )


# The payload parser prefixes its reasons with the item's path: "variants[3].pos: ...".
_PAYLOAD_PATH = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z0-9_]+)?): (.+)$", re.DOTALL)


def _api_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """Service errors keyed as the API's fields: parse problems ("source" in the service) go
    under "report.<path>", the findings' place in the request body."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        for message in messages:
            name = {"__all__": "non_field_errors"}.get(key, key)
            if key == "source":
                found = _PAYLOAD_PATH.match(message)
                name, message = (
                    (f"report.{found.group(1)}", found.group(2)) if found else ("report", message)
                )
            out.setdefault(name, []).append(message)
    return out


class GenomicReportListCreateView(GenericAPIView):
    """GET: the patient's reports. POST: store one report (JSON)."""

    serializer_class = GenomicReportSummarySerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[GenomicReport]:
        if getattr(self, "swagger_fake_view", False):
            return GenomicReport.objects.none()
        _, reports = selectors.genomic_report_list(
            user=self.request.user,  # type: ignore[arg-type]
            patient_public_id=self.kwargs["public_id"],
        )
        return reports.select_related("diagnosis")

    @extend_schema(
        operation_id="genomic_reports_list",
        responses={200: GenomicReportSummarySerializer(many=True), **ERROR_RESPONSES},
        description="The patient's genomic reports, newest specimen first, without their rows.",
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="genomic_reports_create",
        request=GenomicReportCreateSerializer,
        responses={
            201: GenomicReportOutSerializer,
            200: GenomicReportOutSerializer,
            **_WRITE_ERRORS,
        },
        description=(
            "Store one genomic report: parsed, annotated against the knowledge base and "
            "summarised (TMB, MSI) in one transaction. 201 when stored; 200 with the stored "
            "report when the same report was sent before (same external_id, or the same "
            "content without one); 409 when external_id names a different report. A report "
            "with any invalid part stores nothing; errors name the field, e.g. "
            '"report.variants[2].pos".'
        ),
    )
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user: User = request.user  # type: ignore[assignment]
        patient = patient_get_for_write(user=user, public_id=public_id)
        incoming = GenomicReportInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        source = services.ReportSource(format=SourceFormat.JSON, payload=data["report"])
        try:
            saved = services.genomic_report_create(
                user=user, patient=patient, source=source, metadata=_metadata(patient, data)
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(_api_errors(exc)) from exc
        except services.GenomicReportConflict as exc:
            raise Conflict(str(exc)) from exc
        body = GenomicReportOutSerializer(saved.report).data
        return Response(
            body, status=status.HTTP_201_CREATED if saved.created else status.HTTP_200_OK
        )


class GenomicReportDetailView(APIView):
    @extend_schema(
        operation_id="genomic_reports_retrieve",
        responses={200: GenomicReportOutSerializer, **ERROR_RESPONSES},
        description=(
            "One report with its actionable alterations (levels of evidence, drugs, knowledge-"
            "base version), variants, copy-number calls and fusions."
        ),
    )
    def get(self, request: Request, public_id: uuid.UUID, report_id: uuid.UUID) -> Response:
        report = selectors.genomic_report_get(
            user=request.user,  # type: ignore[arg-type]
            patient_public_id=public_id,
            report_public_id=report_id,
        )
        return Response(GenomicReportOutSerializer(report).data)
