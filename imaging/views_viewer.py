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

import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from pydicom.dataset import Dataset

from core.audit import audit_record
from core.jobs import job_enqueue, register_job_kind
from core.models import AuditAction, Job, User
from imaging import viewer
from imaging.dicom import (
    MaskError,
    Volume,
    VolumeAssemblyError,
    rtstruct_roi_names,
    rtstruct_to_mask,
    seg_to_mask,
    volume_from_datasets,
)
from imaging.models import Instance, Series
from oncology.models import Patient
from oncology.selectors import patient_get
from oncology.views import person_required

AUDIT_OBJECT = "dicom_series"
VIEWING_WINDOW_SECONDS = 30 * 60
_SESSION_KEY = "imaging.viewing"
# A 300-slice 512 x 512 CT assembles from storage in about 1.0-1.6 s: up to this many
# instances the metadata request assembles inline (< 2 s); larger series go to a job.
INLINE_ASSEMBLY_MAX_INSTANCES = 300
PREPARE_JOB_KIND = "imaging_volume_prepare"
MASK_MODALITIES = ("RTSTRUCT", "SEG")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def cache_dir() -> Path:
    configured = getattr(settings, "IMAGING_CACHE_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "cache" / "imaging"


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


# --- volumes and masks from storage ------------------------------------------------------


def _read(instance: Instance, *, pixels: bool = True) -> Dataset:
    with default_storage.open(instance.storage_name, "rb") as handle:
        return pydicom.dcmread(handle, stop_before_pixels=not pixels)


def _volume_key(series: Series) -> str:
    return viewer.volume_cache_key(series.instances.values_list("sha256", flat=True))


def series_volume(series: Series) -> Volume:
    """The series' volume from the caches, assembling (and caching) it when needed."""

    def assemble() -> Volume:
        return volume_from_datasets(_read(i) for i in series.instances.all())

    return viewer.cached_volume(cache_dir(), _volume_key(series), assemble)


@register_job_kind(PREPARE_JOB_KIND)
def _prepare_volume_job(job: Job) -> dict[str, Any]:
    """Assemble a large series into the disk cache ahead of the viewer's requests."""
    from core.jobs import JobError

    series = Series.objects.get(pk=job.payload["series_id"])
    try:
        volume = series_volume(series)
    except VolumeAssemblyError as exc:
        raise JobError(str(exc)) from exc
    return {"count": volume.shape[0]}


@dataclass(frozen=True)
class MaskSource:
    id: str  # opaque: a hash of the source file and the ROI, never the ROI name
    label: str
    instance: Instance
    roi: str
    modality: str


def _references_series(ds: Dataset, series: Series) -> bool:
    uids: set[str] = set()
    for ref in getattr(ds, "ReferencedFrameOfReferenceSequence", []):
        for study in getattr(ref, "RTReferencedStudySequence", []):
            for s in getattr(study, "RTReferencedSeriesSequence", []):
                uids.add(str(getattr(s, "SeriesInstanceUID", "")))
    for s in getattr(ds, "ReferencedSeriesSequence", []):  # SEG
        uids.add(str(getattr(s, "SeriesInstanceUID", "")))
    if uids:
        return series.series_instance_uid in uids
    frame = str(getattr(ds, "FrameOfReferenceUID", ""))
    return bool(frame) and frame == series.frame_of_reference_uid


_ROI_NAMES = viewer.LruCache(max_items=64)


def _roi_names(instance: Instance, series: Series) -> tuple[str, list[str]]:
    """(modality, ROI names) of an RTSTRUCT/SEG instance that references `series`."""
    cached = _ROI_NAMES.get(f"{instance.sha256}:{series.series_instance_uid}")
    if cached is not None:
        return cached
    ds = _read(instance, pixels=False)
    modality, names = str(getattr(ds, "Modality", "")), []
    if _references_series(ds, series):
        if modality == "RTSTRUCT":
            names = rtstruct_roi_names(ds)
        elif modality == "SEG":
            names = [str(s.SegmentLabel) for s in getattr(ds, "SegmentSequence", [])]
    result = (modality, names)
    _ROI_NAMES.put(f"{instance.sha256}:{series.series_instance_uid}", result)
    return result


def series_masks(series: Series) -> list[MaskSource]:
    """Masks for `series`: ROIs of the RTSTRUCT and SEG objects of the same study that
    reference it (by series, or by frame of reference when they name no series)."""
    sources = []
    instances = Instance.objects.filter(
        series__study=series.study, series__modality__in=MASK_MODALITIES
    ).order_by("id")
    for instance in instances:
        modality, names = _roi_names(instance, series)
        for roi in names:
            mask_id = hashlib.sha256(f"{instance.sha256}\0{roi}".encode()).hexdigest()[:20]
            sources.append(MaskSource(mask_id, roi, instance, roi, modality))
    return sources


def _mask_source(series: Series, mask_id: str) -> tuple[int, MaskSource]:
    for number, source in enumerate(series_masks(series)):
        if source.id == mask_id:
            return number, source
    raise Http404("No such mask")


def source_mask(volume_key: str, volume: Volume, source: MaskSource) -> np.ndarray:
    def rasterise() -> np.ndarray:
        ds = _read(source.instance)
        if source.modality == "SEG":
            return seg_to_mask(ds, volume, source.roi)
        return rtstruct_to_mask(ds, volume, source.roi)

    key = viewer.mask_cache_key(volume_key, source.instance.sha256, source.roi)
    return viewer.cached_mask(cache_dir(), key, rasterise)


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
    key = _volume_key(series)
    if (
        not viewer.is_volume_cached(cache_dir(), key)
        and series.instance_count > INLINE_ASSEMBLY_MAX_INSTANCES
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
    masks = [
        {"id": s.id, "label": s.label, "colour": viewer.MASK_COLOURS[n % len(viewer.MASK_COLOURS)]}
        for n, s in enumerate(series_masks(series))
    ]
    return JsonResponse({"status": "ready", **viewer.volume_metadata(volume), "masks": masks})


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


def _volume_and_mask(series: Series, mask_id: str) -> tuple[Volume, np.ndarray, int]:
    number, source = _mask_source(series, mask_id)
    try:
        volume = series_volume(series)
        return volume, source_mask(_volume_key(series), volume, source), number
    except (VolumeAssemblyError, MaskError) as exc:
        raise Http404("Mask cannot be placed on this series") from exc


@person_required
@require_GET
def viewer_mask(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, mask_id: str
) -> HttpResponse:
    _, series = _series_for_image(request, public_id, series_id, "json")
    volume, mask, _ = _volume_and_mask(series, mask_id)
    return JsonResponse({"id": mask_id, "measurement": viewer.mask_measurement_json(volume, mask)})


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
