"""IBSI CT radiomics phantom, configurations A-E, from the NIfTI image and mask.

Every feature with a reference value lies within its IBSI tolerance (reference manual,
Zwanenburg et al., Radiology 2020;295:328-338, chapter 5 and the CT-phantom columns of the
chapter 3 tables; read from ../shared/data/ibsi/ibsi_1_reference_values.csv). The phantom is
CC BY-NC 3.0 data (Lambin P., CancerData DOI 10.17195/candat.2016.08.1): read in place only.
The whole-pipeline variant from the DICOM series + RTSTRUCT follows when imaging.dicom lands.
"""

from __future__ import annotations

import pytest

from imaging.radiomics.image import load_nifti
from imaging.radiomics.pipeline import extract_features
from imaging.radiomics.registry import FeatureValue
from imaging.radiomics.settings import preset
from imaging.radiomics.validation import ReferenceRow, compare, load_reference
from tests.shared_data import SHARED_DATA, shared_data

REFERENCE = SHARED_DATA / "ibsi" / "ibsi_1_reference_values.csv"
CONFIGURATIONS = ("A", "B", "C", "D", "E")
_cache: dict[str, list[FeatureValue]] = {}


def _rows() -> list[ReferenceRow]:
    if not REFERENCE.exists():
        return []
    return [r for r in load_reference(REFERENCE, "ct_phantom") if r.value is not None]


def _id(row: ReferenceRow) -> str:
    agg = row.aggregation.replace(", ", "-").replace(" ", "") or "-"
    return f"{row.configuration}-{row.ibsi_code}-{agg}-{row.occurrence}"


def _features(configuration: str) -> list[FeatureValue]:
    if configuration not in _cache:
        folder = ("ibsi", "ibsi_1_ct_radiomics_phantom", "nifti")
        image = load_nifti(shared_data(*folder, "image", "phantom.nii.gz"))
        mask = load_nifti(shared_data(*folder, "mask", "mask.nii.gz")).array > 0
        _cache[configuration] = extract_features(image, mask, preset(f"ibsi-{configuration}"))
    return _cache[configuration]


def test_every_configuration_has_reference_rows() -> None:
    rows = load_reference(shared_data("ibsi", "ibsi_1_reference_values.csv"), "ct_phantom")
    assert {r.configuration for r in rows} == set(CONFIGURATIONS)


@pytest.mark.parametrize("row", _rows(), ids=_id)
def test_feature_lies_within_ibsi_ct_phantom_tolerance(row: ReferenceRow) -> None:
    (result,) = compare([row], _features(row.configuration))
    assert result.matched, f"config {row.configuration}: {row.family}: {row.label}: {result.reason}"
