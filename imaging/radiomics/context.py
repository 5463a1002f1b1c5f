"""The prepared ROI every family reads: cropped image, masks, grey levels (IBSI chapter 2)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from imaging.radiomics.discretisation import discretise_volume
from imaging.radiomics.image import Image, Roi, crop_to_roi
from imaging.radiomics.interpolation import resample
from imaging.radiomics.registry import Feature
from imaging.radiomics.settings import RadiomicsSettings


@dataclass
class RoiContext:
    image: Image
    roi: Roi
    settings: RadiomicsSettings
    # Intermediate results several families share (e.g. the zones of GLSZM and GLDZM).
    _shared: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False)

    def shared(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per ROI for ``key``."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    @cached_property
    def values(self) -> np.ndarray:
        """Intensities inside the intensity mask (1D, float64)."""
        return np.asarray(self.image.array[self.roi.intensity], dtype=np.float64)

    @cached_property
    def texture_box(self) -> tuple[slice, ...]:
        """The intensity mask's bounding box. Texture matrices only count ROI voxels, so the
        margin kept around the ROI for local intensity would only add work to them."""
        return _bounding_box(self.roi.intensity, 0)

    @cached_property
    def texture_mask(self) -> np.ndarray:
        """The intensity mask within :attr:`texture_box`, shaped like :attr:`levels`."""
        return self.roi.intensity[self.texture_box]

    @cached_property
    def _texture(self) -> tuple[np.ndarray, int]:
        lower = self.settings.resegmentation_range
        box = self.texture_box
        levels, n_levels = discretise_volume(
            self.image.array[box],
            self.texture_mask,
            self.settings.texture_discretisation,
            None if lower is None else lower[0],
        )
        # int16 when the levels fit (nearly always): the texture families sweep this volume
        # many times, and a quarter of the bytes makes each sweep cheaper. Signed, so that
        # differences of levels stay exact.
        if n_levels < np.iinfo(np.int16).max:
            levels = levels.astype(np.int16)
        return levels, n_levels

    @property
    def levels(self) -> np.ndarray:
        """Discretised grey levels 1..Ng inside the intensity mask, 0 outside, over
        :attr:`texture_box` (not the whole cropped image)."""
        return self._texture[0]

    @property
    def n_levels(self) -> int:
        return self._texture[1]

    def features_for(self, family: str, features: tuple[Feature, ...]) -> tuple[Feature, ...]:
        """The family's features this extraction reports: all, or those ``settings.features``
        names (in any aggregation)."""
        if not self.settings.features:
            return features
        from imaging.radiomics.selection import names_for

        names = names_for(self.settings.features, family)
        return tuple(f for f in features if f.name in names)

    def aggregations_for(self, family: str) -> tuple[str, ...]:
        """The texture aggregations to compute for ``family`` (empty: all)."""
        if not self.settings.features:
            return self.settings.aggregations
        from imaging.radiomics.selection import aggregations_for

        return aggregations_for(self.settings.features, family)


def resegment(image: Image, roi: Roi, settings: RadiomicsSettings) -> Roi:
    """IBSI 2.5: drop intensity-mask voxels outside the range, then outliers beyond k sigma."""
    intensity = roi.intensity.copy()
    if settings.resegmentation_range is not None:
        lo, hi = settings.resegmentation_range
        intensity &= (image.array >= lo) & (image.array <= hi)
    if settings.outlier_sigma is not None:
        # Mean and sigma are taken over the ROI before outlier filtering (IBSI 2.5.2).
        inside = image.array[roi.intensity]
        mu, sd = float(inside.mean()), float(inside.std())
        k = settings.outlier_sigma
        intensity &= (image.array >= mu - k * sd) & (image.array <= mu + k * sd)
    return Roi(roi.morphological, intensity)


def _bounding_box(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    """The mask's bounding box plus `margin` voxels, from per-axis projections (no index
    arrays as large as the ROI)."""
    box = []
    for axis, n in enumerate(mask.shape):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        box.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + margin + 1, n)))
    return tuple(box)


def prepare(image: Image, mask: np.ndarray, settings: RadiomicsSettings) -> RoiContext:
    """Crop, re-segment and wrap an image and a binary mask for feature computation."""
    if mask.shape != image.array.shape:
        raise ValueError(f"mask shape {mask.shape} differs from image shape {image.array.shape}")
    if not mask.any():
        raise ValueError("the ROI is empty")
    if settings.resampled_spacing_mm is not None:
        image, mask = resample(image, mask, settings)
        if not mask.any():
            raise ValueError(
                "the ROI is empty after interpolation: no voxel of the new grid reaches the "
                f"partial-volume threshold {settings.roi_partial_volume}"
            )
    # Keep a margin so the 1 cm^3 local-intensity sphere still sees the voxels around the ROI.
    margin = int(np.ceil(6.3 / min(image.spacing))) + 1
    if settings.resampled_spacing_mm is None:
        # Crop before building the ROI masks: on a whole CT each full-size mask costs tens of
        # MB. (With interpolation the grid is aligned on the whole image, so crop afterwards.)
        box = _bounding_box(mask, margin)
        image, mask = Image(image.array[box], image.spacing), mask[box]
    roi = Roi.from_mask(mask)
    image, roi = crop_to_roi(image, roi, margin=margin)
    roi = resegment(image, roi, settings)
    if not roi.intensity.any():
        raise ValueError("the ROI is empty after re-segmentation")
    return RoiContext(image=image, roi=roi, settings=settings)
