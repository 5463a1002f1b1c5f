"""Every registered feature with an IBSI digital-phantom reference value matches it.

Reference: IBSI reference manual (Zwanenburg et al., arXiv:1612.07003; Radiology
2020;295:328-338), chapter 3 tables, digital phantom column, read from
../shared/data/ibsi/ibsi_1_reference_values.csv. Values carry 3 significant digits, so the
tolerance is half a unit of the last reported digit.
"""

from __future__ import annotations

import pytest

from imaging.radiomics.families import FAMILIES
from imaging.radiomics.image import load_nifti
from imaging.radiomics.pipeline import extract_features
from imaging.radiomics.registry import FeatureValue
from imaging.radiomics.settings import preset
from imaging.radiomics.validation import ReferenceRow, compare, load_reference
from tests.shared_data import SHARED_DATA, shared_data

REFERENCE = SHARED_DATA / "ibsi" / "ibsi_1_reference_values.csv"
IMPLEMENTED = {fam.title for fam in FAMILIES.values()}


def _rows() -> list[ReferenceRow]:
    if not REFERENCE.exists():
        return []
    rows = load_reference(REFERENCE, "digital_phantom")
    return [r for r in rows if r.family in IMPLEMENTED and r.value is not None]


def _id(row: ReferenceRow) -> str:
    agg = row.aggregation.replace(", ", "-").replace(" ", "") or "-"
    return f"{row.ibsi_code}-{agg}-{row.occurrence}"


@pytest.fixture(scope="module")
def phantom_features() -> list[FeatureValue]:
    folder = ("ibsi", "ibsi_1_digital_phantom", "nifti")
    image = load_nifti(shared_data(*folder, "image", "phantom.nii.gz"))
    mask = load_nifti(shared_data(*folder, "mask", "mask.nii.gz"))
    return extract_features(image, mask.array, preset("ibsi-phantom"))


def test_reference_table_is_present_and_has_phantom_rows() -> None:
    rows = load_reference(shared_data("ibsi", "ibsi_1_reference_values.csv"), "digital_phantom")
    assert len(rows) == 482


@pytest.mark.parametrize("row", _rows(), ids=_id)
def test_feature_matches_ibsi_digital_phantom_reference(
    row: ReferenceRow, phantom_features: list[FeatureValue]
) -> None:
    (result,) = compare([row], phantom_features)
    assert result.matched, f"{row.family}: {row.label}: {result.reason}"


def test_feature_keys_are_unique_and_stable(phantom_features: list[FeatureValue]) -> None:
    keys = [v.key for v in phantom_features]
    assert len(keys) == len(set(keys))
    # Outcome models read features by these names; renaming one breaks stored models.
    assert {
        "morph_volume",
        "stat_mean",
        "cm_joint_max_3d_merged",
        "ngl_dependence_count_energy_3d",
    } <= set(keys)
