"""The research export API: create an export of chosen series, read its status, download its
zip. Thin: access, audit and the build are imaging/services/export.py's and
imaging/selectors_export.py's business. Oncologists and data managers only (integration clients
get 403: an export is asked for by a person, with a purpose)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES, Conflict
from core.jobs import job_progress
from core.models import User
from imaging.models import ResearchExport
from imaging.selectors_export import (
    download_filename,
    research_export_get,
    research_export_list,
    research_export_open,
)
from imaging.services.deid_keys import DeidKeyError
from imaging.services.export import (
    MAX_SERIES_PER_EXPORT,
    PURPOSE_MAX_CHARS,
    ExportNotReady,
    research_export_create,
    research_export_status,
)


class DeidKeyUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The institution's de-identification key cannot be opened."
    default_code = "deid_key_unavailable"


class ResearchExportCreateSerializer(serializers.Serializer):
    series = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_SERIES_PER_EXPORT,
        help_text="public ids of the series to export (patients visible to you, one institution)",
    )
    purpose = serializers.CharField(max_length=PURPOSE_MAX_CHARS, help_text="what it is for")


class ResearchExportSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    status = serializers.CharField(help_text="queued, running, succeeded or failed")
    purpose = serializers.CharField()
    series_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    summary = serializers.DictField(
        help_text="counts: patients, series, instances, exported, quarantined, "
        "quarantine_reasons (reason -> count), unreadable; profile codes"
    )
    sha256 = serializers.CharField(allow_blank=True)
    size_bytes = serializers.IntegerField(allow_null=True)
    progress = serializers.DictField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    download_url = serializers.CharField(allow_null=True)


def _body(export: ResearchExport) -> dict[str, Any]:
    state = research_export_status(export)
    ready = state == "succeeded"
    job = export.job
    return {
        "public_id": str(export.public_id),
        "status": state,
        "purpose": export.purpose,
        "series_count": getattr(export, "series_count", None) or export.series.count(),
        "created_at": export.created_at,
        "completed_at": export.completed_at,
        "summary": export.summary if ready else {},
        "sha256": export.sha256 if ready else "",
        "size_bytes": export.size_bytes if ready else None,
        "progress": job_progress(job) if job is not None and state == "running" else None,
        # JobError messages name rows and causes, never patient values (core/jobs.py).
        "error": job.error if job is not None and state == "failed" else "",
        "download_url": (
            reverse("api-research-export-download", kwargs={"export_id": export.public_id})
            if ready
            else None
        ),
    }


class ResearchExportListView(APIView):
    @extend_schema(
        operation_id="research_export_list",
        responses={200: ResearchExportSerializer(many=True), **ERROR_RESPONSES},
        description="Your own research exports, newest first (no patient data).",
    )
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        exports = research_export_list(user=user)[:200]
        return Response(ResearchExportSerializer([_body(e) for e in exports], many=True).data)

    @extend_schema(
        operation_id="research_export_create",
        request=ResearchExportCreateSerializer,
        responses={
            202: ResearchExportSerializer,
            503: OpenApiResponse(description="The institution's key cannot be opened."),
            **ERROR_RESPONSES,
        },
        description=(
            "Create a de-identified export (DICOM PS3.15 Basic Profile, Modified Dates option) "
            "of the chosen series. Every series must belong to a patient of your care teams "
            "(404 otherwise); oncologists and data managers only (403). The zip is built by a "
            "job: poll the status, then download it."
        ),
    )
    def post(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        data = ResearchExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            export = research_export_create(
                user=user,
                series_public_ids=data.validated_data["series"],
                purpose=data.validated_data["purpose"],
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from exc
        except DeidKeyError as exc:
            raise DeidKeyUnavailable(str(exc)) from exc
        export = research_export_get(user=user, public_id=export.public_id)
        return Response(
            ResearchExportSerializer(_body(export)).data, status=status.HTTP_202_ACCEPTED
        )


class ResearchExportDetailView(APIView):
    @extend_schema(
        operation_id="research_export_status",
        responses={200: ResearchExportSerializer, **ERROR_RESPONSES},
        description="One of your exports: status, counts and, when built, its download URL. "
        "404 for anyone but its requester.",
    )
    def get(self, request: Request, export_id: uuid.UUID) -> Response:
        user: User = request.user  # type: ignore[assignment]
        export = research_export_get(user=user, public_id=export_id)
        return Response(ResearchExportSerializer(_body(export)).data)


class ResearchExportDownloadView(APIView):
    @extend_schema(
        operation_id="research_export_download",
        responses={
            (200, "application/zip"): OpenApiResponse(description="the de-identified zip"),
            409: OpenApiResponse(description="The export has no file yet."),
            **ERROR_RESPONSES,
        },
        description="The export's zip (requester only; one audit event per patient). The file "
        "name is the export's public id.",
    )
    def get(self, request: Request, export_id: uuid.UUID) -> FileResponse:
        user: User = request.user  # type: ignore[assignment]
        try:
            export, handle = research_export_open(user=user, public_id=export_id)
        except ExportNotReady as exc:
            raise Conflict("The export has no file yet; poll its status.") from exc
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=download_filename(export),
            content_type="application/zip",
        )
        response["Cache-Control"] = "no-store"
        return response
