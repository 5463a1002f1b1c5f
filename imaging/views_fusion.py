"""The viewer's fused display (docs/imaging.md, "Fused display"): which series can be fused,
the registration's state, and the colour-mapped overlay slices (imaging/fusion.py).

Access and audit as the viewer's other image requests (imaging/views_viewer.py): the patient
comes from `oncology.selectors.patient_get` (care team, 404 otherwise), and both series must be
that patient's (404 otherwise, so another patient's series id reveals nothing). A request
outside an open viewing window writes a VIEW event per series it shows, the moving series
included.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from core.jobs import job_enqueue
from core.models import JobStatus
from imaging import fusion, viewer_series
from imaging.models import Series
from imaging.views_viewer import (
    _audit_series_view,
    _axis_index,
    _float_param,
    _series_for_image,
    _series_of,
    _user,
    _viewing_open,
)
from oncology.selectors import patient_get
from oncology.views import person_required


def _fusion_pair(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, moving_id: uuid.UUID
) -> tuple[Series, Series, str]:
    """(fixed, moving, registration) after the access checks and the parameter checks, then
    the audit of both series (outside an open viewing): a refused request writes nothing."""
    patient = patient_get(user=_user(request), public_id=public_id, audit_action=None)
    fixed, moving = _series_of(patient, series_id), _series_of(patient, moving_id)
    masks = viewer_series.MASK_MODALITIES
    if moving.pk == fixed.pk or fixed.modality in masks or moving.modality in masks:
        raise Http404("No such series to fuse")
    registration = request.GET.get("registration") or fusion.default_registration(fixed, moving)
    if registration not in fusion.REGISTRATIONS:
        raise Http404("No such registration")
    colour_map = request.GET.get("cmap")
    if colour_map is not None and colour_map not in fusion.COLOUR_MAPS:
        raise Http404("No such colour map")
    for series in (fixed, moving):
        if not _viewing_open(request, series):
            _audit_series_view(request, patient, series, "fusion")
    return fixed, moving, registration


@person_required
@require_GET
def fusion_candidates(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID
) -> HttpResponse:
    """The series the viewer's "Fuse with" list offers, best candidates first."""
    _, series = _series_for_image(request, public_id, series_id, "json")
    candidates = [
        {
            "id": str(other.public_id),
            "modality": other.modality,
            "description": other.description,
            "study_date": other.study.study_date.isoformat() if other.study.study_date else "",
            "same_frame_of_reference": bool(series.frame_of_reference_uid)
            and other.frame_of_reference_uid == series.frame_of_reference_uid,
            "same_study": other.study_id == series.study_id,
            "registration": fusion.default_registration(series, other),
            "colour_map": fusion.default_colour_map(other.modality),
        }
        for other in fusion.fusion_candidates(series)
    ]
    return JsonResponse(
        {
            "candidates": candidates,
            "colour_maps": sorted(fusion.COLOUR_MAPS),
            "registrations": list(fusion.REGISTRATIONS),
        }
    )


def _ready_json(report: fusion.FusionReport) -> dict[str, object]:
    return {
        "status": "ready",
        "registration": report.registration,
        "modality": report.moving_modality,
        "window": {"center": report.window[0], "width": report.window[1]},
        "rotation_deg": [round(v, 2) for v in report.rotation_deg],
        "translation_mm": [round(v, 2) for v in report.translation_mm],
        "max_displacement_mm": round(report.max_displacement_mm, 2),
    }


@person_required
@require_GET
def fusion_status(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, moving_id: uuid.UUID
) -> HttpResponse:
    """Ready (with the registration found), registering (202: a job runs), or an error (422).
    "scanner" placement is quick and made inline; "rigid" registration goes to a job."""
    fixed, moving, registration = _fusion_pair(request, public_id, series_id, moving_id)
    try:
        key = fusion.series_fusion_key(fixed, moving, registration)
        cached = fusion.fused_cached(key)
        if cached is not None:
            return JsonResponse(_ready_json(cached[1]))
        if registration == "rigid":
            job = job_enqueue(
                kind=fusion.FUSION_JOB_KIND,
                payload={
                    "fixed_series_id": fixed.pk,
                    "moving_series_id": moving.pk,
                    "registration": registration,
                },
                idempotency_key=f"{fusion.FUSION_JOB_KIND}:{key}",
                created_by=_user(request),
            )
            if job.status == JobStatus.FAILED:
                return JsonResponse({"status": "error", "error": job.error}, status=422)
            if job.status != JobStatus.SUCCEEDED:
                return JsonResponse({"status": "registering"}, status=202)
            # Succeeded earlier but the cache was cleared since: make it again here.
        _, report = fusion.fusion_make(fixed, moving, registration)
    except fusion.FusionError as exc:
        return JsonResponse({"status": "error", "error": str(exc)}, status=422)
    return JsonResponse(_ready_json(report))


@person_required
@require_GET
def fusion_slice(
    request: HttpRequest,
    public_id: uuid.UUID,
    series_id: uuid.UUID,
    moving_id: uuid.UUID,
    axis: str,
    index: int,
) -> HttpResponse:
    """The overlay for the fixed series' slice `axis`/`index`: an RGBA PNG of the same size.
    A rigid registration must be ready first (404 until then: the page asks `fusion_status`);
    scanner placement is made here when needed."""
    fixed, moving, registration = _fusion_pair(request, public_id, series_id, moving_id)
    try:
        key = fusion.series_fusion_key(fixed, moving, registration)
    except fusion.FusionError as exc:
        raise Http404("No such fusion") from exc
    cached = fusion.fused_cached(key)
    if cached is None and registration == "scanner":  # quick: no registration to wait for
        try:
            cached = fusion.fusion_make(fixed, moving, registration)
        except fusion.FusionError as exc:
            raise Http404("These series cannot be fused") from exc
    if cached is None:
        raise Http404("The registration is not ready")
    fused, report = cached
    _axis_index(fused, axis, index)
    center = _float_param(request, "wc", report.window[0])
    width = max(1.0, _float_param(request, "ww", report.window[1]))
    colour_map = request.GET.get("cmap") or fusion.default_colour_map(report.moving_modality)
    png = fusion.render_fused_png(fused, axis, index, center, width, colour_map)
    return HttpResponse(png, content_type="image/png")
