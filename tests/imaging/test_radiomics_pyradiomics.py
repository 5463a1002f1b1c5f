"""Cross-check of the engine against PyRadiomics on the IBSI validation patient STS_001 (CT).

PyRadiomics (``pyradiomics-bhklab`` 3.1, import name ``radiomics``) is a test-only reference: it
is independent code (van Griethuysen et al., Cancer Res 2017;77:e104) that the IBSI validation
study compared with the other participating engines (Zwanenburg et al., Radiology 2020). The
features both define the same way, listed in :mod:`imaging.radiomics.pyradiomics_map` with every
exclusion and its reason, must agree within a documented relative tolerance.

Matched settings: the CT and mask NIfTI files as stored (no resampling), re-segmentation range
[-1000, 400] HU, distance 1, 3D; GLCM and GLRLM features averaged over the 13 directions
(PyRadiomics' default, IBSI "3D, averaged"), GLSZM/NGTDM/GLDM~NGLDM from one 3D matrix.

Discretisation: fixed bin number (32) numbers the bins 1..32 from the ROI minimum in both, so
every mapped feature is comparable. With a fixed bin width of 25 HU the bin *edges* agree (both
lie on multiples of 25 HU) but the bin *numbers* do not: IBSI numbers bins from the
re-segmentation lower bound (-1000 HU -> bin 1), PyRadiomics from the multiple of the width at or
below the ROI minimum. Only features that do not depend on the grey level values themselves are
compared then, and the offset is checked explicitly.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from imaging.radiomics import Discretisation, RadiomicsSettings, extract_features, load_nifti
from imaging.radiomics.pyradiomics_map import EXCLUDED, FEATURES, pyradiomics_value
from tests.shared_data import shared_data

radiomics = pytest.importorskip("radiomics", reason="pyradiomics-bhklab (test-only) missing")

RESEGMENTATION = (-1000.0, 400.0)
FAMILIES = ("morph", "stat", "ih", "cm", "rlm", "szm", "ngt", "ngl")

# Relative tolerance for every mapped feature: the two implementations agree to ~1e-11 on
# STS_001 (summation order); 1e-6 leaves room for other BLAS/numpy builds and nothing more.
REL_TOL = 1e-6
# PCA axis lengths: PyRadiomics (shape.py) takes the covariance of the voxel centres with
# divisor N, the engine the sample covariance (divisor N - 1, which its IBSI phantom values
# match), so the lengths differ by sqrt(N / (N - 1)) = 1 + 4.3e-6 for STS_001's 117,145 voxels.
AXIS_KEYS = ("morph_major_axis_length", "morph_minor_axis_length", "morph_least_axis_length")
AXIS_REL_TOL = 1e-5

# With fixed bin width, features that depend on the grey level numbers i, j themselves
# (grey level emphases, joint/sum averages, autocorrelation, busyness) or on N_g (normalised
# inverse differences: IBSI N_g counts bins from the range's lower bound, PyRadiomics' the
# highest level in the ROI) differ by definition of the bin origin.
FBS_ORIGIN_DEPENDENT = (
    "low_grey_level",
    "high_grey_level",
    "joint_average",
    "sum_average",
    "autocorrelation",
    "busyness",
    "normalised_inverse_difference",
)


@pytest.fixture(autouse=True, scope="module")
def _quiet_pyradiomics():
    # PyRadiomics logs every extraction step through its own logger at INFO level.
    logger = logging.getLogger("radiomics")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(previous)


@pytest.fixture(scope="module")
def sts_001():
    folder = shared_data("ibsi_validation_sts_001", "nifti", "STS_001")
    return folder / "CT_image.nii.gz", folder / "CT_mask.nii.gz"


def _ours(paths, discretisation: Discretisation) -> dict[str, float]:
    image, mask = load_nifti(paths[0]), load_nifti(paths[1])
    settings = RadiomicsSettings(
        name="pyradiomics-crosscheck",
        resegmentation_range=RESEGMENTATION,
        texture_discretisation=discretisation,
        glcm_distance=1,
        zone_linkage_distance=1,
        ngldm_distance=1,
        ngldm_coarseness=0.0,
        families=FAMILIES,
        aggregations=("3d_averaged", "3d"),
    )
    return {v.key: v.value for v in extract_features(image, mask.array > 0, settings)}


def _pyradiomics(paths, **binning) -> dict[str, float]:
    import SimpleITK as sitk
    from radiomics import featureextractor

    image = sitk.ReadImage(str(paths[0]))
    mask = sitk.Cast(sitk.ReadImage(str(paths[1])), sitk.sitkUInt8)
    extractor = featureextractor.RadiomicsFeatureExtractor(
        resegmentRange=list(RESEGMENTATION),
        distances=[1],
        force2D=False,
        gldm_a=0,
        label=1,
        **binning,
    )
    extractor.disableAllFeatures()
    for family in ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"):
        extractor.enableFeatureClassByName(family)
    result = extractor.execute(image, mask)
    return {k: float(v) for k, v in result.items() if k.startswith("original_")}


@pytest.fixture(scope="module")
def fixed_bin_number(sts_001):
    return _ours(sts_001, Discretisation("fbn", n_bins=32)), _pyradiomics(sts_001, binCount=32)


@pytest.fixture(scope="module")
def fixed_bin_width(sts_001):
    ours = _ours(sts_001, Discretisation("fbs", bin_width=25.0))
    return ours, _pyradiomics(sts_001, binWidth=25)


def _disagreements(ours, theirs, keys) -> list[str]:
    bad = []
    for key in keys:
        tol = AXIS_REL_TOL if key in AXIS_KEYS else REL_TOL
        reference = pyradiomics_value(key, theirs)
        if not math.isclose(ours[key], reference, rel_tol=tol, abs_tol=1e-12):
            bad.append(f"{key}: engine {ours[key]!r} vs PyRadiomics {reference!r}")
    return bad


def test_the_mapping_names_engine_features_and_pyradiomics_features_that_exist(
    fixed_bin_number,
):
    ours, theirs = fixed_bin_number
    assert set(FEATURES) <= set(ours)
    assert {"original_" + name for name in FEATURES.values()} <= set(theirs)
    # Every family the brief names is represented (GLDZM is excluded: PyRadiomics lacks it).
    prefixes = {key.split("_")[0] for key in FEATURES}
    assert prefixes == {"morph", "stat", "ih", "cm", "rlm", "szm", "ngt", "ngl"}
    assert "dzm_*" in EXCLUDED


def test_every_shared_feature_agrees_with_pyradiomics_at_fixed_bin_number(fixed_bin_number):
    ours, theirs = fixed_bin_number
    assert _disagreements(ours, theirs, FEATURES) == []
    assert len(FEATURES) == 104


def test_pca_axis_lengths_differ_only_by_the_covariance_divisor(sts_001, fixed_bin_number):
    ours, theirs = fixed_bin_number
    n = int((load_nifti(sts_001[1]).array > 0).sum())
    assert n == 117145  # the data set README's voxel count of the STS_001 CT mask
    for key in AXIS_KEYS:
        ratio = ours[key] / pyradiomics_value(key, theirs)
        assert ratio == pytest.approx(math.sqrt(n / (n - 1)), rel=1e-9)


def test_kurtosis_is_compared_as_excess_kurtosis(fixed_bin_number):
    ours, theirs = fixed_bin_number
    assert theirs["original_firstorder_Kurtosis"] == pytest.approx(
        ours["stat_kurtosis"] + 3.0, rel=REL_TOL
    )


def test_grey_level_origin_free_features_agree_at_fixed_bin_width_25_hu(fixed_bin_width):
    ours, theirs = fixed_bin_width
    keys = [k for k in FEATURES if not any(part in k for part in FBS_ORIGIN_DEPENDENT)]
    assert len(keys) == 80
    assert _disagreements(ours, theirs, keys) == []


def test_fixed_bin_width_grey_levels_differ_by_the_bin_origin_only(fixed_bin_width):
    ours, theirs = fixed_bin_width
    # STS_001's ROI minimum after re-segmentation is -84 HU: PyRadiomics' bin 1 starts at
    # -100 HU, the engine's (IBSI) bin 1 at the range's lower bound -1000 HU: 36 bins apart.
    assert ours["stat_minimum"] == -84.0
    offset = (-100.0 - RESEGMENTATION[0]) / 25.0
    assert offset == 36.0
    assert ours["cm_joint_average_3d_averaged"] == pytest.approx(
        theirs["original_glcm_JointAverage"] + offset, rel=REL_TOL
    )
    assert ours["cm_sum_average_3d_averaged"] == pytest.approx(
        theirs["original_glcm_SumAverage"] + 2 * offset, rel=REL_TOL
    )
    assert ours["ih_minimum"] == 1.0 + offset
    # ... and the grey-level-weighted emphases therefore do differ, by far more than REL_TOL.
    assert not np.isclose(
        ours["rlm_high_grey_level_run_emphasis_3d_averaged"],
        theirs["original_glrlm_HighGrayLevelRunEmphasis"],
        rtol=0.5,
    )


def test_the_engine_and_the_mapping_never_import_pyradiomics():
    import subprocess
    import sys

    code = (
        "import sys, imaging.radiomics, imaging.radiomics.pyradiomics_map, imaging.radiomics.cli;"
        "sys.exit('radiomics' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)  # noqa: S603
    assert done.returncode == 0, done.stderr
