"""Measurements of a mask on its image: volume, RECIST-style axial diameters, centroid,
bounding box and intensities.

Diameters are measured between the outer edges of the voxels (the corners of the pixels of
the in-plane mask), as a reader places callipers on the lesion's edge, not between voxel
centres (which would under-measure by about one pixel). The longest axial diameter is the
largest distance between two points of the lesion on any one slice; the perpendicular
diameter is the lesion's extent on that slice perpendicular to it (equal to RECIST's short
axis for convex, ellipse-like lesions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imaging.dicom.volume import Volume


@dataclass(frozen=True)
class MaskMeasurement:
    voxel_count: int
    volume_ml: float
    longest_diameter_mm: float
    perpendicular_diameter_mm: float
    diameter_slice: int  # z index of the slice holding the longest diameter
    longest_diameter_endpoints_lps: tuple[tuple[float, float, float], tuple[float, float, float]]
    centroid_lps: tuple[float, float, float]
    bbox_index_min: tuple[int, int, int]  # (z, y, x), inclusive
    bbox_index_max: tuple[int, int, int]
    bbox_lps_min: tuple[float, float, float]  # over the voxel centres at the box corners
    bbox_lps_max: tuple[float, float, float]
    mean_intensity: float
    max_intensity: float


def _slice_diameters(
    plane: np.ndarray, spacing_yx: tuple[float, float]
) -> tuple[float, float, np.ndarray]:
    """(longest, perpendicular, endpoints in (x, y) index units) for one 2D mask."""
    from scipy.spatial import ConvexHull

    rows, columns = np.nonzero(plane)
    # pixel corners in (x, y) index units: centre +/- 0.5
    corners = np.concatenate(
        [np.c_[columns + dx, rows + dy] for dx in (-0.5, 0.5) for dy in (-0.5, 0.5)]
    ).astype(float)
    scale = np.array([spacing_yx[1], spacing_yx[0]])
    points_mm = corners * scale
    hull = points_mm[ConvexHull(points_mm).vertices]
    distances = np.linalg.norm(hull[:, None, :] - hull[None, :, :], axis=-1)
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    longest = float(distances[i, j])
    axis = (hull[j] - hull[i]) / longest
    perpendicular_axis = np.array([-axis[1], axis[0]])
    projection = hull @ perpendicular_axis
    ends = np.vstack([hull[i], hull[j]]) / scale
    return longest, float(np.ptp(projection)), ends


def measure_mask(volume: Volume, mask: np.ndarray) -> MaskMeasurement:
    """Measure ``mask`` (bool ``[z, y, x]`` on ``volume``'s grid) on ``volume``."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != volume.shape:
        raise ValueError(f"mask shape {mask.shape} differs from volume {volume.shape}")
    count = int(mask.sum())
    if count == 0:
        raise ValueError("empty mask: nothing to measure")
    sz, sy, sx = volume.spacing
    best = (-1.0, 0.0, -1, np.zeros((2, 2)))
    for k in np.nonzero(mask.any(axis=(1, 2)))[0]:
        longest, perpendicular, ends = _slice_diameters(mask[k], (sy, sx))
        if longest > best[0]:
            best = (longest, perpendicular, int(k), ends)
    longest, perpendicular, k_best, ends = best
    ends_xyz = np.c_[ends, [k_best, k_best]]
    endpoints = volume.index_to_patient(ends_xyz)

    z, y, x = np.nonzero(mask)
    centroid = volume.index_to_patient(np.array([[x.mean(), y.mean(), z.mean()]]))[0]
    low = np.array([z.min(), y.min(), x.min()])
    high = np.array([z.max(), y.max(), x.max()])
    box_corners = np.array(
        [
            [xx, yy, zz]
            for zz in (low[0], high[0])
            for yy in (low[1], high[1])
            for xx in (low[2], high[2])
        ]
    )
    corners_lps = volume.index_to_patient(box_corners)
    values = volume.array[mask]

    def triple(values_: np.ndarray) -> tuple[float, float, float]:
        return (float(values_[0]), float(values_[1]), float(values_[2]))

    return MaskMeasurement(
        voxel_count=count,
        volume_ml=count * sz * sy * sx / 1000.0,
        longest_diameter_mm=longest,
        perpendicular_diameter_mm=perpendicular,
        diameter_slice=k_best,
        longest_diameter_endpoints_lps=(triple(endpoints[0]), triple(endpoints[1])),
        centroid_lps=triple(centroid),
        bbox_index_min=(int(low[0]), int(low[1]), int(low[2])),
        bbox_index_max=(int(high[0]), int(high[1]), int(high[2])),
        bbox_lps_min=triple(corners_lps.min(axis=0)),
        bbox_lps_max=triple(corners_lps.max(axis=0)),
        mean_intensity=float(values.mean()),
        max_intensity=float(values.max()),
    )


@dataclass(frozen=True)
class MeasurementChange:
    """Change of one lesion between two studies (follow-up minus baseline)."""

    diameter_change_mm: float
    diameter_change_percent: float
    volume_change_ml: float
    volume_change_percent: float


def measurement_change(baseline: MaskMeasurement, follow_up: MaskMeasurement) -> MeasurementChange:
    """Absolute and relative change of the longest diameter and the volume."""

    def percent(new: float, old: float) -> float:
        return float("nan") if old == 0 else 100.0 * (new - old) / old

    return MeasurementChange(
        diameter_change_mm=follow_up.longest_diameter_mm - baseline.longest_diameter_mm,
        diameter_change_percent=percent(
            follow_up.longest_diameter_mm, baseline.longest_diameter_mm
        ),
        volume_change_ml=follow_up.volume_ml - baseline.volume_ml,
        volume_change_percent=percent(follow_up.volume_ml, baseline.volume_ml),
    )


def recist_target_response(
    *, baseline_sum_mm: float, nadir_sum_mm: float, current_sum_mm: float
) -> str:
    """RECIST 1.1 response of the target lesions from the sums of their diameters.

    Eisenhauer et al., "New response evaluation criteria in solid tumours: revised RECIST
    guideline (version 1.1)", Eur J Cancer 45 (2009) 228-247, section 4.3.1:
    CR = all target lesions gone (sum 0; pathological nodes must also be < 10 mm short axis,
    which the caller checks); PD = sum >= 20 % above the nadir (smallest sum so far, baseline
    included) *and* at least 5 mm larger; PR = sum >= 30 % below baseline; else SD.
    New lesions (also PD) and non-target lesions are outside this function.
    """
    if min(baseline_sum_mm, nadir_sum_mm, current_sum_mm) < 0:
        raise ValueError("diameter sums cannot be negative")
    if nadir_sum_mm > baseline_sum_mm:
        raise ValueError("the nadir cannot exceed the baseline sum")
    increase = current_sum_mm - nadir_sum_mm
    if increase >= 0.2 * nadir_sum_mm and increase >= 5.0:
        return "PD"
    if current_sum_mm == 0:
        return "CR"
    if current_sum_mm <= 0.7 * baseline_sum_mm:
        return "PR"
    return "SD"
