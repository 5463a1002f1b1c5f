"""The viewer's series side: a stored series as a cached volume, its masks, the prepare job.

Reads here do not check access or audit: the viewer's views do both before calling them, and
the job only fills the cache (it shows nothing to anyone). Imported by ImagingConfig.ready(), so
web processes and Celery workers know the job kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.core.files.storage import default_storage
from pydicom.dataset import Dataset

from core.jobs import JobError, register_job_kind
from core.models import Job
from imaging import viewer
from imaging.dicom import (
    Volume,
    VolumeAssemblyError,
    rtstruct_roi_names,
    rtstruct_to_mask,
    seg_to_mask,
    volume_from_datasets,
)
from imaging.models import Instance, Series

# A 300-slice 512 x 512 CT assembles from storage in about 1.0-1.6 s: up to this many
# instances the metadata request assembles inline (< 2 s); larger series go to a job.
INLINE_ASSEMBLY_MAX_INSTANCES = 300
PREPARE_JOB_KIND = "imaging_volume_prepare"
MASK_MODALITIES = ("RTSTRUCT", "SEG")


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


def source_mask(volume_key: str, volume: Volume, source: MaskSource) -> np.ndarray:
    def rasterise() -> np.ndarray:
        ds = read_instance(source.instance)
        if source.modality == "SEG":
            return seg_to_mask(ds, volume, source.roi)
        return rtstruct_to_mask(ds, volume, source.roi)

    key = viewer.mask_cache_key(volume_key, source.instance.sha256, source.roi)
    return viewer.cached_mask(cache_dir(), key, rasterise)
