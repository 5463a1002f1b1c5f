"""Fused display: a second series of the patient (MR, PET, another CT) on the viewer's series.

The viewer's series is the fixed one. The moving series is placed on its grid in one of two
ways (`REGISTRATIONS`):

* "scanner": DICOM patient coordinates as they are. Right when both series share a Frame of
  Reference UID (PET/CT from one scanner, series of one MR session): DICOM then guarantees
  their coordinates agree, and a registration can only add error.
* "rigid": `imaging.dicom.register_rigid` (Mattes mutual information, Euler 3D, masked to the
  patient) finds the rotation and shift first. Needed across frames of reference (an MR onto
  a planning CT). It takes seconds to minutes, so it runs as a job ("imaging_fusion_register")
  and its result is cached.

Cache: the moving volume resampled onto the fixed grid (NaN outside the moving image) is saved
like a viewer volume (`imaging.viewer.volume_save`) under a key that hashes both volumes' keys
(so new instances in either series give a new key), the registration kind and its settings;
beside it ``<key>.fusion.json`` holds the transform and its provenance.

Like `imaging.viewer_series`, nothing here checks access or audits: the views
(`imaging.views_fusion`) do both before calling it, and the job only fills the cache.
Imported by ImagingConfig.ready() so web processes and workers know the job kind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.jobs import JobError, register_job_kind
from core.models import Job
from imaging import viewer, viewer_series
from imaging.dicom import Volume, VolumeAssemblyError
from imaging.dicom.processing import window
from imaging.dicom.registration import register_rigid, resample_onto
from imaging.models import Series

FUSION_JOB_KIND = "imaging_fusion_register"
FUSION_FORMAT = 1  # bump when the cached files or the method change
REGISTRATIONS = ("scanner", "rigid")
# Written out so that the cache key and the provenance name them. Half the masked voxels, at
# most 100,000 a level: a 512 x 512 x 300 CT registers in bounded time, and a small series
# still gets enough samples (a quarter of a 48 x 48 x 24 phantom missed a 4 degree rotation
# by 1.7 degrees, half by 0.5). On STS_001 the MR lands within 2.4 mm (median) of the femur.
RIGID_SETTINGS: dict[str, Any] = {
    "histogram_bins": 50,
    "sampling_fraction": 0.5,
    "max_samples": 100_000,
    "iterations": 200,
    "shrink_factors": [4, 2, 1],
    "smoothing_sigmas": [2.0, 1.0, 0.0],
    "seed": 20261124,
    "initial": "identity",
    "mask_background": True,
}


class FusionError(ValueError):
    """A fusion that cannot be made; the message is safe to show (no patient values)."""


# --- colour maps -------------------------------------------------------------------------


def _hot(t: np.ndarray) -> np.ndarray:
    """Black-red-yellow-white ("hot", as matplotlib's): the usual PET overlay. Opacity grows
    with the value over the window's first third, so low uptake leaves the CT visible."""
    rgba = np.empty((*t.shape, 4), dtype=np.float32)
    rgba[..., 0] = np.clip(3 * t, 0, 1)
    rgba[..., 1] = np.clip(3 * t - 1, 0, 1)
    rgba[..., 2] = np.clip(3 * t - 2, 0, 1)
    rgba[..., 3] = np.clip(3 * t, 0, 1)
    return rgba


def _grey(t: np.ndarray) -> np.ndarray:
    rgba = np.ones((*t.shape, 4), dtype=np.float32)
    rgba[..., 0] = rgba[..., 1] = rgba[..., 2] = t
    return rgba


def _green(t: np.ndarray) -> np.ndarray:
    """Green intensity, opaque: an MR over a grey CT reads as green where it is bright."""
    rgba = np.zeros((*t.shape, 4), dtype=np.float32)
    rgba[..., 1] = t
    rgba[..., 3] = 1
    return rgba


COLOUR_MAPS = {"hot": _hot, "grey": _grey, "green": _green}


def default_colour_map(modality: str) -> str:
    return {"PT": "hot", "NM": "hot"}.get(modality, "green")


def render_fused_png(
    fused: Volume, axis: str, index: int, center: float, width: float, colour_map: str
) -> bytes:
    """RGBA PNG of one slice of the resampled moving volume, through the DICOM linear window
    (`imaging.dicom.processing.window`) and `colour_map`; transparent where the moving image
    has no data. Same size and orientation as the viewer's slice of the fixed series; the
    browser applies the reader's opacity."""
    if colour_map not in COLOUR_MAPS:
        raise FusionError(f"colour map must be one of {sorted(COLOUR_MAPS)}")
    values = np.asarray(viewer.plane(fused, fused.array, axis, index), dtype=np.float32)
    outside = ~np.isfinite(values)
    grey = window(np.where(outside, center - width, values), center, width)
    rgba = COLOUR_MAPS[colour_map](grey.astype(np.float32) / 255)
    rgba[outside] = 0
    image = Image.fromarray(np.rint(rgba * 255).astype(np.uint8), mode="RGBA")
    size = viewer.display_size(fused, axis)
    if image.size != size:
        image = image.resize(size, resample=Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # as the viewer's slices: speed first
    return buffer.getvalue()


# --- the fused volume and its cache ------------------------------------------------------


@dataclass
class FusionReport:
    """What placed the moving series on the fixed grid; stored beside the cached volume."""

    registration: str
    moving_modality: str
    window: tuple[float, float]  # the moving series' default window (centre, width)
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    translation_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    max_displacement_mm: float = 0.0
    metric_value: float | None = None
    stop_condition: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def fusion_key(fixed_key: str, moving_key: str, registration: str) -> str:
    settings = RIGID_SETTINGS if registration == "rigid" else {}
    digest = hashlib.sha256(f"fusion-v{FUSION_FORMAT}".encode())
    for part in (fixed_key, moving_key, registration, json.dumps(settings, sort_keys=True)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def series_fusion_key(fixed: Series, moving: Series, registration: str) -> str:
    if registration not in REGISTRATIONS:
        raise FusionError(f"registration must be one of {list(REGISTRATIONS)}")
    keys = (viewer_series.volume_key(fixed), viewer_series.volume_key(moving))
    return fusion_key(*keys, registration)


def _report_path(key: str) -> Path:
    return viewer_series.cache_dir() / f"{key}.fusion.json"


def fused_cached(key: str) -> tuple[Volume, FusionReport] | None:
    """The cached fused volume and its report, or None when not made yet."""
    path = _report_path(key)
    if not path.exists():
        return None
    volume = viewer.VOLUMES.get(key) or viewer.volume_load(viewer_series.cache_dir(), key)
    if volume is None:
        return None
    viewer.VOLUMES.put(key, volume)
    data = json.loads(path.read_text())
    data["window"] = tuple(data["window"])
    data["rotation_deg"] = tuple(data["rotation_deg"])
    data["translation_mm"] = tuple(data["translation_mm"])
    return volume, FusionReport(**data)


def _versions() -> dict[str, str]:
    import SimpleITK as sitk

    return {"SimpleITK": sitk.Version.VersionString(), "numpy": np.__version__}


def fuse_volumes(fixed: Volume, moving: Volume, registration: str) -> tuple[Volume, FusionReport]:
    """The moving volume on the fixed grid (NaN outside it) and how it got there."""
    report = FusionReport(
        registration=registration,
        moving_modality=moving.modality,
        window=viewer.default_window(moving),
        versions=_versions(),
    )
    if registration == "scanner":
        return resample_onto(moving, fixed), report
    if registration != "rigid":
        raise FusionError(f"registration must be one of {list(REGISTRATIONS)}")
    try:
        result = register_rigid(fixed, moving, **_rigid_kwargs())
    except ValueError as exc:  # no foreground in one image: the message names no values
        raise FusionError(str(exc)) from exc
    except RuntimeError as exc:  # SimpleITK: e.g. too few samples inside the moving image
        raise FusionError("registration failed: the two series barely overlap") from exc
    report.rotation_deg = result.rotation_deg
    report.translation_mm = result.translation_mm
    report.max_displacement_mm = result.max_displacement_mm
    report.metric_value = result.metric_value
    report.stop_condition = result.stop_condition
    report.settings = dict(RIGID_SETTINGS)
    return resample_onto(moving, fixed, result.transform), report


def _rigid_kwargs() -> dict[str, Any]:
    kwargs = dict(RIGID_SETTINGS)
    kwargs["shrink_factors"] = tuple(kwargs["shrink_factors"])
    kwargs["smoothing_sigmas"] = tuple(kwargs["smoothing_sigmas"])
    return kwargs


def _write_report(path: Path, data: bytes) -> None:
    # Write then rename: a concurrent reader sees no report or a whole one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fusion_make(fixed: Series, moving: Series, registration: str) -> tuple[Volume, FusionReport]:
    """Make (or read from the cache) the fused volume of `moving` on `fixed`."""
    key = series_fusion_key(fixed, moving, registration)
    cached = fused_cached(key)
    if cached is not None:
        return cached
    try:
        fixed_volume = viewer_series.series_volume(fixed)
        moving_volume = viewer_series.series_volume(moving)
    except VolumeAssemblyError as exc:  # names the geometry problem, no values
        raise FusionError(str(exc)) from exc
    fused, report = fuse_volumes(fixed_volume, moving_volume, registration)
    cache = viewer_series.cache_dir()
    viewer.volume_save(cache, key, fused)
    # The report last: its presence says the volume beside it is complete.
    _write_report(_report_path(key), json.dumps(report.as_json()).encode())
    result = fused_cached(key)
    assert result is not None  # noqa: S101  (just written)
    return result


@register_job_kind(FUSION_JOB_KIND)
def _fusion_register_job(job: Job) -> dict[str, Any]:
    """Register the moving series onto the fixed one and cache the fused volume."""
    fixed = Series.objects.get(pk=job.payload["fixed_series_id"])
    moving = Series.objects.get(pk=job.payload["moving_series_id"])
    try:
        _, report = fusion_make(fixed, moving, job.payload["registration"])
    except FusionError as exc:
        raise JobError(str(exc)) from exc
    return {"max_displacement_mm": round(report.max_displacement_mm, 2)}


# --- which series can be fused -----------------------------------------------------------


def fusion_candidates(series: Series) -> list[Series]:
    """The patient's other image series, those sharing `series`' frame of reference first,
    then those of its study, then the rest, newest study first within each group."""
    others = (
        Series.objects.filter(study__patient_id=series.study.patient_id)
        .exclude(pk=series.pk)
        .exclude(modality__in=viewer_series.MASK_MODALITIES)
        .select_related("study")
    )

    def rank(other: Series) -> tuple[int, int, float, int]:
        same_frame = bool(series.frame_of_reference_uid) and (
            other.frame_of_reference_uid == series.frame_of_reference_uid
        )
        date = other.study.study_date
        return (
            0 if same_frame else 1,
            0 if other.study_id == series.study_id else 1,
            -date.toordinal() if date else 0,
            other.pk,
        )

    return sorted(others, key=rank)


def default_registration(fixed: Series, moving: Series) -> str:
    same_frame = bool(fixed.frame_of_reference_uid) and (
        fixed.frame_of_reference_uid == moving.frame_of_reference_uid
    )
    return "scanner" if same_frame else "rigid"
