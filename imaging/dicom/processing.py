"""Post-processing of volumes and slices: resampling, windowing, denoising, enhancement and
intensity normalisation. Each function takes arrays or `Volume` and returns new ones.

Resampling convention: the centre of voxel ``[0, 0, 0]`` stays where it is (the origin is
unchanged) and the new grid covers the same physical extent, so the new size along an axis
is ``round(n * old_spacing / new_spacing)``. This is SimpleITK's and pyradiomics' convention;
IBSI's grid-centre alignment differs by up to half a voxel and is the radiomics module's
business.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from imaging.dicom.volume import Volume

Interpolator = Literal["linear", "nearest", "bspline"]

# Window centre / width in HU. Lung, mediastinum, liver and brain follow the usual radiology
# teaching values (e.g. Radiopaedia "Windowing (CT)"); bone uses the 400/1800 wide bone window
# of the same source (a 300/1500 "bone" window is also common).
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "liver": (60.0, 160.0),
    "brain": (40.0, 80.0),
}


def _sitk_interpolator(name: str) -> int:
    import SimpleITK as sitk

    table = {
        "linear": sitk.sitkLinear,
        "nearest": sitk.sitkNearestNeighbor,
        "bspline": sitk.sitkBSpline,
    }
    if name not in table:
        raise ValueError(f"interpolator must be one of {sorted(table)}, not {name!r}")
    return table[name]


def resample(
    volume: Volume,
    spacing: tuple[float, float, float],
    interpolator: Interpolator = "linear",
    *,
    default_value: float = 0.0,
) -> Volume:
    """Resample to ``spacing`` (z, y, x mm), keeping origin, direction and physical extent."""
    import SimpleITK as sitk

    if any(s <= 0 for s in spacing):
        raise ValueError(f"spacing must be positive, got {spacing}")
    image = volume.to_sitk()
    if interpolator != "nearest" and image.GetPixelID() not in (sitk.sitkFloat32, sitk.sitkFloat64):
        image = sitk.Cast(image, sitk.sitkFloat32)
    new_spacing_xyz = (spacing[2], spacing[1], spacing[0])
    size = [
        max(1, int(round(n * old / new)))
        for n, old, new in zip(image.GetSize(), image.GetSpacing(), new_spacing_xyz, strict=True)
    ]
    resampled = sitk.Resample(
        image,
        size,
        sitk.Transform(),
        _sitk_interpolator(interpolator),
        image.GetOrigin(),
        new_spacing_xyz,
        image.GetDirection(),
        default_value,
        image.GetPixelID(),
    )
    result = Volume.from_sitk(resampled, modality=volume.modality, series_uid=volume.series_uid)
    result.frame_of_reference_uid = volume.frame_of_reference_uid
    return result


def resample_mask(
    mask: Volume,
    spacing: tuple[float, float, float],
    *,
    method: Literal["nearest", "partial_volume"] = "nearest",
    threshold: float = 0.5,
) -> Volume:
    """Resample a boolean mask. ``nearest`` copies the nearest voxel; ``partial_volume``
    interpolates the mask linearly as a fraction and keeps voxels with fraction >= threshold
    (IBSI's recommended 0.5)."""
    as_float = mask.with_array(np.asarray(mask.array, dtype=np.float32))
    if method == "nearest":
        out = resample(as_float, spacing, "nearest")
        return out.with_array(out.array > 0.5)
    if method == "partial_volume":
        out = resample(as_float, spacing, "linear")
        return out.with_array(out.array >= threshold)
    raise ValueError(f"method must be 'nearest' or 'partial_volume', not {method!r}")


def resample_to_reference(
    volume: Volume, reference: Volume, interpolator: Interpolator = "linear", *, transform=None
) -> Volume:
    """``volume`` on ``reference``'s grid (optionally through a SimpleITK transform mapping
    reference points to ``volume`` points, as registration returns)."""
    import SimpleITK as sitk

    image = volume.to_sitk()
    if interpolator != "nearest":
        image = sitk.Cast(image, sitk.sitkFloat32)
    out = sitk.Resample(
        image,
        reference.to_sitk(),
        transform or sitk.Transform(),
        _sitk_interpolator(interpolator),
        0.0,
        image.GetPixelID(),
    )
    result = Volume.from_sitk(out, modality=volume.modality, series_uid=volume.series_uid)
    result.frame_of_reference_uid = reference.frame_of_reference_uid
    return result


def window(array: np.ndarray, center: float, width: float) -> np.ndarray:
    """Grey levels 0-255 by the DICOM linear VOI LUT (PS3.3 C.11.2.1.2.1):
    ``((x - (c - 0.5)) / (w - 1) + 0.5) * 255``, clipped below ``c - 0.5 - (w-1)/2`` and above
    ``c - 0.5 + (w-1)/2``."""
    if width < 1:
        raise ValueError("window width must be >= 1")
    values = np.asarray(array, dtype=np.float64)
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def window_preset(array: np.ndarray, preset: str) -> np.ndarray:
    """`window` with a named preset from `WINDOW_PRESETS`."""
    if preset not in WINDOW_PRESETS:
        raise ValueError(f"unknown window preset {preset!r}; known: {sorted(WINDOW_PRESETS)}")
    return window(array, *WINDOW_PRESETS[preset])


def _per_slice(array: np.ndarray, function) -> np.ndarray:
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 2:
        return function(values).astype(np.float32)
    if values.ndim == 3:
        return np.stack([function(plane) for plane in values]).astype(np.float32)
    raise ValueError("expected a 2D slice or a 3D [z, y, x] array")


def denoise_bilateral(
    array: np.ndarray, *, sigma_intensity: float, sigma_spatial: float = 1.0
) -> np.ndarray:
    """Edge-preserving bilateral filter, slice by slice (skimage). ``sigma_intensity`` is in the
    image's own units (HU for CT): differences well above it are treated as edges."""
    from skimage.restoration import denoise_bilateral as bilateral

    low = float(np.min(array))
    span = float(np.ptp(array)) or 1.0

    # skimage bins intensities over [0, 1]; scale in and out so sigma stays in image units.
    def run(plane: np.ndarray) -> np.ndarray:
        out = bilateral(
            (plane - low) / span,
            sigma_color=sigma_intensity / span,
            sigma_spatial=sigma_spatial,
        )
        return out * span + low

    return _per_slice(array, run)


def estimate_noise_sigma(plane: np.ndarray) -> float:
    """Gaussian noise sigma of a 2D image by Immerkaer's method (J. Immerkaer, "Fast noise
    variance estimation", Computer Vision and Image Understanding 64(2), 1996): the mean
    absolute response to a Laplacian-difference kernel that cancels flat and linear regions.
    (skimage's estimate_sigma needs PyWavelets, which is not a dependency.)"""
    from scipy.ndimage import convolve

    values = np.asarray(plane, dtype=np.float64)
    if min(values.shape) < 3:
        return 0.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=float)
    response = np.abs(convolve(values, kernel)[1:-1, 1:-1])
    return float(np.sqrt(np.pi / 2) * response.sum() / (6 * response.size))


def denoise_nl_means(
    array: np.ndarray,
    *,
    h: float | None = None,
    patch_size: int = 5,
    patch_distance: int = 6,
) -> np.ndarray:
    """Non-local means, slice by slice (skimage, fast mode). ``h`` defaults to 0.8 x the noise
    sigma estimated per slice (`estimate_noise_sigma`), as skimage's guide suggests."""
    from skimage.restoration import denoise_nl_means as nl_means

    def run(plane: np.ndarray) -> np.ndarray:
        sigma = estimate_noise_sigma(plane)
        strength = h if h is not None else 0.8 * sigma
        return nl_means(
            plane,
            h=strength,
            sigma=sigma,
            patch_size=patch_size,
            patch_distance=patch_distance,
            fast_mode=True,
        )

    return _per_slice(array, run)


def enhance_clahe(
    array: np.ndarray, *, clip_limit: float = 0.01, kernel_size: int | None = None
) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (skimage ``equalize_adapthist``), slice
    by slice. The input is min-max scaled to [0, 1] first; the output is float32 in [0, 1]."""
    from skimage.exposure import equalize_adapthist

    low = float(np.min(array))
    span = float(np.ptp(array)) or 1.0

    def run(plane: np.ndarray) -> np.ndarray:
        return equalize_adapthist(
            (plane - low) / span, kernel_size=kernel_size, clip_limit=clip_limit
        )

    return _per_slice(array, run)


def normalise_zscore(array: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(x - mean) / std, with mean and std taken inside ``mask`` when given."""
    values = np.asarray(array, dtype=np.float64)
    sample = values[mask] if mask is not None else values
    std = float(sample.std())
    if std == 0:
        raise ValueError("constant intensities: z-score undefined")
    return ((values - sample.mean()) / std).astype(np.float32)


def normalise_percentile(
    array: np.ndarray,
    *,
    low: float = 1.0,
    high: float = 99.0,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Map the ``low``-th and ``high``-th percentiles to 0 and 1, clipping outside."""
    values = np.asarray(array, dtype=np.float64)
    sample = values[mask] if mask is not None else values
    p_low, p_high = np.percentile(sample, [low, high])
    if p_high <= p_low:
        raise ValueError("percentiles coincide: normalisation undefined")
    return np.clip((values - p_low) / (p_high - p_low), 0, 1).astype(np.float32)
