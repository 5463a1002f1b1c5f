"""The validation cases: the IBSI CT (read in place from shared/data) and the chest phantom
with inserted nodules; truths checked against the masks and specs they come from."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from imaging.dicom.masks import nifti_to_mask
from imaging.dicom.volume import volume_from_dir
from imaging.screening.testset import TUMOUR_LABEL, cases, ibsi_ct_case, ibsi_root, phantom_case
from tests.shared_data import shared_data


@pytest.fixture(scope="module")
def data_dir():
    return shared_data("ibsi", "ibsi_1_ct_radiomics_phantom").parents[1]


@pytest.fixture(scope="module")
def ci(data_dir):
    return list(cases("ci", data_dir))


def test_ci_holds_one_real_ct_and_one_phantom_with_every_type_and_attachment(ci):
    assert [c.name for c in ci] == ["ibsi-ct-seed0", "chest-phantom-seed1"]
    for case in ci:
        inserted = [t for t in case.truths if t.label != TUMOUR_LABEL]
        assert len(inserted) == 9
        pairs = {(t.nodule_type, t.attachment) for t in inserted}
        assert len(pairs) == 9  # every type x attachment pair once
        labels = [t.label for t in case.truths]
        assert len(set(labels)) == len(labels)
        assert case.hu.dtype == np.float32
        assert len(case.spacing) == 3
    solid_6 = [t for c in ci for t in c.truths if t.nodule_type == "solid" and t.diameter_mm >= 6]
    assert len(solid_6) >= 3


def test_the_real_tumour_is_a_truth_of_its_mask_size_and_place(ci, data_dir):
    ibsi = ci[0]
    root = ibsi_root(data_dir)
    volume = volume_from_dir(root / "dicom" / "image")
    tumour = nifti_to_mask(root / "nifti" / "mask" / "mask.nii.gz", volume)
    (truth,) = [t for t in ibsi.truths if t.label == TUMOUR_LABEL]
    # by hand: equivalent sphere of voxel count x voxel volume; centroid of the mask
    volume_mm3 = tumour.sum() * float(np.prod(volume.spacing))
    assert truth.diameter_mm == pytest.approx((6 * volume_mm3 / math.pi) ** (1 / 3))
    assert truth.centre_voxel == pytest.approx(ndi.center_of_mass(tumour))
    assert 80 < truth.diameter_mm < 95  # ~88 mm: a T3 mass, larger than any screening nodule
    assert truth.nodule_type == "solid"
    # the image is the CT's own outside the inserted nodules
    changed = np.zeros(ibsi.hu.shape, bool)
    for n in ibsi.inserted:
        changed[n.box()] |= n.footprint
    assert np.array_equal(ibsi.hu[~changed], volume.array[~changed])
    assert ibsi.origin == pytest.approx(volume.origin)


def test_inserted_nodules_keep_clear_of_the_tumour_and_each_other(ci):
    ibsi = ci[0]
    tumour = ibsi.tumour_mask
    assert tumour is not None
    for n in ibsi.inserted:
        assert not (n.full_mask(tumour.shape) & tumour).any(), n.label
    for case in ci:
        masks = [n.full_mask(case.hu.shape) for n in case.inserted]
        total = np.sum(masks, axis=0)
        assert total.max() <= 1


def test_phantom_nodules_lie_in_the_phantoms_lungs(ci):
    phantom = ci[1]
    assert phantom.lung_truth is not None
    for n in phantom.inserted:
        mask = n.full_mask(phantom.hu.shape)
        assert (mask & phantom.lung_truth).sum() >= 0.99 * mask.sum(), n.label


def test_cases_are_seeded(data_dir):
    a = phantom_case(seed=5, count=3)
    b = phantom_case(seed=5, count=3)
    c = phantom_case(seed=6, count=3)
    assert np.array_equal(a.hu, b.hu)
    assert a.truths == b.truths
    assert a.truths != c.truths


def test_dicom_and_nifti_sources_give_the_same_case(data_dir):
    dicom = ibsi_ct_case(data_dir, seed=2, count=2, source="dicom")
    nifti = ibsi_ct_case(data_dir, seed=2, count=2, source="nifti")
    assert np.allclose(dicom.hu, nifti.hu, atol=1.0)
    assert dicom.truths[0].centre_voxel == pytest.approx(nifti.truths[0].centre_voxel)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        next(cases("nightly", None))
    with pytest.raises(FileNotFoundError, match="IBSI"):
        next(cases("ci", tmp_path))
    assert [c.name for c in cases("ci", None)] == ["chest-phantom-seed1"]
