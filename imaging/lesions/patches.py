"""Candidate patches: a cube of ``size`` voxels at ``spacing_mm`` isotropic spacing, centred on
a candidate, resampled (trilinear) from a CT volume on its own grid.

A series' slices are often 1-2.5 mm apart with sub-millimetre pixels; resampling every patch
to one isotropic grid lets one network see a 6 mm nodule as the same 6 mm sphere on any
scanner. Voxels outside the volume read as air (-1000 HU), like the outside of the body.
Intensities are then windowed to the lung range (``HU_WINDOW``) and scaled to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

PATCH_SIZE = 32  # voxels along each axis
PATCH_SPACING_MM = 1.0
HU_WINDOW = (-1000.0, 400.0)  # air to dense soft tissue; calcium and bone saturate
OUTSIDE_HU = -1000.0


class PatchError(ValueError):
    """A patch cannot be cut (bad centre, spacing or volume); the message names what."""


@dataclass(frozen=True)
class PatchGeometry:
    size: int = PATCH_SIZE
    spacing_mm: float = PATCH_SPACING_MM
    hu_low: float = HU_WINDOW[0]
    hu_high: float = HU_WINDOW[1]

    def as_dict(self) -> dict[str, float | int]:
        return {
            "size": self.size,
            "spacing_mm": self.spacing_mm,
            "hu_low": self.hu_low,
            "hu_high": self.hu_high,
        }


def _check(array: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    volume = np.asarray(array)
    if volume.ndim != 3:
        raise PatchError("the volume must be 3-D (slices, rows, columns)")
    step = np.asarray(spacing, dtype=float)
    if step.shape != (3,) or not np.isfinite(step).all() or (step <= 0).any():
        raise PatchError("the spacing must be three positive numbers (slice, row, column) in mm")
    return volume, step


def extract_patches(
    array: np.ndarray,
    spacing: Sequence[float],
    centres_voxel: Sequence[Sequence[float]],
    geometry: PatchGeometry | None = None,
) -> np.ndarray:
    """Patches around each centre ([slice, row, column] voxel indices of ``array``), shape
    (n, size, size, size), float32 in [0, 1] after windowing. ``spacing`` is the volume's
    (slice, row, column) spacing in mm, as ``Volume.spacing``."""
    geometry = geometry or PatchGeometry()
    volume, step = _check(array, spacing)
    if not len(centres_voxel):
        return np.zeros((0, geometry.size, geometry.size, geometry.size), dtype=np.float32)
    try:
        centres = np.asarray(centres_voxel, dtype=float)
    except (TypeError, ValueError) as exc:
        raise PatchError("every centre must be three numbers (slice, row, column)") from exc
    if centres.ndim != 2 or centres.shape[1] != 3:
        raise PatchError("every centre must be three numbers (slice, row, column)")
    if not np.isfinite(centres).all():
        raise PatchError("every centre must be three finite voxel indices")
    # offsets in mm of the patch voxel centres from the candidate centre
    offsets = (np.arange(geometry.size) - (geometry.size - 1) / 2.0) * geometry.spacing_mm
    grid = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"))  # (3, s, s, s)
    data = volume.astype(np.float32, copy=False)
    out = np.empty((len(centres), geometry.size, geometry.size, geometry.size), np.float32)
    for i, centre in enumerate(centres):
        coords = grid / step[:, None, None, None] + centre[:, None, None, None]
        out[i] = ndimage.map_coordinates(data, coords, order=1, mode="constant", cval=OUTSIDE_HU)
    return window(out, geometry)


def window(hu: np.ndarray, geometry: PatchGeometry | None = None) -> np.ndarray:
    """HU clipped to the window and scaled to [0, 1] (float32)."""
    geometry = geometry or PatchGeometry()
    scaled = (np.asarray(hu, dtype=np.float32) - geometry.hu_low) / (
        geometry.hu_high - geometry.hu_low
    )
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)
