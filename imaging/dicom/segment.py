"""Semi-automatic lesion segmentation from a seed point, for when no mask exists.

Threshold + region growing inside a window around the seed: the voxels connected to the seed
(26-connectivity) whose intensity lies in [low, high]. The range is either given (HU) or taken
from the seed's neighbourhood (mean +/- k standard deviations of a small cube around the seed),
which follows the lesion rather than a fixed HU band. A morphological opening cuts thin bridges
to touching vessels or chest wall; holes are filled slice by slice (calcification, necrosis).
The result is a proposal: the caller stores it marked as semi-automatic and editable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from imaging.dicom.volume import Volume


class SegmentationError(ValueError):
    """The seed or the parameters cannot give a lesion (seed outside, empty result...)."""


@dataclass(frozen=True)
class SeedSegmentation:
    mask: np.ndarray  # bool, the volume's shape
    low: float
    high: float
    window_mm: float
    voxels: int
    touches_window: bool  # the region reached the window's edge: probably leaked; review it


def _seed_range(array: np.ndarray, seed: tuple[int, int, int], k: float) -> tuple[float, float]:
    z, y, x = seed
    cube = array[max(z - 1, 0) : z + 2, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
    mean = float(cube.mean())
    spread = max(float(cube.std()), 1e-6)
    return mean - k * spread - 1e-6, mean + k * spread + 1e-6


def segment_from_seed(
    volume: Volume,
    seed_zyx: tuple[int, int, int],
    *,
    low: float | None = None,
    high: float | None = None,
    k_sigma: float = 3.0,
    min_range: float = 100.0,
    window_mm: float = 60.0,
    opening_mm: float = 0.0,
) -> SeedSegmentation:
    """Grow a lesion from `seed_zyx` (voxel indices z, y, x).

    `low`/`high`: the intensity range (HU for CT); when omitted, the seed's neighbourhood
    mean +/- `k_sigma` standard deviations, widened to at least `min_range`. `window_mm`: the
    side of the cube around the seed the region may not leave. `opening_mm`: radius of the
    opening that cuts bridges (0 = none).
    """
    array = volume.array
    if any(not 0 <= s < n for s, n in zip(seed_zyx, array.shape, strict=True)):
        raise SegmentationError(f"seed {seed_zyx} lies outside the volume {array.shape}")
    if (low is None) != (high is None):
        raise SegmentationError("give both low and high, or neither")
    if low is None or high is None:
        low, high = _seed_range(array, seed_zyx, k_sigma)
        centre = (low + high) / 2
        half = max((high - low) / 2, min_range / 2)
        low, high = centre - half, centre + half
    if not low < high:
        raise SegmentationError("low must be below high")
    if not low <= array[seed_zyx] <= high:
        raise SegmentationError("the seed's own intensity lies outside the range")

    spacing = np.asarray(volume.spacing, dtype=float)
    half_vox = np.ceil(window_mm / 2 / spacing).astype(int)
    lo = np.maximum(np.asarray(seed_zyx) - half_vox, 0)
    hi = np.minimum(np.asarray(seed_zyx) + half_vox + 1, array.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    inside = (array[box] >= low) & (array[box] <= high)
    if opening_mm > 0:
        radius = np.maximum(np.round(opening_mm / spacing).astype(int), 1)
        zz, yy, xx = np.ogrid[
            -radius[0] : radius[0] + 1, -radius[1] : radius[1] + 1, -radius[2] : radius[2] + 1
        ]
        ball = (zz / radius[0]) ** 2 + (yy / radius[1]) ** 2 + (xx / radius[2]) ** 2 <= 1
        inside = ndimage.binary_opening(inside, structure=ball)
    local_seed = tuple(int(s - a) for s, a in zip(seed_zyx, lo, strict=True))
    if not inside[local_seed]:
        raise SegmentationError("the opening removed the seed: choose a seed inside the lesion")
    labels, _ = ndimage.label(inside, structure=np.ones((3, 3, 3), dtype=bool))
    region = labels == labels[local_seed]
    for z in range(region.shape[0]):  # fill holes per axial slice
        region[z] = ndimage.binary_fill_holes(region[z])
    touches = bool(
        region[0].any()
        and lo[0] > 0
        or region[-1].any()
        and hi[0] < array.shape[0]
        or region[:, 0].any()
        and lo[1] > 0
        or region[:, -1].any()
        and hi[1] < array.shape[1]
        or region[:, :, 0].any()
        and lo[2] > 0
        or region[:, :, -1].any()
        and hi[2] < array.shape[2]
    )
    mask = np.zeros(array.shape, dtype=bool)
    mask[box] = region
    return SeedSegmentation(
        mask=mask,
        low=float(low),
        high=float(high),
        window_mm=window_mm,
        voxels=int(mask.sum()),
        touches_window=touches,
    )
