"""The viewer's image side, without Django: volume and mask caches, slice reformats, PNG rendering.

A series is assembled once (`imaging.dicom.volume_from_datasets`) and kept twice:

* on disk, under a cache directory, as ``<key>.npy`` (the voxels) + ``<key>.json`` (the
  geometry); the key is a hash of the series' instance SHA-256s, so new or replaced instances
  give a new key and a stale volume is never served. A re-opened series is memory-mapped, not
  re-read from DICOM: the first slice of a cached 300 x 512 x 512 series costs milliseconds.
* in process memory, in a small LRU (`VolumeCache`), so scrolling renders from RAM.

Masks (booleans on the volume's grid) are cached the same way, keyed by the volume's key, the
mask source's SHA-256 and the ROI name.

Display conventions: axial slices are shown as stored (rows = y index, columns = x index);
coronal (fixed y) and sagittal (fixed x) reformats put the slice axis vertically with the head
at the top when the slice normal points to the head (the usual axial acquisition). Every image
is resampled to square pixels (the column spacing), so a 2 mm x 0.5 mm coronal pixel becomes
four rows: what the browser shows has the patient's true proportions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imaging.dicom.measure import MaskMeasurement, measure_mask
from imaging.dicom.processing import WINDOW_PRESETS, window
from imaging.dicom.volume import Volume

AXES = ("axial", "coronal", "sagittal")
MASK_COLOURS = ((230, 57, 70), (42, 157, 143), (244, 162, 97), (69, 123, 157), (233, 196, 106))
CACHE_FORMAT = 1  # bump when the cached files' layout changes


def volume_cache_key(instance_sha256s: Iterable[str]) -> str:
    """Content key of a series: the same instances (in any order) give the same key."""
    digest = hashlib.sha256(f"volume-v{CACHE_FORMAT}".encode())
    for sha in sorted(instance_sha256s):
        digest.update(sha.encode())
    return digest.hexdigest()


def mask_cache_key(volume_key: str, source_sha256: str, roi: str) -> str:
    digest = hashlib.sha256(f"mask-v{CACHE_FORMAT}".encode())
    for part in (volume_key, source_sha256, roi):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


# --- disk cache --------------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    # Write then rename, so a concurrent reader never maps a half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def volume_save(cache_dir: Path, key: str, volume: Volume) -> None:
    meta = {
        "spacing": list(volume.spacing),
        "origin": list(volume.origin),
        "direction": np.asarray(volume.direction).tolist(),
        "modality": volume.modality,
        "series_uid": volume.series_uid,
        "frame_of_reference_uid": volume.frame_of_reference_uid,
        "source_uids": list(volume.source_uids),
        "warnings": list(volume.warnings),
    }
    array = np.ascontiguousarray(volume.array, dtype=np.float32)
    _atomic_write(cache_dir / f"{key}.npy", lambda h: np.save(h, array))
    _atomic_write(cache_dir / f"{key}.json", lambda h: h.write(json.dumps(meta).encode()))


def volume_load(cache_dir: Path, key: str) -> Volume | None:
    """The cached volume (memory-mapped, read-only), or None when not cached."""
    meta_path, array_path = cache_dir / f"{key}.json", cache_dir / f"{key}.npy"
    if not meta_path.exists() or not array_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    array = np.load(array_path, mmap_mode="r")
    return Volume(
        array=array,
        spacing=tuple(meta["spacing"]),
        origin=tuple(meta["origin"]),
        direction=np.array(meta["direction"], dtype=float),
        modality=meta["modality"],
        series_uid=meta["series_uid"],
        frame_of_reference_uid=meta["frame_of_reference_uid"],
        source_uids=tuple(meta["source_uids"]),
        warnings=list(meta["warnings"]),
    )


def mask_save(cache_dir: Path, key: str, mask: np.ndarray) -> None:
    packed = np.packbits(np.asarray(mask, dtype=bool), axis=None)
    shape = np.array(mask.shape, dtype=np.int64)
    _atomic_write(cache_dir / f"{key}.mask.npz", lambda h: np.savez(h, bits=packed, shape=shape))


def mask_load(cache_dir: Path, key: str) -> np.ndarray | None:
    path = cache_dir / f"{key}.mask.npz"
    if not path.exists():
        return None
    with np.load(path) as data:
        shape = tuple(int(v) for v in data["shape"])
        count = int(np.prod(shape))
        return np.unpackbits(data["bits"], count=count).astype(bool).reshape(shape)


def voxels_sha256(mask: np.ndarray) -> str:
    """SHA-256 of a boolean mask's content: its shape, then its bits packed in C order. A stored
    mask's `sha256`; any edited voxel gives another value."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    digest = hashlib.sha256("x".join(str(n) for n in mask.shape).encode() + b"\0")
    digest.update(np.packbits(mask, axis=None).tobytes())
    return digest.hexdigest()


def voxels_bytes(mask: np.ndarray) -> bytes:
    """A stored mask's file: bit-packed voxels and the shape in a compressed .npz."""
    buffer = io.BytesIO()
    packed = np.packbits(np.asarray(mask, dtype=bool), axis=None)
    np.savez_compressed(buffer, bits=packed, shape=np.array(mask.shape, dtype=np.int64))
    return buffer.getvalue()


def voxels_from_bytes(data: bytes) -> np.ndarray:
    """The inverse of `voxels_bytes` (no pickles: a stored file is data, never code)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        shape = tuple(int(v) for v in archive["shape"])
        count = int(np.prod(shape))
        return np.unpackbits(archive["bits"], count=count).astype(bool).reshape(shape)


# --- memory cache ------------------------------------------------------------------------


class LruCache:
    """A thread-safe LRU of at most `max_items` values (volumes or masks) per process."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


VOLUMES = LruCache(max_items=4)
MASKS = LruCache(max_items=16)


def cached_volume(cache_dir: Path, key: str, assemble: Callable[[], Volume]) -> Volume:
    """Memory, then disk, then `assemble()` (which reads the DICOM); stores what it had to make."""
    volume = VOLUMES.get(key)
    if volume is not None:
        return volume
    volume = volume_load(cache_dir, key)
    if volume is None:
        volume_save(cache_dir, key, assemble())
        volume = volume_load(cache_dir, key)
        assert volume is not None  # noqa: S101  (just written)
    VOLUMES.put(key, volume)
    return volume


def is_volume_cached(cache_dir: Path, key: str) -> bool:
    return VOLUMES.get(key) is not None or (cache_dir / f"{key}.npy").exists()


def cached_mask(cache_dir: Path, key: str, rasterise: Callable[[], np.ndarray]) -> np.ndarray:
    mask = MASKS.get(key)
    if mask is not None:
        return mask
    mask = mask_load(cache_dir, key)
    if mask is None:
        mask = np.asarray(rasterise(), dtype=bool)
        mask_save(cache_dir, key, mask)
    MASKS.put(key, mask)
    return mask


# --- reformats and rendering -------------------------------------------------------------


def axis_length(volume: Volume, axis: str) -> int:
    z, y, x = volume.shape
    return {"axial": z, "coronal": y, "sagittal": x}[axis]


def _head_up(volume: Volume) -> bool:
    # Flip reformats when z grows towards the head (LPS +z), so the head is at the top.
    return float(np.asarray(volume.direction)[2][2]) >= 0


def plane(volume: Volume, array: np.ndarray, axis: str, index: int) -> np.ndarray:
    """The 2D plane of `array` (on `volume`'s grid) shown for `axis` at `index`, display order
    (rows top to bottom, columns left to right), before aspect correction."""
    if not 0 <= index < axis_length(volume, axis):
        raise IndexError(f"{axis} index {index} outside 0..{axis_length(volume, axis) - 1}")
    if axis == "axial":
        return np.asarray(array[index])
    reformat = np.asarray(array[:, index, :] if axis == "coronal" else array[:, :, index])
    return reformat[::-1] if _head_up(volume) else reformat


def pixel_spacing(volume: Volume, axis: str) -> tuple[float, float]:
    """(row, column) spacing in mm of `plane(volume, ..., axis, ...)`."""
    sz, sy, sx = volume.spacing
    return {"axial": (sy, sx), "coronal": (sz, sx), "sagittal": (sz, sy)}[axis]


def display_size(volume: Volume, axis: str) -> tuple[int, int]:
    """(width, height) of the rendered image: square pixels of the column spacing."""
    z, y, x = volume.shape
    rows, columns = {"axial": (y, x), "coronal": (z, x), "sagittal": (z, y)}[axis]
    row_mm, column_mm = pixel_spacing(volume, axis)
    return columns, max(1, round(rows * row_mm / column_mm))


def _square_pixels(image: Image.Image, volume: Volume, axis: str, resample: int) -> Image.Image:
    size = display_size(volume, axis)
    return image if image.size == size else image.resize(size, resample=resample)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # compress_level 1: a 512 x 512 slice encodes in a few ms; level 6 would cost 5x more for
    # a 20 % smaller file on a local network.
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def render_slice_png(volume: Volume, axis: str, index: int, center: float, width: float) -> bytes:
    """Windowed greyscale PNG (DICOM linear VOI LUT) of one slice, square pixels."""
    grey = window(plane(volume, volume.array, axis, index), center, width)
    image = _square_pixels(Image.fromarray(grey, mode="L"), volume, axis, Image.Resampling.BILINEAR)
    return _png(image)


def render_mask_png(
    volume: Volume, mask: np.ndarray, axis: str, index: int, colour: tuple[int, int, int]
) -> bytes:
    """Transparent RGBA PNG: `colour` opaque inside the mask, transparent outside. The browser
    applies the opacity the reader chooses."""
    inside = plane(volume, mask, axis, index).astype(bool)
    rgba = np.zeros((*inside.shape, 4), dtype=np.uint8)
    rgba[inside] = (*colour, 255)
    image = _square_pixels(
        Image.fromarray(rgba, mode="RGBA"), volume, axis, Image.Resampling.NEAREST
    )
    return _png(image)


# --- metadata and measurements -----------------------------------------------------------


def default_window(volume: Volume) -> tuple[float, float]:
    if volume.modality == "CT":
        return WINDOW_PRESETS["mediastinum"]
    # Other modalities have no fixed scale: the 1st-99th percentile of a strided sample.
    sample = np.asarray(volume.array[:: max(1, volume.shape[0] // 16), ::4, ::4], dtype=float)
    low, high = np.percentile(sample, [1, 99])
    return (float(low + high) / 2, max(1.0, float(high - low)))


def volume_metadata(volume: Volume) -> dict[str, Any]:
    z, y, x = volume.shape
    center, width = default_window(volume)
    return {
        "shape": {"z": z, "y": y, "x": x},
        "spacing_mm": {"z": volume.spacing[0], "y": volume.spacing[1], "x": volume.spacing[2]},
        "modality": volume.modality,
        "axes": {
            axis: {
                "count": axis_length(volume, axis),
                "width": display_size(volume, axis)[0],
                "height": display_size(volume, axis)[1],
            }
            for axis in AXES
        },
        "window": {"center": center, "width": width},
        "presets": {name: {"center": c, "width": w} for name, (c, w) in WINDOW_PRESETS.items()},
        "warnings": list(volume.warnings),
    }


def _perpendicular_segment(
    plane_mask: np.ndarray, spacing_yx: tuple[float, float], ends_xy: np.ndarray
) -> np.ndarray:
    """Endpoints (x, y index units) of the lesion's extent perpendicular to the longest
    diameter, drawn through the middle of the lesion's extent along it."""
    rows, columns = np.nonzero(plane_mask)
    scale = np.array([spacing_yx[1], spacing_yx[0]])
    corners = np.concatenate(
        [np.c_[columns + dx, rows + dy] for dx in (-0.5, 0.5) for dy in (-0.5, 0.5)]
    ).astype(float)
    points = corners * scale
    a, b = ends_xy[0] * scale, ends_xy[1] * scale
    axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    normal = np.array([-axis[1], axis[0]])
    along, across = points @ axis, points @ normal
    middle = (along.min() + along.max()) / 2
    start = middle * axis + across.min() * normal
    end = middle * axis + across.max() * normal
    return np.vstack([start, end]) / scale


def mask_measurement_json(volume: Volume, mask: np.ndarray) -> dict[str, Any] | None:
    """measure_mask's result with the diameter lines in axial pixel coordinates (x, y index
    units: the browser scales them like the image); None for an empty mask."""
    if not mask.any():
        return None
    m: MaskMeasurement = measure_mask(volume, np.asarray(mask, dtype=bool))
    ends_xyz = volume.patient_to_index(np.array(m.longest_diameter_endpoints_lps))
    ends_xy = ends_xyz[:, :2]
    perpendicular = _perpendicular_segment(
        np.asarray(mask[m.diameter_slice]), (volume.spacing[1], volume.spacing[2]), ends_xy
    )
    return {
        "volume_ml": round(m.volume_ml, 3),
        "longest_diameter_mm": round(m.longest_diameter_mm, 2),
        "perpendicular_diameter_mm": round(m.perpendicular_diameter_mm, 2),
        "slice": m.diameter_slice,
        "longest_line": [[round(float(v), 3) for v in p] for p in ends_xy],
        "perpendicular_line": [[round(float(v), 3) for v in p] for p in perpendicular],
        "voxel_count": m.voxel_count,
    }
