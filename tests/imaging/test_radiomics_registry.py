"""The feature registry: every family is registered explicitly and documents each feature."""

from __future__ import annotations

import pytest

from imaging.radiomics.families import FAMILIES
from imaging.radiomics.registry import IBSI_CODE, Feature

ALL_FEATURES = [(key, f) for key, fam in FAMILIES.items() for f in fam.features]


def test_all_eleven_ibsi_families_are_registered() -> None:
    assert len(FAMILIES) == 11


@pytest.mark.parametrize(("family", "feature"), ALL_FEATURES, ids=lambda x: getattr(x, "name", x))
def test_registered_feature_has_an_ibsi_code_and_a_formula_docstring(
    family: str, feature: Feature
) -> None:
    # Docstrings read "Title (CODE): formula", as in the IBSI manual's feature tables.
    assert IBSI_CODE.match(feature.ibsi_code), f"{family}.{feature.name}: bad IBSI code"
    head, sep, formula = feature.formula.partition(f"({feature.ibsi_code}):")
    assert sep, f"{family}.{feature.name}: docstring lacks '({feature.ibsi_code}):'"
    assert head.strip(), f"{family}.{feature.name}: docstring lacks the feature title"
    assert len(formula.strip()) >= 5, f"{family}.{feature.name}: docstring carries no formula"


def test_feature_names_are_unique_within_each_family() -> None:
    for key, fam in FAMILIES.items():
        names = [f.name for f in fam.features]
        assert len(names) == len(set(names)), key


def test_family_feature_counts_follow_the_ibsi_manual() -> None:
    # IBSI reference manual chapter 3; morphology omits the 4 oriented-bounding-box / MVEE
    # features, which have no reference values.
    counts = {key: len(fam.features) for key, fam in FAMILIES.items()}
    assert counts == {
        "morph": 25,
        "loc": 2,
        "stat": 18,
        "ih": 23,
        "ivh": 7,
        "cm": 25,
        "rlm": 16,
        "szm": 16,
        "dzm": 16,
        "ngt": 5,
        "ngl": 17,
    }
