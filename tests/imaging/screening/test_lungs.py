"""Lung segmentation against known truth: the seeded chest phantom's lung, airway and vessel
masks (drawn, not segmented), nodules inserted at known places, and the real IBSI CT phantom
(a lung-cancer CT cropped to one lung) with its delineated tumour (GTV-1, NIfTI mask)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from imaging.dicom.masks import dice, nifti_to_mask
from imaging.dicom.volume import volume_from_dir
from imaging.screening.insert import insert_nodules, plan_nodules
from imaging.screening.lungs import segment_lungs
from imaging.screening.phantom import chest_phantom
from tests.shared_data import shared_data


@pytest.fixture(scope="module")
def phantom():
    return chest_phantom(seed=7)


@pytest.fixture(scope="module")
def segmented(phantom):
    return segment_lungs(phantom.hu, phantom.spacing)


def test_both_lungs_match_the_phantom_truth(phantom, segmented):
    assert dice(segmented.mask, phantom.lungs) >= 0.95
    assert dice(segmented.left, phantom.lungs_left) >= 0.9
    assert dice(segmented.right, phantom.lungs_right) >= 0.9
    # no voxel on the wrong side; the mask is the union of the sides
    assert not (segmented.left & phantom.lungs_right).any()
    assert not (segmented.right & phantom.lungs_left).any()
    assert np.array_equal(segmented.mask, segmented.left | segmented.right)
    assert not (segmented.left & segmented.right).any()


def test_trachea_and_main_bronchi_are_not_lung(phantom, segmented):
    inside = (segmented.mask & phantom.airways).sum() / phantom.airways.sum()
    assert inside <= 0.05
    # and they were found as airways: most of the lumen is in the airway mask
    assert (segmented.airways & phantom.airways).sum() >= 0.8 * phantom.airways.sum()


def test_lung_volumes_match_the_truth_within_5_percent(phantom, segmented):
    # truth by hand: voxel count x 2.5 x 1.5 x 1.5 mm^3
    truth = {
        "left": phantom.lungs_left.sum() * 5.625e-3,
        "right": phantom.lungs_right.sum() * 5.625e-3,
    }
    for side in ("left", "right"):
        assert segmented.volumes_ml[side] == pytest.approx(truth[side], rel=0.05)
    total = segmented.volumes_ml["total"]
    assert total == pytest.approx(truth["left"] + truth["right"], rel=0.05)
    # the phantom is a small adult (body ~250 x 180 mm): 1.5-4 L, the right lung larger
    assert 1500 < total < 4000
    assert segmented.volumes_ml["right"] > segmented.volumes_ml["left"]
    summary = segmented.summary()
    json.dumps(summary)
    assert summary["volumes_ml"]["total"] == pytest.approx(total, abs=0.1)
    assert summary["warnings"] == []


def test_vessels_stay_inside_the_lung_mask(phantom, segmented):
    vessels = phantom.vessels
    assert (segmented.mask & vessels).sum() >= 0.95 * vessels.sum()


def test_inserted_nodules_free_vascular_and_pleural_stay_inside(phantom):
    rng = np.random.default_rng(11)
    specs = plan_nodules(
        phantom.lungs,
        phantom.spacing,
        rng,
        count=9,
        diameters_mm=(6.0, 10.0, 16.0),
        vessels=phantom.vessels,
    )
    assert {s.attachment for s in specs} == {"none", "vascular", "pleural"}
    assert {s.nodule_type for s in specs} == {"solid", "part_solid", "ground_glass"}
    hu, truths = insert_nodules(phantom.hu, phantom.spacing, specs, seed=5)
    seg = segment_lungs(hu, phantom.spacing)
    for truth in truths:
        inside = seg.mask[truth.box()][truth.mask].sum() / truth.mask.sum()
        assert inside >= 0.95, (truth.label, inside)
    assert dice(seg.mask, phantom.lungs) >= 0.95


def test_lungs_touching_in_front_are_split_at_the_junction(phantom):
    # bridge the anterior junction: the tissue line between the lungs becomes parenchyma
    hu = phantom.hu.copy()
    closed = ndi.binary_closing(phantom.lungs, structure=np.ones((1, 1, 9), bool))
    bridge = closed & ~phantom.lungs & (phantom.hu < 100) & ~phantom.airways
    bridge &= ~ndi.binary_dilation(phantom.airways, iterations=3)
    assert bridge.sum() > 20
    hu[bridge] = -850.0
    seg = segment_lungs(hu, phantom.spacing)
    assert any("junction" in w for w in seg.warnings)
    assert dice(seg.left, phantom.lungs_left) >= 0.9
    assert dice(seg.right, phantom.lungs_right) >= 0.9
    assert (seg.left & phantom.lungs_right).sum() <= 0.01 * phantom.lungs_right.sum()
    assert (seg.right & phantom.lungs_left).sum() <= 0.01 * phantom.lungs_left.sum()


def test_int16_input_gives_the_same_masks(phantom, segmented):
    seg = segment_lungs(np.round(phantom.hu).astype(np.int16), phantom.spacing)
    assert dice(seg.mask, segmented.mask) > 0.995


@pytest.mark.parametrize(
    ("array", "spacing", "message"),
    [
        (np.zeros((64, 64)), (1.0, 1.0, 1.0), "3D"),
        (np.zeros((8, 64, 64)), (1.0, 1.0), "spacing"),
        (np.zeros((8, 64, 64)), (1.0, 0.0, 1.0), "spacing"),
        (np.zeros((8, 64, 64)), (1.0, -1.0, 1.0), "spacing"),
        (np.full((8, 64, 64), -1000.0), (2.5, 1.5, 1.5), "all air"),
        (np.full((8, 64, 64), 40.0), (2.5, 1.5, 1.5), "no lung"),
        (np.zeros((8, 64, 64), bool), (2.5, 1.5, 1.5), "dtype"),
    ],
)
def test_bad_input_is_refused_with_a_reason(array, spacing, message):
    with pytest.raises(ValueError, match=message):
        segment_lungs(array, spacing)


def test_nan_and_body_without_lung_are_refused():
    hu = np.full((8, 64, 64), -1000.0)
    hu[:, 16:48, 16:48] = 40.0
    with pytest.raises(ValueError, match="no lung"):
        segment_lungs(hu, (2.5, 1.5, 1.5))
    hu[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        segment_lungs(hu, (2.5, 1.5, 1.5))


# --- the real CT -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ibsi():
    root = shared_data("ibsi", "ibsi_1_ct_radiomics_phantom")
    volume = volume_from_dir(root / "dicom" / "image")
    tumour = nifti_to_mask(root / "nifti" / "mask" / "mask.nii.gz", volume)
    return volume, tumour, segment_lungs(volume.array, volume.spacing)


def test_the_real_tumour_lies_in_the_lung_allowing_for_its_pleural_contact(ibsi):
    volume, tumour, seg = ibsi
    # GTV-1 is a ~9 cm mass in the right lower lobe resting on the chest wall (laterally) and
    # the diaphragm (below): its centroid lies inside the lung mask and most of it (72 % when
    # measured) does; the rest is its broad contact zone with the wall / diaphragm.
    centroid = tuple(int(round(c)) for c in ndi.center_of_mass(tumour))
    assert seg.mask[centroid]
    inside = (seg.mask & tumour).sum() / tumour.sum()
    assert inside >= 0.65, inside
    # the part left out is the contact zone: within 15 mm of tissue outside the lung mask
    outside_part = tumour & ~seg.mask
    dist = ndi.distance_transform_edt(~(~seg.mask & (volume.array > -400)), sampling=volume.spacing)
    assert np.percentile(dist[outside_part], 90) <= 15.0


def test_the_cropped_field_holds_one_right_lung_of_plausible_volume(ibsi):
    volume, _tumour, seg = ibsi
    # the field (60 x 201 x 204 voxels, 180 x 196 x 199 mm) holds the patient's right lung
    # (low x; the trachea lies at high x): no left lung
    assert seg.volumes_ml["left"] == 0.0
    assert any("one lung" in w for w in seg.warnings)
    # a right lung holds ~2-3.5 L at inspiration; 180 mm of its height minus the mediastinal
    # side is cut away by the field: 1-2.5 L, tumour included
    assert 1000 < seg.volumes_ml["right"] < 2500
    # every lung voxel is air-filled or filled-in tissue surrounded by lung: the parenchyma
    # (< -400 HU) accounts for most of it
    assert (volume.array[seg.mask] < -400).mean() > 0.6
    # the trachea is found and removed
    assert seg.airways.any()
    assert not (seg.airways & seg.mask).any()


def test_slice_order_does_not_matter(phantom, segmented):
    # a feet-first series stacks the slices the other way round: the same lungs, flipped
    flipped = segment_lungs(phantom.hu[::-1].copy(), phantom.spacing)
    assert np.array_equal(flipped.left[::-1], segmented.left)
    assert np.array_equal(flipped.right[::-1], segmented.right)
