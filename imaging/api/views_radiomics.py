"""The radiomics API: request a run for a series and mask, read runs (JSON or CSV), and cohort
batches. Thin: access and audit are the selectors' and services' business
(docs/radiomics-jobs.md, docs/api.md)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES
from core.models import User
from imaging.models import RadiomicsBatch, RadiomicsRun
from imaging.selectors_radiomics import (
    batch_patients,
    patient_series_get,
    radiomics_batch_get,
    radiomics_batch_list,
    radiomics_run_get,
    radiomics_run_list,
)
from imaging.services.radiomics import (
    REQUESTABLE_PRESETS,
    RadiomicsRequestError,
    batch_counts,
    batch_plans,
    batch_summary,
    radiomics_batch_create,
    radiomics_csv,
    radiomics_run_request,
    run_progress,
    run_status,
    series_radiomics_masks,
)
from oncology.selectors import patient_get_for_write

CSV_RESPONSE = OpenApiResponse(
    description="text/csv: research_id, series_id, run_id, mask_label, preset, feature, "
    "ibsi_code, value (one row per feature)."
)


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


class FeatureSerializer(serializers.Serializer):
    feature = serializers.CharField(help_text="Stable name, e.g. glcm_joint_max_3d_merged.")
    ibsi_code = serializers.CharField()
    value = serializers.FloatField(allow_null=True, help_text="null: undefined for this ROI.")


class ProgressSerializer(serializers.Serializer):
    stage = serializers.CharField(help_text="volume, mask, prepare, features or saving.")
    done = serializers.IntegerField(help_text="Feature families computed.")
    total = serializers.IntegerField()
    family = serializers.CharField(required=False)


class RunSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    patient_public_id = serializers.UUIDField(source="patient.public_id")
    series_public_id = serializers.UUIDField(source="series.public_id")
    mask_id = serializers.CharField()
    mask_label = serializers.CharField()
    preset = serializers.CharField()
    settings_hash = serializers.CharField()
    status = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    batch_public_id = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    feature_count = serializers.SerializerMethodField()

    def get_status(self, run: RadiomicsRun) -> str:
        return run_status(run)

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, run: RadiomicsRun) -> dict[str, Any] | None:
        progress = run_progress(run)
        return ProgressSerializer(progress).data if progress else None

    def get_error(self, run: RadiomicsRun) -> str:
        if run.completed_at is None and run.job is not None:
            return run.job.error
        return ""

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_batch_public_id(self, run: RadiomicsRun) -> str | None:
        return str(run.batch.public_id) if run.batch is not None else None

    def get_feature_count(self, run: RadiomicsRun) -> int:
        return len(run.features)


class RunDetailSerializer(RunSerializer):
    features = FeatureSerializer(many=True)
    provenance = serializers.JSONField()


class MaskSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Opaque; pass it as mask_id.")
    label = serializers.CharField()  # type: ignore[assignment]  # Field.label: its title
    kind = serializers.CharField(help_text="rtstruct, seg, nifti, drawn or seed.")


class SeriesRadiomicsSerializer(serializers.Serializer):
    masks = MaskSerializer(many=True)
    presets = serializers.ListField(child=serializers.CharField())
    runs = RunSerializer(many=True)


class RunRequestSerializer(serializers.Serializer):
    mask_id = serializers.CharField(max_length=40)
    preset = serializers.ChoiceField(choices=list(REQUESTABLE_PRESETS))
    retry = serializers.BooleanField(
        default=False, help_text="Compute a failed run again (ignored unless it failed)."
    )


class BatchRequestSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(choices=list(REQUESTABLE_PRESETS))
    patients = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=5000,
        help_text="Public ids; left out: every patient visible to the caller.",
    )
    modality = serializers.CharField(max_length=16, required=False, default="")
    mask_label = serializers.CharField(
        max_length=64, required=False, default="", help_text="Part of the mask label, any case."
    )


class BatchPlanSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="queued, running, succeeded or failed.")
    error = serializers.CharField(allow_blank=True)
    progress = serializers.DictField(allow_null=True, help_text="patients done of total.")
    result = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="patients, runs, queued."
    )


class BatchSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    preset = serializers.CharField()
    settings_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    plan = BatchPlanSerializer(help_text="The job that creates the batch's runs.")
    counts = serializers.DictField(child=serializers.IntegerField())


class BatchDetailSerializer(BatchSerializer):
    runs = RunSerializer(many=True)


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _request_error(exc: RadiomicsRequestError) -> exceptions.APIException:
    if exc.field == "mask_id":
        return exceptions.NotFound(str(exc))
    return exceptions.ValidationError({exc.field: [str(exc)]})


class SeriesRadiomicsView(APIView):
    """GET: the series' masks, the presets and its runs. POST: request a run."""

    @extend_schema(
        operation_id="series_radiomics",
        responses={200: SeriesRadiomicsSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request, public_id: uuid.UUID, series_id: uuid.UUID) -> Response:
        patient, runs = radiomics_run_list(
            user=_user(request), patient_public_id=public_id, series=series_id
        )
        series = patient_series_get(patient=patient, series_public_id=series_id)
        body = {
            "masks": series_radiomics_masks(series),
            "presets": list(REQUESTABLE_PRESETS),
            "runs": list(runs),
        }
        return Response(SeriesRadiomicsSerializer(body).data)

    @extend_schema(
        operation_id="series_radiomics_request",
        request=RunRequestSerializer,
        responses={200: RunSerializer, 202: RunSerializer, **ERROR_RESPONSES},
        description=(
            "Request IBSI features of one mask of this series with a preset. 202 with a new run "
            "(its job is queued; poll the run). 200 with the stored run when the same inputs "
            "(series content, mask content, settings, engine version) were requested before: "
            "nothing is computed again. A failed run is computed again only with `retry`."
        ),
    )
    def post(self, request: Request, public_id: uuid.UUID, series_id: uuid.UUID) -> Response:
        user = _user(request)
        patient = patient_get_for_write(user=user, public_id=public_id)
        series = patient_series_get(patient=patient, series_public_id=series_id)
        data = RunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = radiomics_run_request(
                actor=user,
                patient=patient,
                series=series,
                mask_id=data.validated_data["mask_id"],
                preset=data.validated_data["preset"],
                retry=data.validated_data["retry"],
            )
        except RadiomicsRequestError as exc:
            raise _request_error(exc) from exc
        new = result.created or result.retried
        return Response(
            RunSerializer(result.run).data,
            status=status.HTTP_202_ACCEPTED if new else status.HTTP_200_OK,
        )


class RunListView(APIView):
    @extend_schema(
        operation_id="patient_radiomics_runs",
        responses={200: RunSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        _, runs = radiomics_run_list(user=_user(request), patient_public_id=public_id)
        return Response(RunSerializer(runs, many=True).data)


class RunDetailView(APIView):
    @extend_schema(
        operation_id="patient_radiomics_run",
        responses={200: RunDetailSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request, public_id: uuid.UUID, run_id: uuid.UUID) -> Response:
        run = radiomics_run_get(
            user=_user(request), patient_public_id=public_id, run_public_id=run_id
        )
        return Response(RunDetailSerializer(run).data)


class RunCsvView(APIView):
    @extend_schema(
        operation_id="patient_radiomics_run_csv",
        responses={(200, "text/csv"): CSV_RESPONSE, **ERROR_RESPONSES},
    )
    def get(self, request: Request, public_id: uuid.UUID, run_id: uuid.UUID) -> HttpResponse:
        run = radiomics_run_get(
            user=_user(request), patient_public_id=public_id, run_public_id=run_id, export=True
        )
        return _csv_response(radiomics_csv([run]), f"radiomics-{run.public_id}.csv")


def _batch_body(batch: RadiomicsBatch, runs: list[RadiomicsRun]) -> dict[str, Any]:
    return {
        "public_id": batch.public_id,
        "preset": batch.preset,
        "settings_hash": batch.settings_hash,
        "created_at": batch.created_at,
        "plan": batch_plans([batch])[batch.pk],
        "counts": batch_summary(runs),
        "runs": runs,
    }


class BatchListView(APIView):
    """GET: the caller's batches. POST: start a cohort extraction."""

    @extend_schema(
        operation_id="radiomics_batches",
        responses={200: BatchSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        batches = radiomics_batch_list(user=_user(request))
        shown = list(batches[:200])
        counts = batch_counts(shown)
        plans = batch_plans(shown)
        body = [
            {
                "public_id": b.public_id,
                "preset": b.preset,
                "settings_hash": b.settings_hash,
                "created_at": b.created_at,
                "plan": plans[b.pk],
                "counts": counts[b.pk],
            }
            for b in shown
        ]
        return Response(BatchSerializer(body, many=True).data)

    @extend_schema(
        operation_id="radiomics_batch_create",
        request=BatchRequestSerializer,
        responses={202: BatchDetailSerializer, **ERROR_RESPONSES},
        description=(
            "One run per (image series, mask) of the chosen patients that the caller may see, "
            "each its own job so that the batch fans out over the workers. A planning job "
            "creates the runs (`plan`); poll the batch. Inputs computed before are reused, not "
            "computed again. Oncologists, data managers and hospital systems."
        ),
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        data = BatchRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patients = batch_patients(user=user, patient_public_ids=data.validated_data.get("patients"))
        institution = user.institution
        if institution is None:  # batch_patients refuses this already; for the type checker
            raise exceptions.PermissionDenied("This account belongs to no institution.")
        batch = radiomics_batch_create(
            actor=user,
            institution=institution,
            patients=patients,
            preset=data.validated_data["preset"],
            modality=data.validated_data["modality"],
            mask_label=data.validated_data["mask_label"],
        )
        return Response(
            BatchDetailSerializer(_batch_body(batch, [])).data, status=status.HTTP_202_ACCEPTED
        )


class BatchDetailView(APIView):
    @extend_schema(
        operation_id="radiomics_batch",
        responses={200: BatchDetailSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request, batch_id: uuid.UUID) -> Response:
        batch, runs = radiomics_batch_get(user=_user(request), batch_public_id=batch_id)
        return Response(BatchDetailSerializer(_batch_body(batch, runs)).data)


class BatchCsvView(APIView):
    @extend_schema(
        operation_id="radiomics_batch_csv",
        responses={(200, "text/csv"): CSV_RESPONSE, **ERROR_RESPONSES},
    )
    def get(self, request: Request, batch_id: uuid.UUID) -> HttpResponse:
        batch, runs = radiomics_batch_get(
            user=_user(request), batch_public_id=batch_id, export=True
        )
        return _csv_response(radiomics_csv(runs), f"radiomics-batch-{batch.public_id}.csv")
