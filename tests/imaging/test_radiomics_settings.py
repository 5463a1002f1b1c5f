"""Settings, presets and discretisation follow the IBSI reference manual."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from imaging.radiomics.discretisation import discretise
from imaging.radiomics.image import load_nifti
from imaging.radiomics.pipeline import extract_features
from imaging.radiomics.settings import PRESETS, Discretisation, RadiomicsSettings, preset
from imaging.radiomics.validation import compare, half_unit_of_last_digit, load_reference
from tests.shared_data import shared_data


def _configurations() -> dict[str, dict[str, str]]:
    path = shared_data("ibsi", "ibsi_1_ct_phantom_configurations.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["configuration"]: row for row in csv.DictReader(fh)}


def _discretisation_text(d: Discretisation) -> str:
    if d.method == "fbs":
        return f"FBS {d.bin_width:g} HU"
    if d.method == "fbn":
        return f"FBN {d.n_bins} bins"
    return "none"


@pytest.mark.parametrize("config", ["A", "B", "C", "D", "E"])
def test_ibsi_presets_match_the_ct_phantom_configuration_table(config: str) -> None:
    # IBSI reference manual, chapter 5, table of configurations A-E.
    row = _configurations()[config]
    s = preset(f"ibsi-{config}")
    assert s.approach == row["approach"]
    assert (s.resampled_spacing_mm is not None) == (row["interpolation"] == "yes")
    rng = row["resegmentation_range_hu"]
    expected = None if rng == "none" else tuple(float(v) for v in rng.strip("[]").split(";"))
    assert s.resegmentation_range == expected
    assert (s.outlier_sigma == 3.0) == (row["outlier_filtering"] == "3 sigma")
    assert _discretisation_text(s.texture_discretisation) == row["texture_ih_discretisation"]
    ivh = row["ivh_discretisation"]
    if ivh.startswith("FBS"):
        assert s.ivh_discretisation == Discretisation("fbs", bin_width=float(ivh.split()[1]))
    elif ivh.endswith("bins"):
        assert s.ivh_discretisation == Discretisation("fbn", n_bins=int(ivh.split()[0]))
    else:
        assert s.ivh_discretisation.method == "none"
    assert s.glcm_distance == int(row["glcm_ngtdm_ngldm_distance"])
    assert s.ngldm_coarseness == float(row["ngldm_coarseness"])


def test_required_presets_exist() -> None:
    assert {"ibsi-A", "ibsi-B", "ibsi-C", "ibsi-D", "ibsi-E", "ct-default"} <= set(PRESETS)


def test_unknown_preset_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="ibsi-A"):
        preset("nope")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resegmentation_range": (400.0, -500.0)}, "lower < upper"),
        ({"outlier_sigma": 0.0}, "outlier_sigma"),
        ({"glcm_distance": 0}, "glcm_distance"),
        ({"approach": "4D"}, "approach"),
        ({"version": 99}, "version"),
        ({"roi_partial_volume": 0.0}, "roi_partial_volume"),
    ],
)
def test_invalid_settings_are_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RadiomicsSettings(**changes)  # type: ignore[arg-type]


def test_discretisation_needs_its_parameter() -> None:
    with pytest.raises(ValueError, match="n_bins"):
        Discretisation("fbn")
    with pytest.raises(ValueError, match="bin_width"):
        Discretisation("fbs", bin_width=0)


def test_fixed_bin_number_puts_the_maximum_in_the_last_bin() -> None:
    # IBSI 2.7.1: floor(Ng (X - Xmin)/(Xmax - Xmin)) + 1, and X = Xmax goes to bin Ng.
    levels, ng = discretise(np.array([0.0, 0.99, 1.0, 2.5, 4.0]), Discretisation("fbn", n_bins=4))
    assert ng == 4
    assert levels.tolist() == [1, 1, 2, 3, 4]


def test_fixed_bin_size_counts_bins_from_the_resegmentation_lower_bound() -> None:
    # IBSI 2.7.2: floor((X - X_min)/w_b) + 1 with X_min the lower re-segmentation bound.
    values = np.array([-500.0, -476.0, -475.0, 0.0, 399.0])
    levels, ng = discretise(values, Discretisation("fbs", bin_width=25.0), lower_bound=-500.0)
    assert levels.tolist() == [1, 1, 2, 21, 36]
    assert ng == 36


def test_half_unit_of_last_digit_reads_manual_notation() -> None:
    assert half_unit_of_last_digit("0.0411") == pytest.approx(5e-5)
    assert half_unit_of_last_digit(r":math:`1.2 \times 10^{3}`") == pytest.approx(50)
    assert half_unit_of_last_digit(r":math:`-`\ 0.355") == pytest.approx(5e-4)
    assert half_unit_of_last_digit("556") == pytest.approx(0.5)


@pytest.mark.parametrize(
    "texture",
    [Discretisation("fbs", bin_width=1.0), Discretisation("fbn", n_bins=6)],
    ids=["fbs-1", "fbn-6"],
)
def test_phantom_texture_references_hold_with_fbs_1_or_fbn_6(texture: Discretisation) -> None:
    # The IBSI phantom instructions allow FBS width 1 or FBN 6 instead of the raw grey levels.
    folder = ("ibsi", "ibsi_1_digital_phantom", "nifti")
    image = load_nifti(shared_data(*folder, "image", "phantom.nii.gz"))
    mask = load_nifti(shared_data(*folder, "mask", "mask.nii.gz"))
    settings = RadiomicsSettings(
        texture_discretisation=texture, families=("cm", "rlm", "szm", "dzm", "ngt", "ngl", "ih")
    )
    values = extract_features(image, mask.array, settings)
    rows = load_reference(shared_data("ibsi", "ibsi_1_reference_values.csv"))
    results = [c for c in compare(rows, values) if c.computed is not None]
    assert len(results) == 23 + 150 + 96 + 48 + 48 + 15 + 51
    assert [c.reason for c in results if not c.matched] == []
