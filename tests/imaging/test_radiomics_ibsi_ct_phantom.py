"""IBSI CT radiomics phantom, configurations A-E, from the NIfTI image and mask and from the
DICOM series + RTSTRUCT (the whole pipeline, through imaging.dicom).

Every feature with a reference value lies within its IBSI tolerance (reference manual,
Zwanenburg et al., Radiology 2020;295:328-338, chapter 5 and the CT-phantom columns of the
chapter 3 tables; read from ../shared/data/ibsi/ibsi_1_reference_values.csv). The phantom is
CC BY-NC 3.0 data (Lambin P., CancerData DOI 10.17195/candat.2016.08.1): read in place only.
"""

from __future__ import annotations

import pytest

from imaging.radiomics.inputs import load_image_and_mask
from imaging.radiomics.pipeline import extract_features
from imaging.radiomics.registry import FeatureValue
from imaging.radiomics.settings import preset
from imaging.radiomics.validation import ReferenceRow, compare, load_reference
from tests.shared_data import SHARED_DATA, shared_data

REFERENCE = SHARED_DATA / "ibsi" / "ibsi_1_reference_values.csv"
CONFIGURATIONS = ("A", "B", "C", "D", "E")
SOURCES = {
    "nifti": (("nifti", "image", "phantom.nii.gz"), ("nifti", "mask", "mask.nii.gz")),
    "dicom": (("dicom", "image"), ("dicom", "mask", "DCM_RS_00060.dcm")),
}
_cache: dict[tuple[str, str], list[FeatureValue]] = {}


def _rows() -> list[ReferenceRow]:
    if not REFERENCE.exists():
        return []
    return [r for r in load_reference(REFERENCE, "ct_phantom") if r.value is not None]


def _id(row: ReferenceRow) -> str:
    agg = row.aggregation.replace(", ", "-").replace(" ", "") or "-"
    return f"{row.configuration}-{row.ibsi_code}-{agg}-{row.occurrence}"


def _features(source: str, configuration: str) -> list[FeatureValue]:
    if (source, configuration) not in _cache:
        folder = ("ibsi", "ibsi_1_ct_radiomics_phantom")
        image_parts, mask_parts = SOURCES[source]
        image, mask = load_image_and_mask(
            shared_data(*folder, *image_parts), shared_data(*folder, *mask_parts), roi="GTV-1"
        )
        settings = preset(f"ibsi-{configuration}")
        _cache[(source, configuration)] = extract_features(image, mask, settings)
    return _cache[(source, configuration)]


def test_every_configuration_has_reference_rows() -> None:
    rows = load_reference(shared_data("ibsi", "ibsi_1_reference_values.csv"), "ct_phantom")
    assert {r.configuration for r in rows} == set(CONFIGURATIONS)


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("row", _rows(), ids=_id)
def test_feature_lies_within_ibsi_ct_phantom_tolerance(row: ReferenceRow, source: str) -> None:
    (result,) = compare([row], _features(source, row.configuration))
    where = f"{source}, config {row.configuration}"
    assert result.matched, f"{where}: {row.family}: {row.label}: {result.reason}"
