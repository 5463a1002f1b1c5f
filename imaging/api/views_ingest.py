"""The imaging ingest API: multipart upload of DICOM files for one patient, and the DICOMweb
STOW-RS endpoint for hospital systems. Thin: ingest, access and audit are the services' and
selectors' business."""

from __future__ import annotations

import uuid
from email.message import Message
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES, PayloadTooLarge
from core.audit import audit_record
from core.models import AuditAction, User
from imaging.api.serializers import DicomUploadSerializer, IngestResponseSerializer
from imaging.api.stow import (
    DICOM_MEDIA_TYPE,
    StowRequestError,
    parse_multipart_related,
    store_response,
)
from imaging.services.ingest import (
    AUDIT_OBJECT,
    FAILURE_CANNOT_UNDERSTAND,
    REJECTED,
    STORED,
    IngestBatch,
    IngestResult,
)
from imaging.services.zipfiles import (
    UploadedDicom,
    dicom_ingest_upload,
    is_single_file,
    max_upload_bytes,
)
from oncology.selectors import patient_get_for_write

MAX_FILES_PER_REQUEST = settings.DATA_UPLOAD_MAX_NUMBER_FILES
_READ_CHUNK = 1024 * 1024


def _counts(results: list[IngestResult]) -> dict[str, int]:
    return {
        s: sum(1 for r in results if r.status == s)
        for s in ("stored", "duplicate", "unmatched", "rejected")
    }


def _result_body(results: list[IngestResult]) -> dict:
    return {
        "results": [
            {
                "filename": r.filename,
                "status": r.status,
                "reason": r.reason,
                "sop_instance_uid": r.sop_instance_uid,
                "study_public_id": str(r.study_public_id) if r.study_public_id else None,
            }
            for r in results
        ],
        "counts": _counts(results),
    }


class RawDicomParser(BaseParser):
    """`Content-Type: application/dicom`: the body is one DICOM file (as Orthanc's REST
    `POST /instances` takes it). The view reads the body itself, with the upload cap
    (`_read_body`); this class only declares the media type to DRF and the schema."""

    media_type = DICOM_MEDIA_TYPE

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raise exceptions.ParseError("The application/dicom body is read by the view.")


_UPLOAD_FILENAME = "upload.dcm"


def _raw_filename(request: Request) -> str:
    """The name a raw application/dicom body is reported under: the Content-Disposition
    filename when the client sends one (echoed in the result line only), else upload.dcm."""
    value = request.META.get("HTTP_CONTENT_DISPOSITION", "")
    if not value:
        return _UPLOAD_FILENAME
    msg = Message()
    msg["content-disposition"] = value
    name = msg.get_filename() or ""
    return PurePosixPath(name.replace("\\", "/")).name[:255] or _UPLOAD_FILENAME


class DicomUploadView(APIView):
    """Not wrapped in the request transaction (ATOMIC_REQUESTS): an upload of one plain file
    is ingested in autocommit, where its instance row, series count and audit event are one
    statement (or, for a new series or study, one transaction of the batch), committed before
    the response, so the request saves BEGIN and COMMIT; anything else (many files, a zip)
    runs in one transaction here, as every other request does."""

    parser_classes = [MultiPartParser, RawDicomParser]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def handle_exception(self, exc: Exception) -> Response:
        # DRF's exception handler marks the innermost atomic block for rollback. Without the
        # request transaction that would be a caller's (a test's) block: give it its own. In
        # autocommit with nothing written in it, this block sends nothing to the database.
        with transaction.atomic():
            return super().handle_exception(exc)

    @extend_schema(
        operation_id="patient_dicom_upload",
        request={
            "multipart/form-data": DicomUploadSerializer,
            DICOM_MEDIA_TYPE: {"type": "string", "format": "binary"},
        },
        responses={200: IngestResponseSerializer, **ERROR_RESPONSES},
        description=(
            "Upload DICOM files and zip archives of them (field `files`, repeated) for one "
            "patient, or one DICOM file as the whole body with `Content-Type: "
            "application/dicom` (optionally named by `Content-Disposition: attachment; "
            "filename=...`). Every instance must carry the patient's MRN as its PatientID. One "
            "result per file (per archive entry): stored, duplicate (this SOP Instance UID is "
            "already stored; nothing changed) or rejected with the reason. Always 200 when the "
            "request itself is valid; read `counts.rejected`."
        ),
    )
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user: User = request.user  # type: ignore[assignment]
        patient = patient_get_for_write(user=user, public_id=public_id)
        if (request.content_type or "").split(";")[0].strip().lower() == DICOM_MEDIA_TYPE:
            # One file as the body: no multipart parsing, the bytes go straight to ingest.
            body = _read_body(request)
            if not body:
                raise exceptions.ValidationError({"body": ["The application/dicom body is empty."]})
            uploads = [UploadedDicom(name=_raw_filename(request), file=body)]
        else:
            files = request.FILES.getlist("files")
            if not files:
                raise exceptions.ValidationError({"files": ["Send one or more files as `files`."]})
            if len(files) > MAX_FILES_PER_REQUEST:
                raise exceptions.ValidationError(
                    {"files": [f"At most {MAX_FILES_PER_REQUEST} files a request; send a zip."]}
                )
            uploads = [UploadedDicom(name=f.name or "", file=f, size=f.size) for f in files]
        if is_single_file(uploads):
            # Autocommit: each write below is atomic on its own and carries its audit event.
            results = self._ingest(user, patient, uploads)
        else:
            with transaction.atomic():
                results = self._ingest(user, patient, uploads)
        return Response(_result_body(results))

    @staticmethod
    def _ingest(user: User, patient: Any, uploads: list[UploadedDicom]) -> list[IngestResult]:
        results = dicom_ingest_upload(
            actor=user,
            institution=patient.institution,
            files=uploads,
            channel="api",
            patient=patient,
        )
        if not any(r.status == STORED for r in results):
            audit_record(  # nothing stored: the request's one event
                actor=user,
                action=AuditAction.VIEW,
                object_type=AUDIT_OBJECT,
                patient_id=patient.pk,
                institution_id=patient.institution_id,
            )
        return results


def _read_body(request: Request) -> bytes:
    """The raw body, read from the stream with our own cap: request.body would refuse anything
    over DATA_UPLOAD_MAX_MEMORY_SIZE, far below one CT series."""
    cap = max_upload_bytes()
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > cap:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    total = 0
    raw = request._request  # the Django request; DRF has not read the body (no parser runs)
    while True:
        chunk = raw.read(_READ_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > cap:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


class DicomJsonRenderer(JSONRenderer):
    """DICOM JSON (PS3.18 F), which STOW-RS clients ask for in Accept."""

    media_type = "application/dicom+json"


_STOW_RESPONSES = {
    200: OpenApiResponse(description="All instances stored (DICOM JSON store response)."),
    202: OpenApiResponse(description="Some instances failed (see 00081198)."),
    409: OpenApiResponse(description="Every instance failed (see 00081198)."),
    415: OpenApiResponse(description='Not multipart/related; type="application/dicom".'),
    **ERROR_RESPONSES,
}
_STOW_DESCRIPTION = (
    'STOW-RS (DICOM PS3.18 10.5): multipart/related; type="application/dicom", one '
    "instance a part. For hospital systems (integration clients): instances are filed "
    "under the patient of the client's institution whose MRN is the PatientID, or held "
    "for a data manager when none matches. The response lists stored instances in "
    "00081199 ReferencedSOPSequence and failures in 00081198 FailedSOPSequence with "
    "00081197 FailureReason (0xA700 out of resources, 0xA900 does not match, 0xC000 "
    "cannot understand)."
)
_STOW_REQUEST = {"multipart/related": {"type": "string", "format": "binary"}}


class StowRsView(APIView):
    """DICOMweb STOW-RS: POST /dicomweb/studies[/{StudyInstanceUID}]."""

    parser_classes: list = []
    renderer_classes = [DicomJsonRenderer, JSONRenderer]

    @extend_schema(
        operation_id="dicomweb_stow",
        request=_STOW_REQUEST,
        responses=_STOW_RESPONSES,
        description=_STOW_DESCRIPTION,
    )
    def post(self, request: Request, study_uid: str | None = None) -> Response:
        user: User = request.user  # type: ignore[assignment]
        if not user.is_integration_client or user.institution is None:
            raise PermissionDenied("STOW-RS is for hospital systems (integration clients).")
        body = _read_body(request)
        try:
            parts = parse_multipart_related(request.META.get("CONTENT_TYPE", ""), body)
        except StowRequestError as exc:
            if exc.status == 415:
                raise exceptions.UnsupportedMediaType(
                    request.META.get("CONTENT_TYPE", ""), detail=str(exc)
                ) from exc
            raise exceptions.ValidationError({"body": [str(exc)]}) from exc
        del body
        batch = IngestBatch(
            actor=user, institution=user.institution, channel="stow", study_instance_uid=study_uid
        )
        try:
            for i, part in enumerate(parts, start=1):
                name = f"part {i}"
                if part.content_type != DICOM_MEDIA_TYPE:
                    batch.add_result(
                        IngestResult(
                            filename=name,
                            status=REJECTED,
                            reason=f"Part {i} is not {DICOM_MEDIA_TYPE}.",
                            failure_code=FAILURE_CANNOT_UNDERSTAND,
                        )
                    )
                else:
                    batch.add(name, part.data)
            results = batch.finish()
        except BaseException:
            batch.abort()
            raise
        base = request.build_absolute_uri("/api/v1/dicomweb")
        status, payload = store_response(results, retrieve_base=base, study_uid=study_uid)
        return Response(payload, status=status, content_type=DicomJsonRenderer.media_type)


class StowRsStudyView(StowRsView):
    """STOW-RS to one study: an instance of another study fails with 0xA900."""

    @extend_schema(
        operation_id="dicomweb_stow_study",
        request=_STOW_REQUEST,
        responses=_STOW_RESPONSES,
        description=_STOW_DESCRIPTION + " Instances of another study than the URL's fail (0xA900).",
    )
    def post(self, request: Request, study_uid: str | None = None) -> Response:
        return super().post(request, study_uid=study_uid)
