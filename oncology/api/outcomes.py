"""The prediction API: compare every treatment option for one patient with a registered model,
list and read stored predictions. Thin views: access, audit and the work are the selectors' and
services' business (oncology/selectors_outcomes.py, oncology/services/outcome_predictions.py).
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
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
    bands_shown,
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
        help_text="Also compute 95% bootstrap bands: inline from the model's stored bootstrap "
        'ensemble when it has one (`output.bands.source` "ensemble"), otherwise in a '
        'background job (`output.bands` is {"status": "queued"} until it has run, "failed" '
        "with the job's error if it failed for good). No bands when the prediction abstains.",
    )


class ModelRefSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    training_source = serializers.CharField()


class ExplanationSerializer(serializers.Serializer):
    drivers = serializers.ListField(
        child=serializers.CharField(), help_text="The top drivers of the risk, in words."
    )
    method = serializers.CharField()
    base = serializers.FloatField()
    risk = serializers.FloatField(
        help_text="Log hazard under this option; base + sum(contributions) + residual."
    )
    residual = serializers.FloatField()
    contributions = serializers.DictField(child=serializers.FloatField())


class SimilarPatientSerializer(serializers.Serializer):
    research_id = serializers.CharField(help_text="Id in the TRAINING cohort (never an MRN).")
    distance = serializers.FloatField()
    time = serializers.FloatField()
    event = serializers.BooleanField()
    option = serializers.CharField()


class ResponseSerializer(serializers.Serializer):
    probability = serializers.FloatField(help_text="P(response) under this option.")
    lower = serializers.FloatField(
        allow_null=True, help_text="95% bootstrap interval; null without bootstrap refits."
    )
    upper = serializers.FloatField(allow_null=True)
    definition = serializers.CharField(help_text="What counts as a response.")


class OptionEstimateSerializer(serializers.Serializer):
    option = serializers.CharField()
    training_patients = serializers.IntegerField()
    applicable = serializers.BooleanField(
        default=True,
        help_text="False when the model cannot judge this option for this patient (too few "
        "training patients on it, or no comparable treated patients by propensity); the "
        "numbers are still given, marked.",
    )
    not_applicable_reason = serializers.CharField(default="", allow_blank=True)
    propensity = serializers.FloatField(
        default=None,
        allow_null=True,
        help_text="Estimated probability that a patient like this one receives this option.",
    )
    response = ResponseSerializer(
        default=None,
        allow_null=True,
        help_text="Response probability under this option; null when the model has none.",
    )
    times = serializers.ListField(child=serializers.FloatField())
    survival = serializers.ListField(child=serializers.FloatField())
    rmst = serializers.FloatField(help_text="Restricted mean survival time up to the horizon.")
    survival_1y = serializers.FloatField()
    survival_2y = serializers.FloatField()
    survival_5y = serializers.FloatField()
    explanation = ExplanationSerializer(required=False)


class PredictionOutputSerializer(serializers.Serializer):
    time_unit = serializers.CharField()
    horizon = serializers.FloatField()
    target = serializers.CharField()
    abstained = serializers.BooleanField(
        default=False,
        help_text="True when the patient lies outside the model's applicability domain: no "
        "per-option numbers (`options` is empty) and `abstain_reason` says why.",
    )
    abstain_reason = serializers.CharField(default="")
    domain = serializers.JSONField(
        default=None,
        allow_null=True,
        help_text="The applicability check: abstain, inside, warnings, Mahalanobis distance, "
        "its threshold and percentile among held-out training patients.",
    )
    options = OptionEstimateSerializer(many=True)
    similar_patients = SimilarPatientSerializer(many=True, default=list)
    bands = serializers.SerializerMethodField()

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "description": "Bootstrap bands, or the state of their job. When done: per-option "
            "curve bands (`lower`, `upper`), `rmst` intervals, `rmst_difference` (every pair "
            'once), `survival_at` ({option: {"1y": [lo, hi], "2y": ..., "5y": ...}}) and '
            '`survival_difference` ([{"option", "versus", "1y": [lo, hi], "2y", "5y", '
            '"estimate": {"1y", "2y", "5y"}}] for every ordered pair).',
        }
    )
    def get_bands(self, obj: dict) -> dict | None:
        return bands_shown(obj)


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
    abstained = serializers.SerializerMethodField(
        help_text="True when the prediction abstained (outside the applicability domain)."
    )
    warnings = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()

    def get_label_text(self, obj: Prediction) -> str:
        return LABEL_TEXT

    def get_abstained(self, obj: Prediction) -> bool:
        return bool(obj.output.get("abstained", False))


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
            "option, each with its top drivers in words, and the five most similar training "
            "patients (training-cohort research ids). `bands: true` adds 95% bootstrap bands "
            "(inline from the model's ensemble, or later in a job). "
            "Associational evidence, not an instruction. "
            "Inputs come from the record; imputed inputs are listed in `warnings`; a patient "
            "outside the model's applicability domain (out-of-range value, unseen category, "
            "unusual combination) gets a stored prediction with `output.abstained` true, the "
            "reason, and no per-option numbers; a required input missing from the record is a "
            "400 naming it."
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
