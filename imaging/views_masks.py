"""The viewer's mask writes and downloads: NIfTI import, seed segmentation, drawing, delete,
export as DICOM SEG or NIfTI (docs/imaging.md, "Stored masks").

Access: like the viewer's reads, every request asks `oncology.selectors` for the patient in the
URL (care team, 404 otherwise), and writes also need a role that may change the record (403).
The series must be that patient's; a mask id must be one the viewer lists for that series.
Audit: the service records the one event of each request (CREATE, UPDATE, DELETE, EXPORT on
object type "dicom_mask"). Writes are POST with the CSRF token; they answer JSON, and an input
the service refuses is a 422 with a message that names the problem and no patient data.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from core.audit import audit_record
from core.models import AuditAction, User
from imaging import viewer_series
from imaging.dicom import MaskError, VolumeAssemblyError
from imaging.dicom.measure import measure_mask, measurement_change
from imaging.models import Series
from imaging.services import masks as mask_services
from imaging.services.masks import MaskInputError, SeedParameters
from imaging.views_viewer import (
    _audit_series_view,
    _series_for_image,
    _series_of,
    _viewing_open,
    mask_source,
)
from oncology.models import Patient
from oncology.selectors import patient_get, patient_get_for_write
from oncology.views import person_required

# A JSON body of edited slices: 2,000 run-length slices of 512 x 512 stay well under this.
MAX_JSON_BYTES = 20 * 1024 * 1024
_CONTENT_TYPES = {"seg": "application/dicom", "nifti": "application/gzip"}
_SUFFIXES = {"seg": "dcm", "nifti": "nii.gz"}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _refused(message: str, status: int = 422) -> JsonResponse:
    return JsonResponse({"status": "error", "error": message}, status=status)


def _writable_series(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID
) -> tuple[Patient, Series]:
    patient = patient_get_for_write(user=_user(request), public_id=public_id)
    return patient, _series_of(patient, series_id)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_JSON_BYTES:
        raise MaskInputError("the request is too large")
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MaskInputError("the request body is not JSON") from exc
    if not isinstance(body, dict):
        raise MaskInputError("the request body must be a JSON object")
    return body


def _created(mask: Any, status: int = 201) -> JsonResponse:
    return JsonResponse(
        {
            "status": "ok",
            "mask": {
                "id": mask.public_id.hex,
                "label": mask.label,
                "kind": mask.kind,
                "edited": mask.edited,
                "voxel_count": mask.voxel_count,
                "touches_window": bool(mask.parameters.get("touches_window")),
            },
        },
        status=status,
    )


def _number(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MaskInputError(f"{key} must be a number")
    return float(value)


@person_required
@require_POST
def mask_import_nifti(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID
) -> HttpResponse:
    patient, series = _writable_series(request, public_id, series_id)
    upload = request.FILES.get("file")
    if upload is None:
        return _refused("choose a NIfTI file (.nii or .nii.gz)")
    if upload.size is not None and upload.size > mask_services.max_nifti_bytes():
        limit = mask_services.max_nifti_bytes() // 1024**2
        return _refused(f"the NIfTI file is larger than the limit of {limit} MB")
    try:
        mask = mask_services.mask_create_from_nifti(
            actor=_user(request),
            patient=patient,
            series=series,
            data=upload.read(),
            filename=upload.name or "",
            label=request.POST.get("label", ""),
        )
    except MaskInputError as exc:
        return _refused(str(exc))
    except VolumeAssemblyError as exc:
        return _refused(str(exc))
    return _created(mask)


@person_required
@require_POST
def mask_seed(request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID) -> HttpResponse:
    patient, series = _writable_series(request, public_id, series_id)
    try:
        body = _json_body(request)
        seed = body.get("seed")
        if (
            not isinstance(seed, list)
            or len(seed) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in seed)
        ):
            raise MaskInputError("seed must be three voxel indices [z, y, x]")
        parameters = SeedParameters(
            seed_zyx=(seed[0], seed[1], seed[2]),
            low=_number(body, "low", None),
            high=_number(body, "high", None),
            window_mm=_number(body, "window_mm", 60.0) or 0.0,
            opening_mm=_number(body, "opening_mm", 0.0) or 0.0,
        )
        mask = mask_services.mask_create_from_seed(
            actor=_user(request),
            patient=patient,
            series=series,
            parameters=parameters,
            label=str(body.get("label", "")),
        )
    except (MaskInputError, VolumeAssemblyError) as exc:
        return _refused(str(exc))
    return _created(mask)


@person_required
@require_POST
def mask_draw(request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID) -> HttpResponse:
    """Body: {"mask": viewer mask id or "", "label": "", "slices": [{"z": k, "runs": [...]}]}.
    A stored mask is edited in place (a new version); any other id (an RTSTRUCT/SEG ROI) or
    none starts a new drawn mask from that mask's voxels or from nothing."""
    patient, series = _writable_series(request, public_id, series_id)
    try:
        body = _json_body(request)
        volume = viewer_series.series_volume(series)
        slices = mask_services.decode_slices(body.get("slices"), volume.shape)
        mask_id = str(body.get("mask") or "")
        stored, start_from = None, None
        if mask_id:
            _, source = mask_source(series, mask_id)
            stored = source.stored
            if stored is None:
                key = viewer_series.volume_key(series)
                start_from = viewer_series.source_mask(key, volume, source)
        mask = mask_services.mask_save_drawing(
            actor=_user(request),
            patient=patient,
            series=series,
            slices=slices,
            mask=stored,
            start_from=start_from,
            label=str(body.get("label", "")),
            based_on=mask_id if stored is None else "",
        )
    except (MaskInputError, VolumeAssemblyError) as exc:
        return _refused(str(exc))
    except MaskError as exc:
        return _refused(str(exc))
    return _created(mask, status=200 if stored is not None else 201)


@person_required
@require_POST
def mask_delete(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, mask_id: str
) -> HttpResponse:
    patient, series = _writable_series(request, public_id, series_id)
    _, source = mask_source(series, mask_id)
    if source.stored is None:
        return _refused("only stored masks can be deleted here; a DICOM object is kept")
    mask_services.mask_delete(actor=_user(request), patient=patient, mask=source.stored)
    return JsonResponse({"status": "ok"})


@person_required
@require_GET
def mask_export(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID, mask_id: str, fmt: str
) -> HttpResponse:
    if fmt not in _CONTENT_TYPES:
        raise Http404("No such format")
    patient = patient_get(user=_user(request), public_id=public_id, audit_action=None)
    series = _series_of(patient, series_id)
    _, source = mask_source(series, mask_id)
    try:
        data = mask_services.mask_export(
            actor=_user(request), patient=patient, series=series, source=source, fmt=fmt
        )
    except (MaskInputError, VolumeAssemblyError) as exc:
        return _refused(str(exc))
    response = HttpResponse(data, content_type=_CONTENT_TYPES[fmt])
    # The file name is the opaque id: a label may hold anything a reader typed.
    response["Content-Disposition"] = f'attachment; filename="mask-{mask_id}.{_SUFFIXES[fmt]}"'
    return response


# --- change across studies -------------------------------------------------------------------


@person_required
@require_GET
def mask_compare_options(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID
) -> HttpResponse:
    """The masks of the patient's other image series, to compare this series' mask with.
    One LIST event names how many were offered (the labels are the patient's data)."""
    patient, series = _series_for_image(request, public_id, series_id, "json")
    others = (
        Series.objects.filter(study__patient=patient)
        .exclude(pk=series.pk)
        .exclude(modality__in=viewer_series.MASK_MODALITIES)
        .select_related("study")
        .order_by("study__study_date", "id")
    )
    options = []
    for other in others:
        date = other.study.study_date.isoformat() if other.study.study_date else "undated"
        for source in viewer_series.series_masks(other):
            options.append(
                {
                    "series": str(other.public_id),
                    "mask": source.id,
                    "label": f"{date} · {other.modality} · {source.label} ({source.kind})",
                }
            )
    audit_record(
        actor=_user(request),
        action=AuditAction.LIST,
        object_type=mask_services.AUDIT_OBJECT,
        object_id=series.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"count": len(options)},
    )
    return JsonResponse({"options": options})


def _measured(series: Series, mask_id: str) -> Any:
    _, source = mask_source(series, mask_id)
    try:
        volume = viewer_series.series_volume(series)
        voxels = viewer_series.source_mask(viewer_series.volume_key(series), volume, source)
        return measure_mask(volume, voxels)
    except (MaskError, VolumeAssemblyError, ValueError) as exc:  # ValueError: an empty mask
        raise MaskInputError(f"a mask cannot be measured: {exc}") from exc


def _measurement_json(m: Any) -> dict[str, float]:
    return {
        "volume_ml": round(m.volume_ml, 3),
        "longest_diameter_mm": round(m.longest_diameter_mm, 2),
        "perpendicular_diameter_mm": round(m.perpendicular_diameter_mm, 2),
    }


@person_required
@require_GET
def mask_change(
    request: HttpRequest,
    public_id: uuid.UUID,
    series_id: uuid.UUID,
    mask_id: str,
    other_series_id: uuid.UUID,
    other_mask_id: str,
) -> HttpResponse:
    """This mask's measurement against a mask of another series of the patient (e.g. the
    baseline study): change = this one minus the other (`measurement_change`)."""
    patient, series = _series_for_image(request, public_id, series_id, "json")
    other = _series_of(patient, other_series_id)
    if not _viewing_open(request, other):
        _audit_series_view(request, patient, other, "json")
    try:
        current, earlier = _measured(series, mask_id), _measured(other, other_mask_id)
    except MaskInputError as exc:
        return _refused(str(exc))
    change = measurement_change(earlier, current)

    def number(value: float, digits: int = 2) -> float | None:
        return None if math.isnan(value) else round(value, digits)  # NaN: a zero baseline

    return JsonResponse(
        {
            "this": _measurement_json(current),
            "other": _measurement_json(earlier),
            "change": {
                "diameter_mm": number(change.diameter_change_mm),
                "diameter_percent": number(change.diameter_change_percent),
                "volume_ml": number(change.volume_change_ml, 3),
                "volume_percent": number(change.volume_change_percent),
            },
        }
    )
