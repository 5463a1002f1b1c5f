"""FHIR R4 (mCODE) endpoints: a patient's record out as a Bundle, a Bundle in. Thin views.

Access, audit and validation are the services' (oncology.services.fhir_export / fhir_import).
Errors in a Bundle come back as a FHIR OperationOutcome, one issue per path.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES, Conflict
from core.models import User
from oncology.services.fhir_export import patient_fhir_bundle
from oncology.services.fhir_import import fhir_bundle_import

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
