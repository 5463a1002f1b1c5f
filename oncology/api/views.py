"""The record API for hospital systems: one view per operation, each thin.

Access and audit are the selectors' and services' business; these views parse, call one of
them, and shape the answer. Every error leaves in core.api.errors' format.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from django.db.models import Prefetch, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES, Conflict
from core.api.pagination import Pagination
from core.models import User
from oncology.api.filters import PatientFilter
from oncology.api.serializers import (
    BulkEnvelopeSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    MeSerializer,
    PatientLookupSerializer,
    PatientRecordOutSerializer,
    PatientSummarySerializer,
    UpsertResponseSerializer,
)
from oncology.models import Diagnosis, Institution, Patient
from oncology.selectors import patient_get, patient_get_by_mrn, patient_list
from oncology.services.payload import PatientRecordSerializer, record_payload
from oncology.services.sync import (
    BulkTooLarge,
    RecordResult,
    cyclic_gc_paused,
    patient_record_upsert,
    patient_records_bulk_upsert,
)


def _writer_institution(user: User) -> Institution:
    if user.institution is None:
        raise exceptions.PermissionDenied("This account belongs to no institution.")
    return user.institution


def _result_body(result: RecordResult) -> dict[str, Any]:
    return {
        "index": result.index,
        "status": result.status,
        "patient_public_id": str(result.patient_public_id) if result.patient_public_id else None,
        "errors": result.errors,
    }


class PatientListCreateView(GenericAPIView):
    """GET: the patients visible to the client. POST: create or update one record."""

    serializer_class = PatientSummarySerializer
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = PatientFilter

    def get_queryset(self) -> QuerySet[Patient]:
        if getattr(self, "swagger_fake_view", False):  # schema generation, no request user
            return Patient.objects.none()
        # Validate the filters before the listing is audited: a 400 lists nothing.
        filters = PatientFilter(self.request.query_params, queryset=Patient.objects.none())
        if not filters.is_valid():
            raise exceptions.ValidationError(filters.errors)
        patients = patient_list(user=self.request.user)  # type: ignore[arg-type]
        first_diagnosis = Diagnosis.objects.order_by("diagnosis_date", "pk")
        return patients.prefetch_related(Prefetch("diagnoses", queryset=first_diagnosis))

    @extend_schema(
        operation_id="patients_list",
        responses={200: PatientSummarySerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        patients = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(patients)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_upsert",
        request=PatientRecordSerializer,
        responses={200: UpsertResponseSerializer, 201: UpsertResponseSerializer, **ERROR_RESPONSES},
        description=(
            "Create or update one patient record keyed by MRN. 201 when created, 200 when "
            "updated or unchanged. Sections left out, and stored items a section leaves out, "
            "are kept."
        ),
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        user: User = request.user  # type: ignore[assignment]
        result = patient_record_upsert(
            actor=user, institution=_writer_institution(user), record=request.data
        )
        if result.status == "error":
            if result.error_kind == "forbidden":
                raise exceptions.PermissionDenied(
                    "A patient with this MRN exists outside your care teams."
                )
            if result.error_kind == "conflict":
                raise Conflict()
            raise exceptions.ValidationError(result.errors)
        patient = patient_get(user=user, public_id=str(result.patient_public_id), audit_action=None)
        body = {**_result_body(result), "record": record_payload(patient)}
        code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
        return Response(body, status=code)


class PatientBulkUpsertView(APIView):
    """Create or update many records; each record is atomic on its own."""

    @extend_schema(
        operation_id="patients_bulk_upsert",
        request=BulkRequestSerializer,
        responses={200: BulkResponseSerializer, **ERROR_RESPONSES},
        description=(
            "Up to API_BULK_MAX_RECORDS records. Always 200 when the envelope is valid: each "
            "record gets a result in input order, and a record with errors writes nothing."
        ),
    )
    def post(self, request: Request) -> Response:
        # Parsing 1,000 records allocates as many containers as upserting them.
        with cyclic_gc_paused():
            envelope = BulkEnvelopeSerializer(data=request.data)
            envelope.is_valid(raise_exception=True)
            records = envelope.validated_data["records"]
            user: User = request.user  # type: ignore[assignment]
            try:
                results = patient_records_bulk_upsert(
                    actor=user, institution=_writer_institution(user), records=records
                )
            except BulkTooLarge as exc:
                raise exceptions.ValidationError({"records": [str(exc)]}) from exc
        counts = Counter(r.status for r in results)
        summary = {key: counts.get(key, 0) for key in ("created", "updated", "unchanged", "error")}
        return Response({"summary": summary, "results": [_result_body(r) for r in results]})


class PatientDetailView(APIView):
    @extend_schema(
        operation_id="patients_retrieve",
        responses={200: PatientRecordOutSerializer, **ERROR_RESPONSES},
        description="The whole record, every section, with external ids.",
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = patient_get(user=request.user, public_id=public_id)  # type: ignore[arg-type]
        return Response(record_payload(patient))


class PatientLookupView(APIView):
    @extend_schema(
        operation_id="patients_lookup",
        request=PatientLookupSerializer,
        responses={200: PatientRecordOutSerializer, **ERROR_RESPONSES},
        description=(
            "The whole record of the patient with this MRN at the client's institution. The MRN "
            "goes in the body, not the URL, so that it never reaches access logs."
        ),
    )
    def post(self, request: Request) -> Response:
        lookup = PatientLookupSerializer(data=request.data)
        lookup.is_valid(raise_exception=True)
        patient = patient_get_by_mrn(
            user=request.user,  # type: ignore[arg-type]
            mrn=lookup.validated_data["mrn"],
        )
        return Response(record_payload(patient))


class MeView(APIView):
    @extend_schema(operation_id="me", responses={200: MeSerializer, 401: ERROR_RESPONSES[401]})
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        institution = user.institution
        return Response(
            {
                "username": user.get_username(),
                "role": user.role,
                "is_integration_client": user.is_integration_client,
                "can_edit_record": user.can_edit_record,
                "institution": (
                    {"code": institution.code, "name": institution.name} if institution else None
                ),
                "care_teams": sorted(user.care_teams.values_list("code", flat=True)),
            }
        )
