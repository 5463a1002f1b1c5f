"""Grey level distance zone matrix features (IBSI reference manual, section 3.9).

M(i, j) counts zones of grey level i (as in the GLSZM) whose distance to the ROI edge is j.
A voxel's distance is its city-block (6-connected in 3D, 4-connected in 2D) distance to the
nearest voxel outside the ROI, 1 for voxels on the edge; a zone's distance is the minimum over
its voxels. The distance map uses the morphological mask, so holes left by re-segmentation do
not shorten distances (as in MEDimage, an IBSI reference implementation).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from imaging.radiomics.context import RoiContext
from imaging.radiomics.glszm import aggregate
from imaging.radiomics.registry import Family, FeatureValue
from imaging.radiomics.texture import PER_DIMENSION, wanted_dimensions
from imaging.radiomics.zone_matrix import family_features
from imaging.radiomics.zones import Zones, find_zones, zone_matrices

FAMILY_KEY = "dzm"

FEATURES = family_features(
    [
        ("small_distance_emphasis", "0GBI", "Small distance emphasis"),
        ("large_distance_emphasis", "MB4I", "Large distance emphasis"),
        ("low_grey_level_zone_emphasis", "S1RA", "Low grey level zone emphasis"),
        ("high_grey_level_zone_emphasis", "K26C", "High grey level zone emphasis"),
        ("small_distance_low_grey_level_emphasis", "RUVG", "Small distance low grey level emph."),
        ("small_distance_high_grey_level_emphasis", "DKNJ", "Small distance high grey level emph."),
        ("large_distance_low_grey_level_emphasis", "A7WM", "Large distance low grey level emph."),
        ("large_distance_high_grey_level_emphasis", "KLTH", "Large distance high grey level emph."),
        ("grey_level_non_uniformity", "VFT7", "Grey level non-uniformity"),
        ("grey_level_non_uniformity_normalised", "7HP3", "Normalised grey level non-uniformity"),
        ("zone_distance_non_uniformity", "V294", "Zone distance non-uniformity"),
        ("zone_distance_non_uniformity_normalised", "IATH", "Normalised zone distance non-unif."),
        ("zone_percentage", "VIWW", "Zone percentage"),
        ("grey_level_variance", "QK93", "Grey level variance"),
        ("zone_distance_variance", "7WT1", "Zone distance variance"),
        ("zone_distance_entropy", "GBDU", "Zone distance entropy"),
    ]
)


def distance_map(mask: np.ndarray, two_d: bool) -> np.ndarray:
    """City-block distance to the ROI edge (1 on the edge), 0 outside the mask."""
    if two_d:
        out = np.zeros(mask.shape, dtype=np.int64)
        for z in range(mask.shape[0]):
            padded = np.pad(mask[z], 1)
            out[z] = ndimage.distance_transform_cdt(padded, metric="taxicab")[1:-1, 1:-1]
        return out
    padded = np.pad(mask, 1)
    return ndimage.distance_transform_cdt(padded, metric="taxicab")[1:-1, 1:-1, 1:-1]


def zone_distance(zones: Zones, distances: np.ndarray) -> np.ndarray:
    n = zones.size.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    d = ndimage.minimum(distances, labels=zones.labels, index=np.arange(1, n + 1))
    return np.asarray(d, dtype=np.int64)


def compute(ctx: RoiContext) -> list[FeatureValue]:
    levels, ng, morph, box = ctx.levels, ctx.n_levels, ctx.roi.morphological, ctx.texture_box
    wanted = ctx.aggregations_for(FAMILY_KEY)
    two_d, three_d = wanted_dimensions(wanted)
    m2d = m3d = None
    if two_d:
        z2 = ctx.shared(("zones", "2d"), lambda: find_zones(levels, ng, two_d=True))
        # Per-slice distances: slices outside the box do not matter, in-plane neighbours do.
        dist2 = distance_map(morph[box[0]], two_d=True)[:, box[1], box[2]]
        d2 = zone_distance(z2, dist2)
        m2d = zone_matrices(z2, d2, ng, per_slice=True, n_slices=levels.shape[0])
    if three_d:
        z3 = ctx.shared(("zones", "3d"), lambda: find_zones(levels, ng, two_d=False))
        d3 = zone_distance(z3, distance_map(morph, two_d=False)[box])
        m3d = zone_matrices(z3, d3, ng, per_slice=False, n_slices=1)
    return aggregate(
        FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), m2d, m3d, ctx.texture_mask, wanted
    )


FAMILY = Family(
    FAMILY_KEY, "Grey level distance zone based features", FEATURES, compute, PER_DIMENSION
)
