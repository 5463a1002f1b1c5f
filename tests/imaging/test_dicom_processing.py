"""Post-processing on inputs with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.dicom.processing import (
    WINDOW_PRESETS,
    denoise_bilateral,
    denoise_nl_means,
    enhance_clahe,
    normalise_percentile,
    normalise_zscore,
    resample,
    resample_mask,
    window,
    window_preset,
)
from imaging.dicom.volume import Volume


def _ramp_volume() -> Volume:
    """f(p) = 2*x + 3*y - z + 10 in LPS mm, on an oblique-free grid with anisotropic voxels."""
    spacing, origin = (3.0, 1.0, 0.5), (-10.0, 5.0, 100.0)
    z, y, x = np.mgrid[0:10, 0:20, 0:40].astype(float)
    px, py, pz = origin[0] + x * spacing[2], origin[1] + y * spacing[1], origin[2] + z * spacing[0]
    return Volume((2 * px + 3 * py - pz + 10).astype(np.float32), spacing, origin)


def test_linear_resampling_of_a_linear_ramp_is_exact_at_every_interior_voxel():
    ramp = _ramp_volume()
    out = resample(ramp, (1.0, 2.0, 1.25), "linear")
    assert out.shape == (30, 10, 16)  # same extent: 10*3/1, 20*1/2, 40*0.5/1.25
    assert out.origin == pytest.approx(ramp.origin)
    k, j, i = np.mgrid[0:28, 0:10, 0:16]  # z beyond the last input centre (27 mm) extrapolates
    points = out.index_to_patient(np.c_[i.ravel(), j.ravel(), k.ravel()])
    expected = 2 * points[:, 0] + 3 * points[:, 1] - points[:, 2] + 10
    inside = (points[:, 0] <= -10 + 39 * 0.5) & (points[:, 1] <= 5 + 19)
    np.testing.assert_allclose(out.array[:28].ravel()[inside], expected[inside], atol=1e-3)


def test_bspline_resampling_keeps_a_ramp_at_its_known_values_in_the_interior():
    ramp = _ramp_volume()
    out = resample(ramp, (1.5, 1.0, 0.5), "bspline")
    # z = 100 + 1.5*6 = 109 mm, y = 5 + 10 = 15, x = -10 + 20*0.5 = 0
    assert out.array[6, 10, 20] == pytest.approx(2 * 0 + 3 * 15 - 109 + 10, abs=1e-2)


def test_nearest_mask_resampling_keeps_labels_binary_and_volume():
    mask = np.zeros((10, 20, 20), bool)
    mask[2:8, 5:15, 5:15] = True
    volume = Volume(mask, (2.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    out = resample_mask(volume, (1.0, 1.0, 1.0))
    assert out.array.dtype == bool
    assert out.array.sum() * 1.0 == pytest.approx(mask.sum() * 2.0, rel=0.1)


def test_partial_volume_threshold_decides_boundary_voxels():
    mask = np.zeros((1, 1, 4), bool)
    mask[0, 0, :2] = True  # voxel centres at x = 0, 1, 2, 3; inside for x <= 1
    volume = Volume(mask, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    # new centres at x = 0, 0.5, ... 3.5: the one at 1.5 is half inside (linear fraction 0.5)
    strict = resample_mask(volume, (1.0, 1.0, 0.5), method="partial_volume", threshold=0.6)
    loose = resample_mask(volume, (1.0, 1.0, 0.5), method="partial_volume", threshold=0.5)
    assert strict.array[0, 0].tolist() == [True, True, True, False, False, False, False, False]
    assert loose.array[0, 0].tolist() == [True, True, True, True, False, False, False, False]


def test_window_follows_the_dicom_linear_voi_function():
    center, width = WINDOW_PRESETS["mediastinum"]
    assert (center, width) == (40.0, 400.0)
    values = np.array([-1000, center - 0.5 - 199.5, center, center - 0.5 + 199.5 + 1, 3000])
    out = window(values, center, width)
    assert out.dtype == np.uint8
    # PS3.3 C.11.2.1.2.1: lower bound -> 0, upper -> 255, centre -> ((0.5)/(w-1)+0.5)*255
    assert out.tolist() == [0, 0, round((0.5 / 399 + 0.5) * 255), 255, 255]


def test_window_presets_cover_the_viewer_names():
    assert set(WINDOW_PRESETS) == {"lung", "mediastinum", "bone", "liver", "brain"}
    assert window_preset(np.array([-600.0]), "lung")[0] == 128
    with pytest.raises(ValueError, match="unknown window preset"):
        window_preset(np.zeros(1), "heart")


def _noisy_step(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    clean = np.zeros((64, 64))
    clean[:, 32:] = 400.0
    noisy = clean + np.random.default_rng(seed).normal(0, 20, clean.shape)
    return clean, noisy


@pytest.mark.parametrize(
    "denoise",
    [
        lambda a: denoise_bilateral(a, sigma_intensity=60.0, sigma_spatial=2.0),
        lambda a: denoise_nl_means(a),
    ],
    ids=["bilateral", "nl_means"],
)
def test_denoising_lowers_noise_and_keeps_the_edge(denoise):
    clean, noisy = _noisy_step()
    out = denoise(noisy)
    flat = (slice(8, 56), slice(4, 26))
    assert out[flat].std() < 0.5 * noisy[flat].std()
    # the 400 HU step stays a step: columns either side of it keep their levels
    assert out[8:56, 30].mean() == pytest.approx(0, abs=30)
    assert out[8:56, 33].mean() == pytest.approx(400, abs=30)


def test_denoising_works_slice_by_slice_on_a_volume():
    _, noisy = _noisy_step()
    stack = np.stack([noisy, noisy])
    out = denoise_bilateral(stack, sigma_intensity=60.0, sigma_spatial=2.0)
    assert out.shape == stack.shape
    np.testing.assert_allclose(out[0], out[1])


def test_clahe_raises_local_contrast_of_a_low_contrast_image():
    y, x = np.mgrid[0:128, 0:128]
    low_contrast = 100 + 5 * (np.sin(x / 6.0) > 0) + 0.5 * y / 128  # two close grey levels
    out = enhance_clahe(low_contrast)
    scaled = (low_contrast - low_contrast.min()) / np.ptp(low_contrast)
    assert out.min() >= 0
    assert out.max() <= 1
    assert out.std() > scaled.std()


def test_zscore_normalisation_gives_zero_mean_unit_std_inside_the_mask():
    values = np.random.default_rng(1).normal(50, 8, (20, 20))
    mask = np.zeros_like(values, bool)
    mask[5:15, 5:15] = True
    out = normalise_zscore(values, mask)
    assert out[mask].mean() == pytest.approx(0, abs=1e-5)
    assert out[mask].std() == pytest.approx(1, abs=1e-5)


def test_percentile_normalisation_maps_percentiles_to_zero_and_one():
    values = np.arange(101, dtype=float)
    out = normalise_percentile(values, low=10, high=90)
    assert out[10] == 0
    assert out[90] == 1
    assert out[50] == pytest.approx(0.5)
    assert out[0] == 0
    assert out[100] == 1


def test_noise_sigma_estimate_recovers_the_added_noise():
    from imaging.dicom.processing import estimate_noise_sigma

    y, x = np.mgrid[0:200, 0:200]
    image = 3.0 * x - 2.0 * y + np.random.default_rng(2).normal(0, 12, (200, 200))
    assert estimate_noise_sigma(image) == pytest.approx(12, rel=0.05)
