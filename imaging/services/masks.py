"""Stored masks of a series: NIfTI import, seed-point segmentation, drawing, delete and export.

RTSTRUCT and SEG masks are read from their instances (imaging.viewer_series); the masks here are
`imaging.models.Mask` rows whose voxels (a boolean array of the series volume's shape) live in
default storage as ``imaging/masks/<institution id>/<uuid>.npz`` (bit-packed, compressed; no PHI
in the name). `Mask.sha256` is of the voxels (`voxels_sha256`), so every edit is new content and
a radiomics result can name exactly the mask it measured.

Atomicity: the file is written first, then the row and its audit event in one savepoint; any
error deletes the new file, so nothing is stored. A replaced or deleted mask's old file is
deleted only once the transaction commits, so a rollback never leaves a row without its file.

Callers (views) check access; every write here records one audit event (object type
"dicom_mask", the mask's public id, no values): CREATE, UPDATE, DELETE, and EXPORT for
downloads.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from core.audit import audit_record
from core.models import AuditAction, User
from imaging import viewer_series
from imaging.dicom import MaskError, Volume, mask_to_seg, nifti_to_mask
from imaging.dicom.segment import SegmentationError, segment_from_seed
from imaging.models import Mask, MaskKind, Series
from imaging.viewer import voxels_bytes, voxels_sha256
from imaging.viewer_series import mask_on_volume
from oncology.models import Patient

AUDIT_OBJECT = "dicom_mask"
STORAGE_DIR = "imaging/masks"
MAX_LABEL_LENGTH = 64
# The viewer's brush works on one axial slice at a time; a save carries at most this many.
MAX_EDITED_SLICES = 2_000


class MaskInputError(ValueError):
    """The request cannot give a mask; the message says why and contains no patient data."""


def max_nifti_bytes() -> int:
    return int(settings.IMAGING_MAX_MASK_UPLOAD_BYTES)


def mask_voxels(mask: Mask) -> np.ndarray:
    """A stored mask's voxels (bool, the volume's shape; read-only, cached by content)."""
    return viewer_series.stored_mask_voxels(mask)


# --- shared write path ---------------------------------------------------------------------


def _clean_label(label: str, default: str) -> str:
    label = " ".join((label or "").split())[:MAX_LABEL_LENGTH]
    return label or default


def _volume(series: Series) -> tuple[str, Volume]:
    if series.modality in viewer_series.MASK_MODALITIES:
        raise MaskInputError("masks are made on image series, not on a structure set or SEG")
    return viewer_series.volume_key(series), viewer_series.series_volume(series)


def _audit(actor: User | None, action: str, patient: Patient, mask: Mask, fmt: str) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=AUDIT_OBJECT,
        object_id=mask.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"format": fmt},
    )


def _check_patient(patient: Patient, series: Series) -> None:
    if series.study.patient_id != patient.pk:
        raise MaskInputError("the series is not this patient's")


def _save_voxels(patient: Patient, voxels: np.ndarray) -> str:
    name = f"{STORAGE_DIR}/{patient.institution_id}/{uuid.uuid4().hex}.npz"
    return default_storage.save(name, ContentFile(voxels_bytes(voxels)))


def _delete_after_commit(storage_name: str) -> None:
    transaction.on_commit(lambda: default_storage.delete(storage_name))


def _queue_radiomics(series: Series, actor: User | None) -> None:
    # DESIGN: a mask that arrives or is drawn gets its radiomics job in the same transaction.
    from imaging.services.radiomics import radiomics_after_mask_change

    radiomics_after_mask_change(series=series, actor=actor)


def _store_new(
    *,
    actor: User | None,
    patient: Patient,
    series: Series,
    volume_key: str,
    voxels: np.ndarray,
    kind: str,
    label: str,
    parameters: Mapping[str, Any],
) -> Mask:
    if not voxels.any():
        raise MaskInputError("the mask is empty: nothing to store")
    storage_name = _save_voxels(patient, voxels)
    try:
        with transaction.atomic():
            mask = Mask.objects.create(
                series=series,
                label=label,
                kind=kind,
                storage_name=storage_name,
                sha256=voxels_sha256(voxels),
                volume_key=volume_key,
                voxel_count=int(voxels.sum()),
                parameters=dict(parameters),
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            _audit(actor, AuditAction.CREATE, patient, mask, kind)
            _queue_radiomics(series, actor)
        return mask
    except BaseException:
        default_storage.delete(storage_name)
        raise


# --- create ---------------------------------------------------------------------------------


def mask_create_from_nifti(
    *,
    actor: User | None,
    patient: Patient,
    series: Series,
    data: bytes,
    filename: str,
    label: str = "",
) -> Mask:
    """Import a NIfTI mask (non-zero = inside) drawn on this series' grid.

    The grid must match the series volume: shape, spacing, origin and direction within
    `nifti_to_mask`'s tolerance (0.01 mm, 1e-3); otherwise MaskInputError names what differs.
    Nothing is resampled silently and nothing is stored on any error.
    """
    _check_patient(patient, series)
    if len(data) > max_nifti_bytes():
        raise MaskInputError(
            f"the NIfTI file is larger than the limit of {max_nifti_bytes() // 1024**2} MB"
        )
    lower = (filename or "").lower()
    suffix = ".nii.gz" if lower.endswith(".nii.gz") else ".nii" if lower.endswith(".nii") else ""
    if not suffix:
        raise MaskInputError("a NIfTI mask file ends in .nii or .nii.gz")
    if suffix == ".nii.gz" and data[:2] != b"\x1f\x8b":
        raise MaskInputError("the file ends in .nii.gz but is not gzip-compressed")
    volume_key, volume = _volume(series)
    with tempfile.TemporaryDirectory(prefix="mask-") as folder:
        path = os.path.join(folder, f"upload{suffix}")
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            voxels = nifti_to_mask(path, volume)
        except MaskError as exc:
            # nifti_to_mask names the temporary path when it cannot read the file: say it plainly.
            message = str(exc)
            if "cannot read" in message:
                message = "the file is not a readable NIfTI image"
            raise MaskInputError(message) from exc
        except (ValueError, RuntimeError) as exc:  # e.g. a 2D or 4D image
            raise MaskInputError("the file is not a 3D NIfTI image") from exc
    return _store_new(
        actor=actor,
        patient=patient,
        series=series,
        volume_key=volume_key,
        voxels=np.ascontiguousarray(voxels, dtype=bool),
        kind=MaskKind.NIFTI,
        label=_clean_label(label, "Imported mask"),
        parameters={"source": "nifti", "source_sha256": hashlib.sha256(data).hexdigest()},
    )


def mask_create_from_finding(
    *,
    actor: User | None,
    patient: Patient,
    series: Series,
    voxels: np.ndarray,
    label: str,
    parameters: Mapping[str, Any],
) -> Mask:
    """Store a confirmed screening finding's voxels (on this series' grid) as a mask of kind
    "screening" (imaging/services/screening_review.py), so radiomics measures it like any
    other mask. MaskInputError when the voxels are not on the series' current grid."""
    _check_patient(patient, series)
    volume_key, volume = _volume(series)
    if tuple(voxels.shape) != tuple(volume.shape):
        raise MaskInputError("the finding's voxels are not on this series' grid")
    return _store_new(
        actor=actor,
        patient=patient,
        series=series,
        volume_key=volume_key,
        voxels=np.ascontiguousarray(voxels, dtype=bool),
        kind=MaskKind.SCREENING,
        label=_clean_label(label, "Screening finding"),
        parameters=parameters,
    )


@dataclass(frozen=True)
class SeedParameters:
    """The viewer's seed tool: a voxel (z, y, x) and the region-growing settings.

    low/high: the HU range; None for both = the seed neighbourhood's mean +/- k_sigma SD,
    widened to at least min_range. window_mm: the cube the region may not leave. opening_mm:
    radius of the opening that cuts thin bridges (0 = none).
    """

    seed_zyx: tuple[int, int, int]
    low: float | None = None
    high: float | None = None
    window_mm: float = 60.0
    opening_mm: float = 0.0
    k_sigma: float = 3.0
    min_range: float = 100.0

    def validate(self) -> None:
        if not 5.0 <= self.window_mm <= 300.0:
            raise MaskInputError("the window must be between 5 and 300 mm")
        if not 0.0 <= self.opening_mm <= 10.0:
            raise MaskInputError("the opening must be between 0 and 10 mm")
        if not 0.5 <= self.k_sigma <= 10.0:
            raise MaskInputError("k must be between 0.5 and 10 standard deviations")
        if not 0.0 <= self.min_range <= 5000.0:
            raise MaskInputError("the minimum range must be between 0 and 5000")
        values = [self.low, self.high, self.window_mm, self.opening_mm]
        if any(v is not None and not np.isfinite(v) for v in values):
            raise MaskInputError("parameters must be finite numbers")


def mask_create_from_seed(
    *,
    actor: User | None,
    patient: Patient,
    series: Series,
    parameters: SeedParameters,
    label: str = "",
) -> Mask:
    """Grow a lesion from a seed point (`imaging.dicom.segment.segment_from_seed`) and store it
    as kind "seed": a semi-automatic proposal a reader must review; the parameters, the range
    actually used and whether the region reached the window's edge are recorded."""
    _check_patient(patient, series)
    parameters.validate()
    volume_key, volume = _volume(series)
    try:
        result = segment_from_seed(
            volume,
            parameters.seed_zyx,
            low=parameters.low,
            high=parameters.high,
            k_sigma=parameters.k_sigma,
            min_range=parameters.min_range,
            window_mm=parameters.window_mm,
            opening_mm=parameters.opening_mm,
        )
    except SegmentationError as exc:
        raise MaskInputError(str(exc)) from exc
    recorded = {
        "method": "imaging.dicom.segment.segment_from_seed",
        "seed_zyx": [int(v) for v in parameters.seed_zyx],
        "low": result.low,
        "high": result.high,
        "range_given": parameters.low is not None,
        "k_sigma": parameters.k_sigma,
        "min_range": parameters.min_range,
        "window_mm": parameters.window_mm,
        "opening_mm": parameters.opening_mm,
        "touches_window": result.touches_window,
    }
    return _store_new(
        actor=actor,
        patient=patient,
        series=series,
        volume_key=volume_key,
        voxels=result.mask,
        kind=MaskKind.SEED,
        label=_clean_label(label, "Seed lesion"),
        parameters=recorded,
    )


# --- drawing ----------------------------------------------------------------------------------


def rle_decode(runs: Any, size: int) -> np.ndarray:
    """Run lengths, alternating outside/inside and starting outside (a slice that starts inside
    begins with a 0 run), over `size` voxels in row-major order -> bool array."""
    if not isinstance(runs, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in runs
    ):
        raise MaskInputError("a slice's runs must be a list of non-negative integers")
    if sum(runs) != size:
        raise MaskInputError(f"a slice's runs cover {sum(runs)} voxels, the slice has {size}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs)


def rle_encode(plane: np.ndarray) -> list[int]:
    """The inverse of `rle_decode` for one 2D (or flat) boolean array."""
    flat = np.asarray(plane, dtype=bool).ravel()
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    return [int(r) for r in runs]


def apply_slices(base: np.ndarray, slices: Mapping[int, np.ndarray]) -> np.ndarray:
    """A copy of `base` with the given axial slices replaced; nothing else changes."""
    result = np.array(base, dtype=bool, copy=True)
    for z, plane in slices.items():
        result[z] = plane
    return result


def decode_slices(payload: Any, shape: tuple[int, int, int]) -> dict[int, np.ndarray]:
    """The viewer's edited slices: ``[{"z": k, "runs": [...]}, ...]`` -> {k: bool [y, x]}."""
    if not isinstance(payload, list) or not payload:
        raise MaskInputError("no edited slices were sent")
    if len(payload) > MAX_EDITED_SLICES:
        raise MaskInputError("too many edited slices in one save")
    depth, rows, columns = shape
    slices: dict[int, np.ndarray] = {}
    for item in payload:
        if not isinstance(item, dict):
            raise MaskInputError("each edited slice is an object with z and runs")
        z = item.get("z")
        if not isinstance(z, int) or isinstance(z, bool) or not 0 <= z < depth:
            raise MaskInputError(f"slice index outside 0..{depth - 1}")
        if z in slices:
            raise MaskInputError("a slice was sent twice")
        slices[z] = rle_decode(item.get("runs"), rows * columns).reshape(rows, columns)
    return slices


def mask_save_drawing(
    *,
    actor: User | None,
    patient: Patient,
    series: Series,
    slices: Mapping[int, np.ndarray],
    mask: Mask | None = None,
    start_from: np.ndarray | None = None,
    label: str = "",
    based_on: str = "",
) -> Mask:
    """Apply the brush's edited axial slices.

    With `mask` (a stored mask of this series): its voxels with the slices replaced become its
    new version (new file, new sha256, the old file deleted on commit); a semi-automatic or
    imported mask keeps its kind and is marked `edited`. Without: a new "drawn" mask from
    `start_from` (the voxels of the mask the reader started from, e.g. an RTSTRUCT ROI, whose
    viewer id is `based_on`) or from nothing.
    """
    _check_patient(patient, series)
    volume_key, volume = _volume(series)
    if mask is not None:
        if mask.series_id != series.pk:
            raise MaskInputError("the mask belongs to another series")
        try:
            base = mask_on_volume(mask, volume_key, volume)
        except MaskError as exc:
            raise MaskInputError(str(exc)) from exc
    elif start_from is not None:
        base = np.asarray(start_from, dtype=bool)
    else:
        base = np.zeros(volume.shape, dtype=bool)
    if base.shape != volume.shape:
        raise MaskInputError("the starting mask is not on this series' grid")
    for plane in slices.values():
        if plane.shape != volume.shape[1:]:
            raise MaskInputError("an edited slice does not have the series' rows and columns")
    voxels = apply_slices(base, slices)
    edited_slices = sorted(int(z) for z in slices)
    if mask is None:
        parameters: dict[str, Any] = {"edited_slices": edited_slices}
        if based_on:
            parameters["based_on"] = based_on
        return _store_new(
            actor=actor,
            patient=patient,
            series=series,
            volume_key=volume_key,
            voxels=voxels,
            kind=MaskKind.DRAWN,
            label=_clean_label(label, "Drawn mask"),
            parameters=parameters,
        )
    if not voxels.any():
        raise MaskInputError("the edit leaves the mask empty: delete it instead")
    new_sha = voxels_sha256(voxels)
    if new_sha == mask.sha256:
        raise MaskInputError("the edit changes no voxel")
    storage_name = _save_voxels(patient, voxels)
    old_name = mask.storage_name
    try:
        with transaction.atomic():
            locked = Mask.objects.select_for_update().get(pk=mask.pk)
            if locked.sha256 != mask.sha256:
                raise MaskInputError("the mask was changed by someone else: reload and redo")
            history = list(locked.parameters.get("edits", []))[-49:]
            history.append({"previous_sha256": locked.sha256, "slices": edited_slices})
            locked.parameters = {**locked.parameters, "edits": history}
            locked.storage_name = storage_name
            locked.sha256 = new_sha
            locked.voxel_count = int(voxels.sum())
            locked.edited = True
            if label:
                locked.label = _clean_label(label, locked.label)
            locked.save()
            _audit(actor, AuditAction.UPDATE, patient, locked, "drawn")
            _queue_radiomics(series, actor)
            _delete_after_commit(old_name)
        return locked
    except BaseException:
        default_storage.delete(storage_name)
        raise


# --- delete and export ----------------------------------------------------------------------


def mask_delete(*, actor: User | None, patient: Patient, mask: Mask) -> None:
    """Delete the row now and its file once the transaction commits."""
    if mask.series.study.patient_id != patient.pk:
        raise MaskInputError("the mask is not this patient's")
    storage_name = mask.storage_name
    _audit(actor, AuditAction.DELETE, patient, mask, mask.kind)
    mask.delete()
    _delete_after_commit(storage_name)


def seg_bytes(*, series: Series, voxels: np.ndarray, label: str, description: str) -> bytes:
    """`voxels` (on `series`' volume) as a DICOM SEG (highdicom, BINARY) whose source images are
    the series' instances."""
    datasets = [viewer_series.read_instance(i) for i in series.instances.all()]
    try:
        seg = mask_to_seg(voxels, datasets, label[:64] or "Mask")
    except MaskError as exc:
        raise MaskInputError(str(exc)) from exc
    seg.SeriesDescription = description[:64]
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, seg, enforce_file_format=True)
    return buffer.getvalue()


def nifti_bytes(*, volume: Volume, voxels: np.ndarray) -> bytes:
    """`voxels` as a gzipped NIfTI (uint8, 1 inside) on `volume`'s grid (ITK writes LPS as the
    NIfTI RAS affine)."""
    import SimpleITK as sitk

    image = volume.with_array(np.asarray(voxels, dtype=np.uint8)).to_sitk()
    with tempfile.TemporaryDirectory(prefix="mask-") as folder:
        path = os.path.join(folder, "mask.nii.gz")
        sitk.WriteImage(image, path, True)  # noqa: FBT003  (useCompression)
        with open(path, "rb") as handle:
            return handle.read()


EXPORT_FORMATS = ("seg", "nifti")


def mask_export(
    *,
    actor: User | None,
    patient: Patient,
    series: Series,
    source: viewer_series.MaskSource,
    fmt: str,
) -> bytes:
    """Any mask the viewer lists for `series` (stored or an RTSTRUCT/SEG ROI) as a DICOM SEG
    ("seg") or NIfTI ("nifti"), with one EXPORT event naming the mask's viewer id."""
    if fmt not in EXPORT_FORMATS:
        raise MaskInputError(f"unknown export format; use one of {list(EXPORT_FORMATS)}")
    _check_patient(patient, series)
    volume_key, volume = _volume(series)
    try:
        voxels = viewer_series.source_mask(volume_key, volume, source)
    except MaskError as exc:
        raise MaskInputError(str(exc)) from exc
    if not voxels.any():
        raise MaskInputError("the mask is empty: nothing to export")
    if fmt == "seg":
        data = seg_bytes(
            series=series, voxels=voxels, label=source.label, description=f"{source.kind} mask"
        )
    else:
        data = nifti_bytes(volume=volume, voxels=voxels)
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        object_type=AUDIT_OBJECT,
        object_id=source.id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
        detail={"format": fmt},
    )
    return data
