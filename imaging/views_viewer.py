"""The series viewer: the page, its metadata, slice and mask images (docs/imaging.md, "Viewer").

Access: every request asks `oncology.selectors.patient_get` for the patient in the URL (care
team, 404 otherwise) and then finds the series among that patient's studies; ids in URLs are
public uuids and opaque mask ids.

Audit: opening the viewer page writes one VIEW event on the series (object_type
"dicom_series") and opens a viewing window in the reader's session. The image requests the page
makes (metadata, every slice, every mask) belong to that viewing: they are access-checked each
time but write no event while the window is open (VIEWING_WINDOW_SECONDS). A request outside
any open window (a direct fetch, or after the window lapsed) writes one VIEW event itself and
opens a window. So every read is covered by exactly one event naming who saw which series and
when, without a scroll through 300 slices flooding the trail with 300 events.
"""

from __future__ import annotations

import time
import uuid

import numpy as np
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.audit import audit_record
from core.jobs import job_enqueue
from core.models import AuditAction, User
from imaging import viewer, viewer_series
from imaging.dicom import MaskError, Volume, VolumeAssemblyError
from imaging.models import Series
from imaging.viewer_series import MASK_MODALITIES, PREPARE_JOB_KIND, series_masks, series_volume
from oncology.models import Patient
from oncology.selectors import patient_get
from oncology.views import person_required

AUDIT_OBJECT = "dicom_series"
VIEWING_WINDOW_SECONDS = 30 * 60
_SESSION_KEY = "imaging.viewing"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --- access and audit --------------------------------------------------------------------


def _series_of(patient: Patient, series_id: uuid.UUID) -> Series:
    try:
        return Series.objects.select_related("study").get(
            public_id=series_id, study__patient=patient
        )
    except Series.DoesNotExist as exc:
        raise Http404("No such series") from exc


def _audit_series_view(request: HttpRequest, patient: Patient, series: Series, what: str) -> None:
    audit_record(
        actor=_user(request),
        action=AuditAction.VIEW,
        object_type=AUDIT_OBJECT,
        object_id=series.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"format": what},
    )
    viewing = dict(request.session.get(_SESSION_KEY, {}))
    now = time.time()
    viewing = {k: t for k, t in viewing.items() if now - t < VIEWING_WINDOW_SECONDS}
    viewing[series.public_id.hex] = now
    request.session[_SESSION_KEY] = viewing


def _viewing_open(request: HttpRequest, series: Series) -> bool:
    opened = request.session.get(_SESSION_KEY, {}).get(series.public_id.hex)
    return opened is not None and time.time() - opened < VIEWING_WINDOW_SECONDS


def _series_for_image(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, what: str
) -> tuple[Patient, Series]:
    """Access check for the page's image requests; audits only outside an open viewing."""
    patient = patient_get(user=_user(request), public_id=public_id, audit_action=None)
    series = _series_of(patient, series_id)
    if not _viewing_open(request, series):
        _audit_series_view(request, patient, series, what)
    return patient, series


# --- views -------------------------------------------------------------------------------


@person_required
@require_GET
def viewer_page(request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID) -> HttpResponse:
    patient = patient_get(user=_user(request), public_id=public_id, audit_action=None)
    series = _series_of(patient, series_id)
    _audit_series_view(request, patient, series, "viewer")
    # Each request saves the session (SESSION_SAVE_EVERY_REQUEST) and SQLite serialises
    # writers: there the page loads one image at a time, elsewhere four.
    concurrency = 1 if connection.vendor == "sqlite" else 4
    context = {"patient": patient, "series": series, "study": series.study}
    return render(request, "imaging/viewer.html", {**context, "concurrency": concurrency})


@person_required
@require_GET
def viewer_metadata(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID
) -> HttpResponse:
    _, series = _series_for_image(request, public_id, series_id, "json")
    if series.modality in MASK_MODALITIES:
        return JsonResponse({"status": "error", "error": "not an image series"}, status=422)
    key = viewer_series.volume_key(series)
    if (
        not viewer.is_volume_cached(viewer_series.cache_dir(), key)
        and series.instance_count > viewer_series.INLINE_ASSEMBLY_MAX_INSTANCES
    ):
        job = job_enqueue(
            kind=PREPARE_JOB_KIND,
            payload={"series_id": series.pk},
            idempotency_key=f"{PREPARE_JOB_KIND}:{key}",
            created_by=_user(request),
        )
        if job.status == "failed":
            return JsonResponse({"status": "error", "error": job.error}, status=422)
        return JsonResponse({"status": "preparing"}, status=202)
    try:
        volume = series_volume(series)
    except VolumeAssemblyError as exc:  # says what is wrong with the geometry, no values
        return JsonResponse({"status": "error", "error": str(exc)}, status=422)
    masks = [_mask_json(n, s) for n, s in enumerate(series_masks(series))]
    return JsonResponse(
        {
            "status": "ready",
            **viewer.volume_metadata(volume),
            "masks": masks,
            "can_edit_masks": _user(request).can_edit_record,
        }
    )


@person_required
@require_GET
def viewer_preview(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID
) -> HttpResponse:
    """The middle axial slice drawn from its own instance file, which the page shows while the
    metadata request assembles the volume (or waits for the prepare job): the first image is on
    screen in tens of milliseconds even for a series nobody has opened yet. 404 where there is
    no such slice (multi-frame objects, missing positions); the page then waits for the volume."""
    _, series = _series_for_image(request, public_id, series_id, "png")
    instance = viewer_series.middle_instance(series)
    if instance is None:
        raise Http404("No preview for this series")
    try:
        return _png(viewer_series.preview_png(instance))
    except VolumeAssemblyError as exc:
        raise Http404("No preview for this series") from exc


def _mask_json(number: int, source: viewer_series.MaskSource) -> dict[str, object]:
    stored = source.stored
    return {
        "id": source.id,
        "label": source.label,
        "colour": viewer.MASK_COLOURS[number % len(viewer.MASK_COLOURS)],
        "kind": source.kind,
        "stored": stored is not None,
        "edited": bool(stored and stored.edited),
        # Changes with every edit: the browser adds it to the mask's image URLs.
        "version": stored.sha256[:16] if stored else "",
        "review": bool(stored and stored.parameters.get("touches_window")),
    }


def _axis_index(volume: Volume, axis: str, index: int) -> None:
    if axis not in viewer.AXES or not 0 <= index < viewer.axis_length(volume, axis):
        raise Http404("No such slice")


def _float_param(request: HttpRequest, name: str, default: float) -> float:
    try:
        value = float(request.GET.get(name, default))
    except ValueError as exc:
        raise Http404(f"bad {name}") from exc
    if not np.isfinite(value):
        raise Http404(f"bad {name}")
    return value


def _png(content: bytes) -> HttpResponse:
    return HttpResponse(content, content_type="image/png")


@person_required
@require_GET
def viewer_slice(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, axis: str, index: int
) -> HttpResponse:
    _, series = _series_for_image(request, public_id, series_id, "png")
    try:
        volume = series_volume(series)
    except VolumeAssemblyError as exc:
        raise Http404("Series cannot be shown as a volume") from exc
    _axis_index(volume, axis, index)
    center, width = viewer.default_window(volume)
    center = _float_param(request, "wc", center)
    width = max(1.0, _float_param(request, "ww", width))
    return _png(viewer.render_slice_png(volume, axis, index, center, width))


def mask_source(series: Series, mask_id: str) -> tuple[int, viewer_series.MaskSource]:
    for number, source in enumerate(series_masks(series)):
        if source.id == mask_id:
            return number, source
    raise Http404("No such mask")


def _volume_and_mask(series: Series, mask_id: str) -> tuple[Volume, np.ndarray, int]:
    number, source = mask_source(series, mask_id)
    try:
        volume = series_volume(series)
        key = viewer_series.volume_key(series)
        return volume, viewer_series.source_mask(key, volume, source), number
    except (VolumeAssemblyError, MaskError) as exc:
        raise Http404("Mask cannot be placed on this series") from exc


@person_required
@require_GET
def viewer_mask(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, mask_id: str
) -> HttpResponse:
    _, series = _series_for_image(request, public_id, series_id, "json")
    volume, mask, _ = _volume_and_mask(series, mask_id)
    _, source = mask_source(series, mask_id)
    return JsonResponse(
        {
            "id": mask_id,
            "kind": source.kind,
            "measurement": viewer.mask_measurement_json(volume, mask),
        }
    )


@person_required
@require_GET
def viewer_mask_slice(
    request: HttpRequest,
    public_id: uuid.UUID,
    series_id: uuid.UUID,
    mask_id: str,
    axis: str,
    index: int,
) -> HttpResponse:
    _, series = _series_for_image(request, public_id, series_id, "png")
    volume, mask, number = _volume_and_mask(series, mask_id)
    _axis_index(volume, axis, index)
    colour = viewer.MASK_COLOURS[number % len(viewer.MASK_COLOURS)]
    return _png(viewer.render_mask_png(volume, mask, axis, index, colour))
