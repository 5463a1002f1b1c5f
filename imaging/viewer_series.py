"""The viewer's series side: a stored series as a cached volume, its masks, the prepare job.

Reads here do not check access or audit: the viewer's views do both before calling them, and
the job only fills the cache (it shows nothing to anyone). Imported by ImagingConfig.ready(), so
web processes and Celery workers know the job kind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import F, Sum
from pydicom.dataset import Dataset

from core.jobs import JobError, job_enqueue, register_job_kind
from core.models import Job, User
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
from imaging.models import Instance, Mask, MaskKind, Series

# A 300-slice 512 x 512 CT assembles from storage in about 1.0-1.6 s: up to this many
# instances the metadata request assembles inline (< 2 s); larger series go to a job.
INLINE_ASSEMBLY_MAX_INSTANCES = 300
PREPARE_JOB_KIND = "imaging_volume_prepare"
MASK_MODALITIES = ("RTSTRUCT", "SEG")
# The kind a reader sees beside a stored mask's label (a seed mask stays "semi-automatic"
# after a hand edit; `Mask.edited` says it was edited).
KIND_LABELS = {
    MaskKind.SEED: "semi-automatic",
    MaskKind.DRAWN: "drawn",
    MaskKind.NIFTI: "imported",
}


def cache_dir() -> Path:
    return Path(settings.IMAGING_CACHE_DIR)


def read_instance(instance: Instance, *, pixels: bool = True) -> Dataset:
    with default_storage.open(instance.storage_name, "rb") as handle:
        return pydicom.dcmread(handle, stop_before_pixels=not pixels)


def volume_key(series: Series) -> str:
    return viewer.volume_cache_key(series.instances.values_list("sha256", flat=True))


def series_volume(series: Series) -> Volume:
    """The series' volume from the caches, assembling (and caching) it when needed."""

    def assemble() -> Volume:
        return volume_from_datasets(read_instance(i) for i in series.instances.all())

    return viewer.cached_volume(cache_dir(), volume_key(series), assemble)


def middle_instance(series: Series) -> Instance | None:
    """The instance that becomes the middle axial slice of the series' volume (index
    ``count // 2`` in `volume_from_datasets`' order along the slice normal), found from the index
    and one header, without reading pixel data; None for what the preview does not cover
    (multi-frame objects, instances without Image Position (Patient), non-image series)."""
    if series.modality in MASK_MODALITIES:
        return None
    instances = list(series.instances.order_by("pk"))
    if not instances or any(i.frames != 1 or not i.image_position for i in instances):
        return None
    try:
        header = read_instance(instances[0], pixels=False)
        orientation = [float(v) for v in header.ImageOrientationPatient]
        normal = np.cross(orientation[:3], orientation[3:])
        instances.sort(key=lambda i: float(np.asarray(i.image_position, dtype=float) @ normal))
    except (AttributeError, TypeError, ValueError):
        return None
    return instances[len(instances) // 2]


def preview_png(instance: Instance) -> bytes:
    """The instance's slice rendered as the viewer renders an axial slice (default window of
    its modality, square pixels), from its own file: what the page shows while the volume is
    assembled. Raises VolumeAssemblyError when the instance cannot be shown."""
    volume = volume_from_datasets([read_instance(instance)])
    center, width = viewer.default_window(volume)
    return viewer.render_slice_png(volume, "axial", 0, center, width)


# After an ingest, series of at least this many voxels (16 slices of 512 x 512) get the prepare
# job, so that the viewer's first open reads the disk cache; smaller ones assemble inline on
# first open in well under the viewer's 300 ms (about 3 ms a 512 x 512 slice), and the many
# small series of the test suites cost no job.
PREPARE_AFTER_INGEST_MIN_VOXELS = 16 * 512 * 512


def volume_prepare_after_ingest(
    *, series_ids: Iterable[int], created_by: User | None = None
) -> list[Job]:
    """Enqueue the prepare job for each image series of `series_ids` that is large enough and
    not cached yet; idempotent per volume key (a series that grows later gets a new key, so a
    new job). Called by the ingest service when a request, association or import ends."""
    jobs = []
    candidates = (
        Series.objects.filter(pk__in=list(series_ids))
        .exclude(modality__in=Series.NON_IMAGE_MODALITIES)
        .annotate(
            voxels=Sum(F("instances__rows") * F("instances__columns") * F("instances__frames"))
        )
    )
    for series in candidates:
        if (series.voxels or 0) < PREPARE_AFTER_INGEST_MIN_VOXELS:
            continue
        key = volume_key(series)
        if viewer.is_volume_cached(cache_dir(), key):
            continue
        jobs.append(
            job_enqueue(
                kind=PREPARE_JOB_KIND,
                payload={"series_id": series.pk},
                idempotency_key=f"{PREPARE_JOB_KIND}:{key}",
                created_by=created_by if getattr(created_by, "pk", None) else None,
            )
        )
    return jobs


@register_job_kind(PREPARE_JOB_KIND)
def _prepare_volume_job(job: Job) -> dict[str, Any]:
    """Assemble a large series into the disk cache ahead of the viewer's requests."""
    series = Series.objects.get(pk=job.payload["series_id"])
    try:
        volume = series_volume(series)
    except VolumeAssemblyError as exc:
        raise JobError(str(exc)) from exc
    return {"count": volume.shape[0]}


@dataclass(frozen=True)
class MaskSource:
    """One mask the viewer can show: an ROI of an RTSTRUCT/SEG instance (`instance`, `roi`) or
    a stored `Mask` row (`stored`; `instance` is None and `modality` is "STORED")."""

    id: str  # opaque: a hash of the source file and the ROI, or a stored mask's uuid hex
    label: str
    instance: Instance | None
    roi: str
    modality: str
    stored: Mask | None = None

    @property
    def kind(self) -> str:
        """What the reader is told the mask is: "RTSTRUCT", "SEG", "semi-automatic", "drawn",
        "imported"."""
        if self.stored is not None:
            return KIND_LABELS[MaskKind(self.stored.kind)]
        return self.modality


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
    ds = read_instance(instance, pixels=False)
    modality, names = str(getattr(ds, "Modality", "")), []
    if _references_series(ds, series):
        if modality == "RTSTRUCT":
            names = rtstruct_roi_names(ds)
        elif modality == "SEG":
            names = [str(s.SegmentLabel) for s in getattr(ds, "SegmentSequence", [])]
    result = (modality, names)
    _ROI_NAMES.put(f"{instance.sha256}:{series.series_instance_uid}", result)
    return result


def series_dicom_masks(series: Series) -> list[MaskSource]:
    """ROIs of the RTSTRUCT and SEG objects of the same study that reference `series` (by
    series, or by frame of reference when they name no series)."""
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


def series_masks(series: Series) -> list[MaskSource]:
    """Every mask the viewer lists for `series`: the DICOM ones (`series_dicom_masks`), then the
    masks stored on it (imported, drawn, semi-automatic) in label order."""
    sources = series_dicom_masks(series)
    for stored in Mask.objects.filter(series=series).order_by("label", "id"):
        stored.series = series  # callers that follow the relation need no query per mask
        sources.append(MaskSource(stored.public_id.hex, stored.label, None, "", "STORED", stored))
    return sources


def stored_mask_voxels(mask: Mask) -> np.ndarray:
    """A stored mask's voxels (read-only), cached by content like the DICOM masks."""

    def read() -> np.ndarray:
        with default_storage.open(mask.storage_name, "rb") as handle:
            voxels = viewer.voxels_from_bytes(handle.read())
        if viewer.voxels_sha256(voxels) != mask.sha256:
            raise MaskError("the stored mask file does not match its checksum")
        return voxels

    key = viewer.mask_cache_key(mask.volume_key, mask.sha256, "stored")
    return viewer.cached_mask(cache_dir(), key, read)


def mask_on_volume(mask: Mask, volume_key: str, volume: Volume) -> np.ndarray:
    """A stored mask on the series' current volume; MaskError when the series' instances
    changed since it was made (its grid may no longer be this one)."""
    if mask.volume_key != volume_key:
        raise MaskError("the series' instances changed since this mask was made")
    voxels = stored_mask_voxels(mask)
    if voxels.shape != volume.shape:
        raise MaskError(f"mask shape {voxels.shape} differs from the series {volume.shape}")
    return voxels


def source_mask(volume_key: str, volume: Volume, source: MaskSource) -> np.ndarray:
    if source.stored is not None:
        return mask_on_volume(source.stored, volume_key, volume)
    instance = source.instance
    assert instance is not None  # noqa: S101  (a DICOM source always has its instance)

    def rasterise() -> np.ndarray:
        ds = read_instance(instance)
        if source.modality == "SEG":
            return seg_to_mask(ds, volume, source.roi)
        return rtstruct_to_mask(ds, volume, source.roi)

    key = viewer.mask_cache_key(volume_key, instance.sha256, source.roi)
    return viewer.cached_mask(cache_dir(), key, rasterise)
