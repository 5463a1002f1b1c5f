"""Feature selection: which families, aggregations and single features an extraction computes.

``RadiomicsSettings.features`` lists feature keys (:attr:`FeatureValue.key`, e.g.
``morph_volume`` or ``cm_contrast_3d_averaged``). Families compute only the features and
aggregations asked for, so the values are those of a full extraction, and steps that only the
skipped features need (Moran's I and Geary's C's all-pairs sums, the 2D matrices when only 3D
aggregations are asked for) are not run. This lets a comparison with another engine compute
exactly the same feature set on both sides.
"""

from __future__ import annotations

from functools import cache

from imaging.radiomics.families import FAMILIES


@cache
def _key_index() -> dict[str, tuple[str, str, str]]:
    """Every reportable key -> (family key, feature name, aggregation or "")."""
    index: dict[str, tuple[str, str, str]] = {}
    for family in FAMILIES.values():
        for f in family.features:
            base = f"{family.key}_{f.name}"
            if not family.aggregations:
                index[base] = (family.key, f.name, "")
            for aggregation in family.aggregations:
                index[f"{base}_{aggregation}"] = (family.key, f.name, aggregation)
    return index


def all_keys() -> tuple[str, ...]:
    """Every feature key the engine can report, in registry order."""
    return tuple(_key_index())


def validate(
    features: tuple[str, ...], families: tuple[str, ...], aggregations: tuple[str, ...]
) -> None:
    """Raise ValueError unless every key exists, appears once and agrees with the family and
    aggregation lists (when those are not empty)."""
    index = _key_index()
    unknown = [k for k in features if k not in index]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ValueError(f"unknown feature keys: {shown}")
    if len(set(features)) != len(features):
        raise ValueError("feature keys must not repeat")
    if families:
        outside = [k for k in features if index[k][0] not in families]
        if outside:
            raise ValueError(f"features outside the selected families: {', '.join(outside[:5])}")
    if aggregations:
        outside = [k for k in features if index[k][2] and index[k][2] not in aggregations]
        if outside:
            raise ValueError(
                f"features outside the selected aggregations: {', '.join(outside[:5])}"
            )


def families_for(features: tuple[str, ...]) -> tuple[str, ...]:
    """The families the keys belong to, in registry order."""
    index = _key_index()
    wanted = {index[k][0] for k in features}
    return tuple(key for key in FAMILIES if key in wanted)


def names_for(features: tuple[str, ...], family: str) -> frozenset[str]:
    index = _key_index()
    return frozenset(index[k][1] for k in features if index[k][0] == family)


def aggregations_for(features: tuple[str, ...], family: str) -> tuple[str, ...]:
    """The aggregations asked for in ``family`` ("" entries dropped), in the family's order."""
    index = _key_index()
    wanted = {index[k][2] for k in features if index[k][0] == family}
    return tuple(a for a in FAMILIES[family].aggregations if a in wanted)
