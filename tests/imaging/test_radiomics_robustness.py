"""Degenerate ROIs give NaN for undefined features, never a crash or a warning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imaging.radiomics import Image, extract_features, preset


def _noise() -> np.ndarray:
    return np.random.default_rng(0).normal(40, 30, (12, 24, 24)).round()


def _mask(*box: slice) -> np.ndarray:
    m = np.zeros((12, 24, 24), dtype=bool)
    m[box] = True
    return m


@pytest.mark.parametrize("name", ["ibsi-A", "ibsi-C", "ibsi-E", "ct-default", "mr-default"])
@pytest.mark.parametrize(
    "mask",
    [
        _mask(slice(5, 6), slice(8, 13), slice(8, 13)),  # one slice
        _mask(slice(0, 3), slice(0, 4), slice(0, 4)),  # touches the image corner
        _mask(slice(3, 9), slice(5, 15), slice(6, 18)),  # a box
    ],
    ids=["single-slice", "corner", "box"],
)
@pytest.mark.parametrize("flat", [False, True], ids=["noise", "flat"])
def test_degenerate_rois_give_finite_or_nan_values(name: str, mask: np.ndarray, flat: bool) -> None:
    array = np.full(mask.shape, 7.0) if flat else _noise()
    values = extract_features(Image(array, (2.5, 0.8, 0.8)), mask, preset(name))
    assert values
    # Volume and mean are always defined; on a flat image skewness is 0/0 and must be NaN.
    by_key = {v.key: v.value for v in values}
    assert by_key["morph_volume"] > 0
    assert by_key["stat_mean"] == pytest.approx(7.0 if flat else array[mask].mean(), abs=30)
    if flat and (preset(name).intensity_rounding or preset(name).interpolation is None):
        # Unrounded interpolation (MR) leaves ulp-level noise, for which skewness is defined.
        assert math.isnan(by_key["stat_skewness"])


def test_a_roi_lost_to_interpolation_is_reported() -> None:
    mask = _mask(slice(5, 6), slice(10, 11), slice(10, 11))  # one 2.5 x 0.8 x 0.8 mm voxel
    with pytest.raises(ValueError, match="empty after interpolation"):
        extract_features(Image(_noise(), (2.5, 0.8, 0.8)), mask, preset("ibsi-C"))


def test_a_roi_lost_to_resegmentation_is_reported() -> None:
    array = np.full((12, 24, 24), 3000.0)  # all above the [-1000, 400] HU range
    with pytest.raises(ValueError, match="empty after re-segmentation"):
        extract_features(Image(array, (2.5, 0.8, 0.8)), _mask(slice(3, 6)), preset("ibsi-A"))


def test_mask_on_another_grid_is_rejected() -> None:
    with pytest.raises(ValueError, match="differs from image shape"):
        extract_features(Image(_noise(), (1, 1, 1)), np.ones((2, 2, 2), bool), preset("ibsi-A"))


def test_any_volume_with_array_and_spacing_is_accepted() -> None:
    # imaging.dicom.Volume exposes array (z, y, x) and spacing (z, y, x) mm; duck typing keeps
    # the engine free of that import.
    class Volume:
        array = _noise()
        spacing = (2.5, 0.8, 0.8)

    mask = _mask(slice(3, 9), slice(5, 15), slice(6, 18))
    direct = extract_features(Image(Volume.array, Volume.spacing), mask, preset("ibsi-A"))
    via_volume = extract_features(Volume(), mask, preset("ibsi-A"))
    assert [v.value for v in via_volume] == [v.value for v in direct]


def test_pet_preset_bins_suv_from_zero() -> None:
    # SUV 0..5 in a sphere-free box: FBS 0.25 from SUV 0 gives grey levels 1..20.
    array = np.random.default_rng(2).uniform(0.0, 4.99, (12, 24, 24))
    mask = _mask(slice(2, 10), slice(4, 20), slice(4, 20))
    values = extract_features(Image(array, (3.0, 3.0, 3.0)), mask, preset("pet-default"))
    by_key = {v.key: v.value for v in values}
    assert 1 <= by_key["ih_minimum"] <= 2
    assert 19 <= by_key["ih_maximum"] <= 20
    assert by_key["ivh_v10"] > by_key["ivh_v90"]
