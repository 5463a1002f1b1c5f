"""Inputs of the engine: an image on a regular grid and its region of interest (ROI).

Arrays are indexed ``[z, y, x]`` and spacings are ``(z, y, x)`` in mm, the convention of
``imaging.dicom.Volume`` (and of ``SimpleITK.GetArrayFromImage``), so a Volume can be passed
directly. IBSI (Zwanenburg et al., Radiology 2020, section 2.1) keeps two ROI masks: the
*morphological* mask (the segmentation, used for shape features) and the *intensity* mask
(the segmentation after re-segmentation, used for every intensity and texture feature).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Image:
    """Intensities ``array[z, y, x]`` on a grid with voxel size ``spacing`` (z, y, x) in mm."""

    array: np.ndarray
    spacing: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"image must be 3D (z, y, x), got {self.array.ndim} dimensions")
        if len(self.spacing) != 3 or any(not s > 0 for s in self.spacing):
            raise ValueError("spacing must be three positive numbers (z, y, x) in mm")

    @property
    def voxel_volume(self) -> float:
        return float(np.prod(self.spacing))

    @classmethod
    def from_volume(cls, volume: Any) -> Image:
        """Any object with ``array`` and ``spacing`` (z, y, x), e.g. ``imaging.dicom.Volume``."""
        if isinstance(volume, Image):
            return volume
        spacing = tuple(float(s) for s in volume.spacing)
        # No dtype conversion here: a whole CT in float64 is ~250 MB; crop_to_roi converts
        # only the region around the ROI.
        return cls(np.asarray(volume.array), spacing)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Roi:
    """The two IBSI ROI masks, boolean arrays shaped like the image."""

    morphological: np.ndarray
    intensity: np.ndarray

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> Roi:
        binary = np.asarray(mask) > 0
        return cls(morphological=binary, intensity=binary.copy())

    def __post_init__(self) -> None:
        if self.morphological.shape != self.intensity.shape:
            raise ValueError("morphological and intensity masks differ in shape")
        if not self.morphological.any():
            raise ValueError("the ROI is empty")


def load_nifti(path: str | Path) -> Image:
    """Read a NIfTI file into an :class:`Image` (array z, y, x; spacing z, y, x)."""
    import nibabel as nib

    img: Any = nib.load(str(path))
    # NIfTI stores data as (x, y, z); the engine works in (z, y, x) like DICOM volumes.
    data = np.asarray(img.get_fdata(dtype=np.float64)).transpose(2, 1, 0)
    zooms = img.header.get_zooms()[:3]
    return Image(np.ascontiguousarray(data), (float(zooms[2]), float(zooms[1]), float(zooms[0])))


def crop_to_roi(image: Image, roi: Roi, margin: int = 0) -> tuple[Image, Roi]:
    """Crop both to the bounding box of the morphological mask (plus ``margin`` voxels)."""
    union = roi.morphological | roi.intensity
    idx = np.nonzero(union)
    lo = [max(int(i.min()) - margin, 0) for i in idx]
    hi = [min(int(i.max()) + margin + 1, n) for i, n in zip(idx, union.shape, strict=True)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    return (
        Image(np.asarray(image.array[box], dtype=np.float64), image.spacing),
        Roi(roi.morphological[box], roi.intensity[box]),
    )
