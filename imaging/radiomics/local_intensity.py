"""Local intensity features (IBSI reference manual, section 3.2).

The local mean of a voxel is the mean intensity of all image voxels (inside or outside the ROI)
whose centres lie within a sphere of volume 1 cm^3 around it, radius
r = (3 / (4 pi) * 1000 mm^3)^(1/3) ~ 6.20 mm, measured in mm so anisotropic voxels are handled.
Voxels beyond the image border are not counted.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, evaluate, feature

FAMILY_KEY = "loc"
SPHERE_RADIUS_MM = (3.0 / (4.0 * np.pi) * 1000.0) ** (1.0 / 3.0)


def sphere_kernel(spacing: tuple[float, float, float]) -> np.ndarray:
    reach = [int(np.floor(SPHERE_RADIUS_MM / s)) for s in spacing]
    grids = np.meshgrid(
        *[np.arange(-n, n + 1) * s for n, s in zip(reach, spacing, strict=True)], indexing="ij"
    )
    return (sum(g**2 for g in grids) <= SPHERE_RADIUS_MM**2).astype(np.float64)


def local_means(array: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    kernel = sphere_kernel(spacing)  # symmetric, so convolution equals correlation
    if array.size * kernel.size < 5e7:
        sums = ndimage.correlate(array.astype(np.float64), kernel, mode="constant", cval=0.0)
        counts = ndimage.correlate(np.ones(array.shape), kernel, mode="constant", cval=0.0)
    else:  # large ROIs: FFT convolution (zero padding = voxels beyond the border not counted)
        sums = signal.fftconvolve(array.astype(np.float64), kernel, mode="same")
        counts = np.rint(signal.fftconvolve(np.ones(array.shape), kernel, mode="same"))
    return sums / counts


@feature("local_peak", "VJGA")
def local_peak(means: np.ndarray, array: np.ndarray, mask: np.ndarray) -> float:
    """Local intensity peak (VJGA): max of the 1 cm^3 local mean over the ROI voxels of maximal
    intensity, F = max{ mean_sphere(k) : X_k = max_ROI X }."""
    top = mask & (array == array[mask].max())
    return float(means[top].max())


@feature("global_peak", "0F91")
def global_peak(means: np.ndarray, array: np.ndarray, mask: np.ndarray) -> float:
    """Global intensity peak (0F91): F = max over ROI voxels k of the 1 cm^3 local mean."""
    return float(means[mask].max())


FEATURES: tuple[Feature, ...] = (local_peak, global_peak)


def compute(ctx: RoiContext) -> list[FeatureValue]:
    arr = ctx.image.array
    means = local_means(arr, ctx.image.spacing)
    return evaluate(
        FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), (means, arr, ctx.roi.intensity)
    )


FAMILY = Family(FAMILY_KEY, "Local intensity features", FEATURES, compute)
