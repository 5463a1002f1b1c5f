"""FHIR R4 (mCODE) endpoints: a patient's record out as a Bundle, a Bundle in, reads and
searches of the record's resources, and the CapabilityStatement. Thin views.

Access, audit and validation are the services' (oncology.services.fhir_export, fhir_import,
fhir_rest). Errors in a Bundle or a search come back as a FHIR OperationOutcome, one issue per
path or parameter.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES, Conflict
from core.models import User
from oncology.services.fhir_export import patient_fhir_bundle
from oncology.services.fhir_import import fhir_bundle_import
from oncology.services.fhir_rest import (
    SEARCHABLE,
    FhirSearchError,
    capability_statement,
    fhir_read,
    fhir_search,
    patient_search_by_identifier,
)

FHIR_JSON = "application/fhir+json"


class FhirJSONParser(JSONParser):
    media_type = FHIR_JSON


def _fhir_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type=FHIR_JSON)


def operation_outcome(errors: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "invalid", "expression": [path], "diagnostics": message}
            for path, messages in errors.items()
            for message in messages
        ],
    }


class FhirPatientEverythingView(APIView):
    @extend_schema(
        operation_id="fhir_patient_everything",
        responses={(200, FHIR_JSON): OpenApiTypes.OBJECT, **ERROR_RESPONSES},
        description=(
            "The patient's record as a FHIR R4 Bundle (type collection) in the mCODE shape, "
            "with genomic observations and signed board decisions (CarePlan). "
            "See docs/interop-fhir.md."
        ),
    )
    def get(self, request: Request, public_id: uuid.UUID) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        return _fhir_response(patient_fhir_bundle(user=user, public_id=public_id))


class FhirImportView(APIView):
    parser_classes = [FhirJSONParser, JSONParser]

    @extend_schema(
        operation_id="fhir_import",
        request={FHIR_JSON: OpenApiTypes.OBJECT, "application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT, **ERROR_RESPONSES},
        description=(
            "Import a FHIR R4 Bundle (transaction or collection), all or nothing, idempotent "
            "by resource identifier. 400 with an OperationOutcome naming each error's path. "
            "Integration clients only. See docs/interop-fhir.md."
        ),
    )
    def post(self, request: Request) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        result = fhir_bundle_import(actor=user, data=request.data)
        if result.status == "forbidden":
            raise exceptions.PermissionDenied(
                "A patient with this MRN exists outside your care teams."
            )
        if result.status == "conflict":
            raise Conflict()
        if result.status == "invalid":
            return _fhir_response(operation_outcome(result.errors), status=400)
        counts = Counter(p["status"] for p in result.patients)
        summary = {key: counts.get(key, 0) for key in ("created", "updated", "unchanged")}
        body: dict[str, Any] = {"summary": summary, "patients": result.patients}
        if result.warnings:
            body["warnings"] = [
                {"expression": path, "diagnostics": message}
                for path, messages in result.warnings.items()
                for message in messages
            ]
        return HttpResponse(json.dumps(body), content_type="application/json")


BASE_PATH = "/api/v1/fhir"
_TYPE_PARAM = OpenApiParameter(
    "resource_type", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(SEARCHABLE)
)


def _base(request: Request) -> str:
    return request.build_absolute_uri(BASE_PATH)


def _search_error(exc: FhirSearchError) -> HttpResponse:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "not-supported" if "supported" in str(exc) else "invalid",
                "expression": [exc.param],
                "diagnostics": str(exc),
            }
        ],
    }
    return _fhir_response(outcome, status=400)


class FhirMetadataView(APIView):
    """The CapabilityStatement: no patient data, so no token needed (FHIR clients read it
    before they authenticate)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="fhir_metadata",
        responses={(200, FHIR_JSON): OpenApiTypes.OBJECT},
        description="The server's FHIR R4 (4.0.1) CapabilityStatement. See docs/interop-fhir.md.",
    )
    def get(self, request: Request) -> HttpResponse:
        return _fhir_response(capability_statement(base=_base(request)))


class FhirReadView(APIView):
    @extend_schema(
        operation_id="fhir_read",
        parameters=[_TYPE_PARAM],
        responses={(200, FHIR_JSON): OpenApiTypes.OBJECT, **ERROR_RESPONSES},
        description=(
            "One resource of a patient's record by its id (a Patient by its public id). 404 "
            "when there is none or its patient is not visible to the caller. See "
            "docs/interop-fhir.md."
        ),
    )
    def get(self, request: Request, resource_type: str, resource_id: str) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        return _fhir_response(fhir_read(user=user, resource_type=resource_type, rid=resource_id))


class FhirSearchView(APIView):
    @extend_schema(
        operation_id="fhir_search",
        parameters=[
            _TYPE_PARAM,
            OpenApiParameter("patient", OpenApiTypes.STR, description="Patient/<id> or <id>"),
            OpenApiParameter("subject", OpenApiTypes.STR, description="as patient"),
            OpenApiParameter("_id", OpenApiTypes.STR, description="Patient searches: its id"),
            OpenApiParameter("code", OpenApiTypes.STR, description="token"),
            OpenApiParameter("category", OpenApiTypes.STR, description="token"),
        ],
        responses={(200, FHIR_JSON): OpenApiTypes.OBJECT, **ERROR_RESPONSES},
        description=(
            "A searchset Bundle of one patient's resources of a type (patient= or subject=; "
            "_id= for Patient). A patient not visible to the caller gives an empty searchset. "
            "See docs/interop-fhir.md."
        ),
    )
    def get(self, request: Request, resource_type: str) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        params = {key: request.query_params.getlist(key) for key in request.query_params}
        try:
            bundle = fhir_search(
                user=user,
                resource_type=resource_type,
                params=params,
                base=_base(request),
                self_link=request.build_absolute_uri(),
            )
        except FhirSearchError as exc:
            return _search_error(exc)
        return _fhir_response(bundle)


class FhirPatientSearchView(APIView):
    """POST Patient/_search: the identifier (an MRN) travels in the body, never the URL."""

    parser_classes = [FormParser, FhirJSONParser, JSONParser]

    @extend_schema(
        operation_id="fhir_patient_search",
        request={
            "application/x-www-form-urlencoded": {
                "type": "object",
                "properties": {"identifier": {"type": "string"}},
                "required": ["identifier"],
            }
        },
        responses={(200, FHIR_JSON): OpenApiTypes.OBJECT, **ERROR_RESPONSES},
        description=(
            "Search Patients by identifier (the MRN: <system>|<value> or <value>) given in a "
            "form body; a searchset of the visible patient of the caller's institution, or "
            "none. See docs/interop-fhir.md."
        ),
    )
    def post(self, request: Request) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        data = request.data
        if not isinstance(data, dict):
            return _search_error(FhirSearchError("identifier", "Give one identifier."))
        values = (
            data.getlist("identifier") if hasattr(data, "getlist") else [data.get("identifier")]
        )
        unknown = sorted(set(data) - {"identifier", "_format"})
        try:
            if unknown:
                raise FhirSearchError(unknown[0], "Not a supported search parameter.")
            if len(values) != 1 or not isinstance(values[0], str):
                raise FhirSearchError("identifier", "Give one identifier.")
            bundle = patient_search_by_identifier(
                user=user,
                identifier=values[0],
                base=_base(request),
                self_link=_base(request) + "/Patient/_search",
            )
        except FhirSearchError as exc:
            return _search_error(exc)
        return _fhir_response(bundle)
