"""Grey level size zone matrix features (IBSI reference manual, section 3.8).

M(i, j) counts zones (connected voxels of equal grey level i, see :mod:`zones`) of size j.
N_v is the number of ROI voxels. 2D: one matrix per slice, features averaged over slices;
2.5D: slice matrices merged; 3D: one matrix with 26-connected zones.
"""

from __future__ import annotations

import numpy as np

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, averaged
from imaging.radiomics.texture import PER_DIMENSION, slice_indices, wanted_dimensions
from imaging.radiomics.zone_matrix import ZoneMatrix, family_features
from imaging.radiomics.zones import find_zones, zone_matrices

FAMILY_KEY = "szm"

FEATURES = family_features(
    [
        ("small_zone_emphasis", "5QRC", "Small zone emphasis"),
        ("large_zone_emphasis", "48P8", "Large zone emphasis"),
        ("low_grey_level_zone_emphasis", "XMSY", "Low grey level zone emphasis"),
        ("high_grey_level_zone_emphasis", "5GN9", "High grey level zone emphasis"),
        ("small_zone_low_grey_level_emphasis", "5RAI", "Small zone low grey level emphasis"),
        ("small_zone_high_grey_level_emphasis", "HW1V", "Small zone high grey level emphasis"),
        ("large_zone_low_grey_level_emphasis", "YH51", "Large zone low grey level emphasis"),
        ("large_zone_high_grey_level_emphasis", "J17V", "Large zone high grey level emphasis"),
        ("grey_level_non_uniformity", "JNSA", "Grey level non-uniformity"),
        ("grey_level_non_uniformity_normalised", "Y1RO", "Normalised grey level non-uniformity"),
        ("zone_size_non_uniformity", "4JP3", "Zone size non-uniformity"),
        ("zone_size_non_uniformity_normalised", "VB3A", "Normalised zone size non-uniformity"),
        ("zone_percentage", "P30P", "Zone percentage"),
        ("grey_level_variance", "BYLV", "Grey level variance"),
        ("zone_size_variance", "3NSA", "Zone size variance"),
        ("zone_size_entropy", "GU8N", "Zone size entropy"),
    ]
)


def per_slice_voxels(mask: np.ndarray) -> np.ndarray:
    return mask.reshape(mask.shape[0], -1).sum(axis=1).astype(np.float64)


def aggregate(
    family: str,
    features: tuple[Feature, ...],
    m2d: tuple[np.ndarray, np.ndarray] | None,
    m3d: tuple[np.ndarray, np.ndarray] | None,
    mask: np.ndarray,
    aggregations: tuple[str, ...] = (),
) -> list[FeatureValue]:
    """2D (averaged over slices), 2.5D (slices merged) and 3D features of zone-type matrices;
    each matrix comes with its column values (see ``zone_matrices``); ``None`` skips it, as
    does leaving "2d" or "2_5d" out of a non-empty ``aggregations``."""
    nv = per_slice_voxels(mask)
    present = slice_indices(mask)
    out: list[FeatureValue] = []
    if m2d is not None:
        m, cols = m2d
        if not aggregations or "2d" in aggregations:
            per = [(ZoneMatrix(m[z], nv[z], cols),) for z in present]
            out += averaged(family, features, per, "2d")
        if not aggregations or "2_5d" in aggregations:
            merged = [(ZoneMatrix(m[present].sum(0), nv.sum(), cols),)]
            out += averaged(family, features, merged, "2_5d")
    if m3d is not None:
        m, cols = m3d
        out += averaged(family, features, [(ZoneMatrix(m[0], nv.sum(), cols),)], "3d")
    return out


def compute(ctx: RoiContext) -> list[FeatureValue]:
    levels, ng = ctx.levels, ctx.n_levels
    wanted = ctx.aggregations_for(FAMILY_KEY)
    two_d, three_d = wanted_dimensions(wanted)
    m2d = m3d = None
    if two_d:
        z2 = ctx.shared(("zones", "2d"), lambda: find_zones(levels, ng, two_d=True))
        m2d = zone_matrices(z2, z2.size, ng, per_slice=True, n_slices=levels.shape[0])
    if three_d:
        z3 = ctx.shared(("zones", "3d"), lambda: find_zones(levels, ng, two_d=False))
        m3d = zone_matrices(z3, z3.size, ng, per_slice=False, n_slices=1)
    return aggregate(
        FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), m2d, m3d, ctx.texture_mask, wanted
    )


FAMILY = Family(FAMILY_KEY, "Grey level size zone based features", FEATURES, compute, PER_DIMENSION)
