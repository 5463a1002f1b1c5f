"""The seeded synthetic chest: its anatomy checked against the geometry it is drawn from."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.screening.phantom import AIR_HU, LUNG_HU, chest_phantom


@pytest.fixture(scope="module")
def phantom():
    return chest_phantom(seed=3)


def test_same_seed_same_phantom_other_seed_other_phantom(phantom):
    again = chest_phantom(seed=3)
    assert np.array_equal(again.hu, phantom.hu)
    other = chest_phantom(seed=4)
    assert not np.array_equal(other.hu, phantom.hu)


def test_tissues_have_their_hu(phantom):
    hu = phantom.hu
    assert hu.dtype == np.float32
    assert hu.shape == (96, 192, 192)
    assert phantom.spacing == (2.5, 1.5, 1.5)
    # away from edges (eroded masks) each tissue shows its nominal HU within the 20 HU noise
    from scipy import ndimage as ndi

    lung_core = ndi.binary_erosion(phantom.lungs & ~phantom.vessels, iterations=2)
    lung_core &= ~ndi.binary_dilation(phantom.vessels, iterations=2)
    assert abs(float(np.median(hu[lung_core])) - LUNG_HU) < 5
    assert 15 < float(hu[lung_core].std()) < 25
    outside = ~ndi.binary_dilation(phantom.body, iterations=2)
    assert abs(float(np.median(hu[outside])) - AIR_HU) < 5
    airway_core = ndi.binary_erosion(phantom.airways, iterations=1)
    assert float(np.median(hu[airway_core])) < -950
    vessel_core = ndi.binary_erosion(phantom.vessels)
    assert float(np.median(hu[vessel_core])) > -100


def test_two_lungs_on_their_sides_with_physiological_volumes(phantom):
    left, right = phantom.lungs_left, phantom.lungs_right
    assert not (left & right).any()
    xs = np.arange(phantom.hu.shape[2])
    # patient left is +x (higher x index)
    assert xs[left.any(axis=(0, 1))].min() > phantom.hu.shape[2] / 2
    assert xs[right.any(axis=(0, 1))].max() < phantom.hu.shape[2] / 2
    vols = phantom.lung_volumes_ml()
    # by hand: voxel 2.5 * 1.5 * 1.5 mm = 5.625 ul
    assert vols["total"] == pytest.approx(phantom.lungs.sum() * 5.625 / 1000)
    # a small adult (body ~250 x 180 mm): 1.5-4 L at rest; the right lung is the larger
    assert 1500 < vols["total"] < 4000
    assert vols["right"] > vols["left"]


def test_airways_run_from_the_top_into_both_lungs(phantom):
    air = phantom.airways
    assert air[-1].any()  # the trachea leaves the field at the top
    assert not (air & phantom.lungs).any()  # lumen is not lung
    # the bronchi end inside each lung's outline (lumen ringed by lung in its slice)
    grown = air.copy()
    from scipy import ndimage as ndi

    near = ndi.binary_dilation(grown, iterations=3)
    assert (near & phantom.lungs_left).any()
    assert (near & phantom.lungs_right).any()


def test_vessels_branch_and_taper_inside_the_lungs(phantom):
    from scipy import ndimage as ndi

    vessels = phantom.vessels
    assert (vessels & ~phantom.lungs).sum() == 0
    assert vessels.sum() > 1000
    # tapering: thickness (distance to the vessel wall) ranges from >= 3 mm down to one voxel
    thickness = ndi.distance_transform_edt(vessels, sampling=phantom.spacing)
    assert thickness.max() >= 3.0
    # branching: many end points -> many separate pieces in a slab away from the hilum
    labels, n = ndi.label(vessels[:, :, :60])
    assert n >= 5


def test_other_shapes_and_bad_input():
    small = chest_phantom(seed=0, shape=(40, 64, 64), spacing=(5.0, 4.0, 4.0))
    assert small.hu.shape == (40, 64, 64)
    assert small.lungs_left.any()
    assert small.lungs_right.any()
    with pytest.raises(ValueError, match="spacing"):
        chest_phantom(spacing=(2.5, 0.0, 1.5))
    with pytest.raises(ValueError, match="shape"):
        chest_phantom(shape=(4, 64, 64))
