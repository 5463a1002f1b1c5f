"""Feature selection (settings.features) computes exactly the asked-for features, with the values
of a full extraction, and refuses selections that cannot be honoured."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imaging.radiomics import (
    FAMILIES,
    Image,
    RadiomicsSettings,
    extract_features,
    morphology,
    preset,
)
from imaging.radiomics.pyradiomics_map import FEATURES as PYRADIOMICS_FEATURES
from imaging.radiomics.selection import all_keys, families_for
from imaging.radiomics.settings import SETTINGS_VERSION


def _case() -> tuple[Image, np.ndarray]:
    rng = np.random.default_rng(11)
    image = Image(rng.integers(1, 7, size=(8, 12, 10)).astype(np.float64), (2.0, 1.0, 1.5))
    mask = rng.random((8, 12, 10)) > 0.25
    return image, mask


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_selected_features_equal_those_of_a_full_extraction() -> None:
    image, mask = _case()
    full = {v.key: v.value for v in extract_features(image, mask, preset("ibsi-phantom"))}
    candidates = (
        "morph_volume",
        "stat_mean",
        "cm_contrast_3d_averaged",
        "rlm_run_percentage_2d_slice_merged",
        "szm_zone_percentage_2_5d",
        "dzm_small_distance_emphasis_3d",
        "ngt_coarseness_2d",
        "ngl_dependence_count_energy_3d",
        "ivh_v10",
    )
    wanted = tuple(k for k in candidates if k in full)
    assert len(wanted) == len(candidates)
    settings = preset("ibsi-phantom").replace(features=wanted)
    values = extract_features(image, mask, settings)
    assert [v.key for v in values] == [k for k in full if k in wanted]
    for v in values:
        assert _same(v.value, full[v.key]), v.key


def test_the_pyradiomics_feature_set_is_selectable_and_skips_morans_i(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The benchmark's matched row: PyRadiomics' features only. Moran's I / Geary's C (all-pairs
    # sums) are not among them, so their shared step must not run.
    def refuse(_shape: object) -> None:
        raise AssertionError("Moran's I pair sums computed although not selected")

    monkeypatch.setattr(morphology, "_pair_sums", refuse)
    image, mask = _case()
    keys = tuple(sorted(set(PYRADIOMICS_FEATURES)))
    values = extract_features(image, mask, preset("ibsi-phantom").replace(features=keys))
    assert sorted(v.key for v in values) == sorted(keys)


def test_every_registered_key_is_selectable_and_families_follow_the_registry_order() -> None:
    keys = all_keys()
    assert len(keys) == len(set(keys))
    assert "morph_morans_i" in keys
    assert "cm_joint_max_3d_averaged" in keys
    assert "ngl_dependence_count_energy_2_5d" in keys
    assert families_for(("ngl_grey_level_variance_3d", "morph_volume")) == ("morph", "ngl")
    assert set(families_for(keys)) == set(FAMILIES)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": ("morph_no_such_feature",)}, "unknown feature keys"),
        ({"features": ("cm_contrast",)}, "unknown feature keys"),  # aggregation missing
        ({"features": ("morph_volume_3d",)}, "unknown feature keys"),  # no aggregation there
        ({"features": ("stat_mean", "stat_mean")}, "must not repeat"),
        ({"features": "stat_mean"}, "not one string"),
        ({"families": ("stat",), "features": ("morph_volume",)}, "outside the selected families"),
        (
            {"aggregations": ("3d",), "features": ("cm_contrast_3d_merged",)},
            "outside the selected aggregations",
        ),
    ],
)
def test_bad_feature_selections_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RadiomicsSettings(**changes)


def test_selection_is_part_of_the_versioned_settings_record() -> None:
    s = RadiomicsSettings(features=["stat_mean"])  # type: ignore[arg-type]
    assert s.features == ("stat_mean",)
    assert s.version == SETTINGS_VERSION == 2
    assert s.as_dict()["features"] == ("stat_mean",)
    with pytest.raises(ValueError, match="version"):
        RadiomicsSettings(version=1)
