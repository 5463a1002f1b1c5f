"""The lung-screening API: start a batch over chest CTs, follow batches, the worklist (runs by
highest candidate score), one run with its findings, and a clinician's review of a finding.
Thin: access and audit are the selectors' and services' business (docs/screening.md)."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES
from core.models import User
from imaging.models import Finding, ScreeningBatch, ScreeningRun
from imaging.models_screening import FindingStatus, ScreeningStatus
from imaging.selectors_screening import (
    finding_get_for_review,
    run_findings,
    screening_batch_get,
    screening_batch_list,
    screening_patients,
    screening_run_get,
    worklist,
)
from imaging.services.screening import (
    ScreeningRequestError,
    batch_counts,
    pending_counts,
    ranking_note,
    run_error,
    run_progress,
    run_state,
    screening_batch_create,
)
from imaging.services.screening_review import DECISIONS, finding_review


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


class ScreeningProgressSerializer(serializers.Serializer):
    stage = serializers.CharField(help_text="volume, screening, saving or done.")
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class ScreeningLungsSerializer(serializers.Serializer):
    volumes_ml = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        required=False,
        help_text="left, right, total (ml).",
    )
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class ScreeningRunSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    patient_public_id = serializers.UUIDField(source="patient.public_id")
    research_id = serializers.CharField(source="patient.research_id")
    series_public_id = serializers.UUIDField(source="series.public_id")
    batch_public_id = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField(help_text="queued, running, done or failed.")
    progress = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    ranking = serializers.CharField(
        help_text='"classical" until the site has an active false-positive model, else its '
        '"<name> v<version>".'
    )
    ranking_note = serializers.SerializerMethodField()
    candidate_count = serializers.IntegerField()
    max_score = serializers.FloatField(allow_null=True)
    pending_review = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_batch_public_id(self, run: ScreeningRun) -> str | None:
        return str(run.batch.public_id) if run.batch is not None else None

    def get_status(self, run: ScreeningRun) -> str:
        return run_state(run)

    @extend_schema_field(ScreeningProgressSerializer(allow_null=True))
    def get_progress(self, run: ScreeningRun) -> dict[str, Any] | None:
        progress = run_progress(run)
        return ScreeningProgressSerializer(progress).data if progress else None

    def get_error(self, run: ScreeningRun) -> str:
        return run_error(run) if run_state(run) == "failed" else ""

    def get_ranking_note(self, run: ScreeningRun) -> str:
        return ranking_note(run)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_pending_review(self, run: ScreeningRun) -> int | None:
        counts = self.context.get("pending")
        return counts.get(run.pk) if counts is not None else None


class ScreeningFindingSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    rank = serializers.IntegerField(help_text="1 = highest score in the run.")
    score = serializers.FloatField(help_text="The ranking score the worklist orders by.")
    classical_score = serializers.FloatField()
    model_probability = serializers.FloatField(allow_null=True)
    centre_voxel = serializers.ListField(
        child=serializers.IntegerField(), help_text="[slice, row, column] on the series volume."
    )
    centre_mm = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="[x, y, z] LPS (mm)."
    )
    diameter_mm = serializers.FloatField()
    volume_ml = serializers.FloatField()
    mean_hu = serializers.FloatField()
    nodule_type = serializers.ChoiceField(choices=["solid", "part_solid", "ground_glass"])
    sphericity = serializers.FloatField(allow_null=True)
    pleura_distance_mm = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(choices=FindingStatus.values)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    mask_public_id = serializers.SerializerMethodField()

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_mask_public_id(self, finding: Finding) -> str | None:
        return str(finding.mask.public_id) if finding.mask is not None else None


class ScreeningRunDetailSerializer(ScreeningRunSerializer):
    lungs = serializers.SerializerMethodField()
    findings = serializers.SerializerMethodField()

    @extend_schema_field(ScreeningLungsSerializer)
    def get_lungs(self, run: ScreeningRun) -> dict[str, Any]:
        lungs = run.lungs or {}
        return {
            "volumes_ml": lungs.get("volumes_ml") or {},
            "warnings": [str(w) for w in lungs.get("warnings") or []],
        }

    @extend_schema_field(ScreeningFindingSerializer(many=True))
    def get_findings(self, run: ScreeningRun) -> list[Any]:
        return list(ScreeningFindingSerializer(run_findings(run), many=True).data)


class ScreeningBatchSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    settings_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="queued, running, done, failed, total."
    )


class ScreeningBatchDetailSerializer(ScreeningBatchSerializer):
    runs = ScreeningRunSerializer(many=True)


class ScreeningBatchCreatedSerializer(ScreeningBatchSerializer):
    queued = serializers.IntegerField(help_text="Series queued for screening by this request.")
    already_screened = serializers.IntegerField(
        help_text="Series screened before with the same images, settings and ranking."
    )
    not_chest = serializers.IntegerField(help_text="CT volumes the chest-CT rule left out.")


class ScreeningBatchCreateSerializer(serializers.Serializer):
    patients = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=5000,
        help_text="Patient public ids; left out: every patient visible to the caller.",
    )
    series = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=5000,
        help_text="Only these series (CT volumes of those patients); left out: every chest CT "
        "not yet screened with the current settings.",
    )


class ScreeningReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=sorted(DECISIONS))


def _counts(runs: list[ScreeningRun]) -> dict[str, int]:
    counts = dict.fromkeys(("queued", "running", "done", "failed"), 0)
    for run in runs:
        counts[run_state(run)] += 1
    return {**counts, "total": len(runs)}


class BatchListView(APIView):
    """GET: the batches of the caller's institution. POST: start a screening batch."""

    @extend_schema(
        operation_id="screening_batches",
        responses={200: ScreeningBatchSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        shown = list(screening_batch_list(user=_user(request))[:200])
        counts = batch_counts(shown)
        body = [
            {
                "public_id": b.public_id,
                "settings_hash": b.settings_hash,
                "created_at": b.created_at,
                "counts": counts[b.pk],
            }
            for b in shown
        ]
        return Response(ScreeningBatchSerializer(body, many=True).data)

    @extend_schema(
        operation_id="screening_batch_create",
        request=ScreeningBatchCreateSerializer,
        responses={202: ScreeningBatchCreatedSerializer, **ERROR_RESPONSES},
        description=(
            "Screen the chest CTs of the chosen (else all visible) patients: one run per series, "
            "each its own job, so the batch fans out over the workers. A series screened before "
            "with the same images, settings and ranking is not screened again; a failed one is. "
            "Oncologists, data managers and hospital systems."
        ),
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        data = ScreeningBatchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patients = screening_patients(
            user=user, patient_public_ids=data.validated_data.get("patients")
        )
        institution = user.institution
        if institution is None:  # screening_patients refuses this already
            raise exceptions.PermissionDenied("This account belongs to no institution.")
        try:
            result = screening_batch_create(
                actor=user,
                institution=institution,
                patients=patients,
                series_public_ids=data.validated_data.get("series"),
            )
        except ScreeningRequestError as exc:
            raise exceptions.ValidationError({"series": [str(exc)]}) from exc
        batch: ScreeningBatch = result.batch
        body = {
            "public_id": batch.public_id,
            "settings_hash": batch.settings_hash,
            "created_at": batch.created_at,
            "counts": _counts([*result.queued, *result.already]),
            "queued": len(result.queued),
            "already_screened": len(result.already),
            "not_chest": result.not_chest,
        }
        return Response(ScreeningBatchCreatedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class BatchDetailView(APIView):
    @extend_schema(
        operation_id="screening_batch",
        responses={200: ScreeningBatchDetailSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request, batch_id: uuid.UUID) -> Response:
        batch, runs = screening_batch_get(user=_user(request), batch_public_id=batch_id)
        body = {
            "public_id": batch.public_id,
            "settings_hash": batch.settings_hash,
            "created_at": batch.created_at,
            "counts": _counts(runs),
            "runs": runs,
        }
        context = {"pending": pending_counts(runs)}
        return Response(ScreeningBatchDetailSerializer(body, context=context).data)


class WorklistView(APIView):
    @extend_schema(
        operation_id="screening_worklist",
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=list(ScreeningStatus.values),
                required=False,
                description="Only runs whose stored status is this.",
            )
        ],
        responses={200: ScreeningRunSerializer(many=True), **ERROR_RESPONSES},
        description="Screened series of the patients the caller may see, highest candidate "
        "score first (at most 200).",
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in ScreeningStatus.values:
            raise exceptions.ValidationError({"status": ["Unknown status."]})
        runs = worklist(user=_user(request), status=wanted)
        context = {"pending": pending_counts(runs)}
        return Response(ScreeningRunSerializer(runs, many=True, context=context).data)


class RunDetailView(APIView):
    @extend_schema(
        operation_id="screening_run",
        responses={200: ScreeningRunDetailSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request, run_id: uuid.UUID) -> Response:
        run = screening_run_get(user=_user(request), run_public_id=run_id)
        context = {"pending": pending_counts([run])}
        return Response(ScreeningRunDetailSerializer(run, context=context).data)


class FindingReviewView(APIView):
    @extend_schema(
        operation_id="screening_finding_review",
        request=ScreeningReviewSerializer,
        responses={200: ScreeningFindingSerializer, **ERROR_RESPONSES},
        description=(
            "Confirm or reject a finding. Confirming stores its voxels as a mask of kind "
            '"screening" on the series (radiomics then measures it); rejecting a confirmed '
            "finding deletes that mask. Clinicians, oncologists and data managers of the "
            "patient's care team; hospital systems may not review."
        ),
    )
    def post(self, request: Request, finding_id: uuid.UUID) -> Response:
        user = _user(request)
        finding = finding_get_for_review(user=user, finding_public_id=finding_id)
        data = ScreeningReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = finding_review(
                actor=user, finding=finding, decision=data.validated_data["decision"]
            )
        except ScreeningRequestError as exc:
            raise exceptions.ValidationError({"decision": [str(exc)]}) from exc
        return Response(ScreeningFindingSerializer(result.finding).data)
