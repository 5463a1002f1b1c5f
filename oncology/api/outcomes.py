"""The prediction API: compare every treatment option for one patient with a registered model,
list and read stored predictions. Thin views: access, audit and the work are the selectors' and
services' business (oncology/selectors_outcomes.py, oncology/services/outcome_predictions.py).
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES, Conflict
from core.api.pagination import Pagination
from oncology.models_outcomes import OutcomeModel, Prediction
from oncology.selectors_outcomes import prediction_get, prediction_list
from oncology.services.outcome_predictions import (
    LABEL_TEXT,
    ModelUnusable,
    PredictionRefused,
    prediction_create,
)


class PredictionCreateSerializer(serializers.Serializer):
    model = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=80,
        help_text="Name of the outcome model; its active version is used. Default: the one "
        "active model.",
    )
    bands = serializers.BooleanField(
        default=False,
        help_text="Also compute 95% bootstrap bands in a background job; `output.bands` is "
        '{"status": "queued"} until it has run.',
    )


class ModelRefSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    training_source = serializers.CharField()


class OptionEstimateSerializer(serializers.Serializer):
    option = serializers.CharField()
    training_patients = serializers.IntegerField()
    times = serializers.ListField(child=serializers.FloatField())
    survival = serializers.ListField(child=serializers.FloatField())
    rmst = serializers.FloatField(help_text="Restricted mean survival time up to the horizon.")
    survival_1y = serializers.FloatField()
    survival_2y = serializers.FloatField()
    survival_5y = serializers.FloatField()


class PredictionOutputSerializer(serializers.Serializer):
    time_unit = serializers.CharField()
    horizon = serializers.FloatField()
    target = serializers.CharField()
    options = OptionEstimateSerializer(many=True)
    bands = serializers.JSONField(
        allow_null=True, help_text="Uncertainty bands: not computed by this endpoint (null)."
    )


class PredictionSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    patient_public_id = serializers.UUIDField(source="patient.public_id")
    model = ModelRefSerializer()
    label = serializers.CharField()  # type: ignore[assignment]  # DRF pops declared fields
    label_text = serializers.SerializerMethodField()
    inputs = serializers.DictField(child=serializers.JSONField(allow_null=True))
    inputs_sha256 = serializers.CharField()
    output = PredictionOutputSerializer()
    warnings = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()

    def get_label_text(self, obj: Prediction) -> str:
        return LABEL_TEXT


class PredictionSummarySerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    model = ModelRefSerializer()
    label = serializers.CharField()  # type: ignore[assignment]  # DRF pops declared fields
    label_text = serializers.SerializerMethodField()
    warnings = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()

    def get_label_text(self, obj: Prediction) -> str:
        return LABEL_TEXT


_CREATE_ERRORS = {
    **ERROR_RESPONSES,
    409: OpenApiResponse(description="The model's stored artifact failed its integrity check."),
}


class PredictionListCreateView(GenericAPIView):
    """GET: the patient's predictions. POST: compare every option now and store it."""

    serializer_class = PredictionSummarySerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Prediction]:
        if getattr(self, "swagger_fake_view", False):
            return Prediction.objects.none()
        _, predictions = prediction_list(
            user=self.request.user,  # type: ignore[arg-type]
            patient_public_id=self.kwargs["public_id"],
        )
        return predictions

    @extend_schema(
        operation_id="predictions_list",
        responses={200: PredictionSummarySerializer(many=True), **ERROR_RESPONSES},
        description="The patient's stored predictions, newest first, without their curves.",
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="predictions_create",
        request=PredictionCreateSerializer,
        responses={201: PredictionSerializer, **_CREATE_ERRORS},
        description=(
            "Compare every treatment option of the active outcome model for this patient: "
            "survival curve, restricted mean survival and 1-, 2- and 5-year survival per "
            "option, without uncertainty bands (`bands: true` adds them later, in a job). "
            "Associational evidence, not an instruction. "
            "Inputs come from the record; imputed or out-of-range inputs are listed in "
            "`warnings`; a required input missing from the record is a 400 naming it."
        ),
    )
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        body = PredictionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            prediction = prediction_create(
                user=request.user,  # type: ignore[arg-type]
                patient_public_id=public_id,
                model_name=body.validated_data.get("model") or None,
                bands=body.validated_data["bands"],
            )
        except ModelUnusable as exc:
            raise Conflict(str(exc)) from exc
        except PredictionRefused as exc:
            raise exceptions.ValidationError({exc.field: [str(exc)]}) from exc
        return Response(PredictionSerializer(prediction).data, status=status.HTTP_201_CREATED)


class PredictionDetailView(APIView):
    @extend_schema(
        operation_id="predictions_retrieve",
        responses={200: PredictionSerializer, **ERROR_RESPONSES},
        description="One stored prediction with its inputs, per-option output and warnings.",
    )
    def get(self, request: Request, public_id: uuid.UUID, prediction_id: uuid.UUID) -> Response:
        prediction = prediction_get(
            user=request.user,  # type: ignore[arg-type]
            patient_public_id=public_id,
            prediction_public_id=prediction_id,
        )
        return Response(PredictionSerializer(prediction).data)


class OutcomeModelSummarySerializer(ModelRefSerializer):
    target = serializers.CharField()
    time_unit = serializers.CharField()
    options = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class OutcomeModelDetailSerializer(OutcomeModelSummarySerializer):
    feature_spec = serializers.ListField(child=serializers.DictField())
    training_params = serializers.DictField()
    training_data_sha256 = serializers.CharField()
    artifact_sha256 = serializers.CharField()
    metrics = serializers.DictField()
    calibration = serializers.ListField(child=serializers.DictField())
    model_card = serializers.DictField()
    status_changed_at = serializers.DateTimeField(allow_null=True)


class OutcomeModelListView(GenericAPIView):
    """The registry, every version (no patient data: readable by any authenticated client)."""

    serializer_class = OutcomeModelSummarySerializer
    pagination_class = Pagination
    queryset = OutcomeModel.objects.order_by("name", "-version")

    @extend_schema(
        operation_id="outcome_models_list",
        responses={200: OutcomeModelSummarySerializer(many=True), 401: ERROR_RESPONSES[401]},
        description="Registered outcome models, every version, by name then newest version.",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class OutcomeModelDetailView(APIView):
    @extend_schema(
        operation_id="outcome_models_retrieve",
        responses={200: OutcomeModelDetailSerializer, 401: ERROR_RESPONSES[401], 404: None},
        description="One model version: declared features, provenance hashes, validation "
        "metrics, calibration points and model card.",
    )
    def get(self, request: Request, model_id: uuid.UUID) -> Response:
        model = OutcomeModel.objects.filter(public_id=model_id).first()
        if model is None:
            raise exceptions.NotFound("No such outcome model.")
        return Response(OutcomeModelDetailSerializer(model).data)
