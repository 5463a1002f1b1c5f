"""Extraction entry point: image + mask + settings -> IBSI feature values."""

from __future__ import annotations

from typing import Any

import numpy as np

from imaging.radiomics.context import RoiContext, prepare
from imaging.radiomics.families import FAMILIES
from imaging.radiomics.image import Image
from imaging.radiomics.provenance import FeatureSet, provenance
from imaging.radiomics.registry import FeatureValue
from imaging.radiomics.selection import families_for
from imaging.radiomics.settings import RadiomicsSettings


def _binary(mask: np.ndarray | Any) -> np.ndarray:
    """The mask as booleans, without another full-size copy when it already is one."""
    array = np.asarray(getattr(mask, "array", mask))
    return array if array.dtype == bool else array > 0


def extract_features(
    image: Any, mask: np.ndarray | Any, settings: RadiomicsSettings
) -> list[FeatureValue]:
    """Compute every family in ``settings.families`` (all when empty) for one ROI, or only
    the features ``settings.features`` names (see :mod:`imaging.radiomics.selection`).

    ``image`` is an :class:`Image` or anything with ``array`` (z, y, x) and ``spacing``
    (z, y, x) mm, such as ``imaging.dicom.Volume``; ``mask`` a boolean/label array or such an
    object, on the same grid.
    """
    img = Image.from_volume(image)
    ctx = prepare(img, _binary(mask), settings)
    if settings.features:
        return compute_families(ctx, families_for(settings.features))
    return compute_families(ctx, settings.families or tuple(FAMILIES))


def extract(image: Any, mask: np.ndarray | Any, settings: RadiomicsSettings) -> FeatureSet:
    """:func:`extract_features` plus the provenance record that every stored result carries."""
    img = Image.from_volume(image)
    mask_array = _binary(mask)
    values = extract_features(img, mask_array, settings)
    return FeatureSet(values, provenance(img, mask_array, settings))


def compute_families(ctx: RoiContext, families: tuple[str, ...]) -> list[FeatureValue]:
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown feature families: {', '.join(unknown)}")
    wanted = set(ctx.settings.aggregations)
    keys = set(ctx.settings.features)
    out: list[FeatureValue] = []
    for key in families:
        values = FAMILIES[key].compute(ctx)
        if keys:
            out.extend(v for v in values if v.key in keys)
        else:
            out.extend(
                v for v in values if not wanted or not v.aggregation or v.aggregation in wanted
            )
    return out
