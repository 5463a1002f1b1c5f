"""Measurements on synthetic shapes whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.dicom.measure import measure_mask, measurement_change, recist_target_response
from imaging.dicom.volume import Volume


def _ellipsoid_volume(radii_mm, centre_mm, spacing, shape, origin=(0.0, 0.0, 0.0)):
    sz, sy, sx = spacing
    k, j, i = np.mgrid[0 : shape[0], 0 : shape[1], 0 : shape[2]].astype(float)
    x, y, z = origin[0] + i * sx, origin[1] + j * sy, origin[2] + k * sz
    inside = (
        ((x - centre_mm[0]) / radii_mm[0]) ** 2
        + ((y - centre_mm[1]) / radii_mm[1]) ** 2
        + ((z - centre_mm[2]) / radii_mm[2]) ** 2
    ) <= 1
    intensity = np.where(inside, 50.0 + x, -100.0).astype(np.float32)
    return Volume(intensity, spacing, origin), inside


def test_sphere_volume_diameter_and_centroid_match_geometry():
    # radius 20 mm sphere on 0.5 mm voxels centred at (30, 31, 32) mm
    volume, mask = _ellipsoid_volume(
        (20, 20, 20), (30.2, 31.1, 32.0), (0.5, 0.5, 0.5), (130, 130, 130)
    )
    result = measure_mask(volume, mask)
    assert result.volume_ml == pytest.approx(4 / 3 * np.pi * 20**3 / 1000, rel=0.01)  # 33.5 ml
    # edge-to-edge callipers: 40 mm, within one voxel
    assert result.longest_diameter_mm == pytest.approx(40, abs=0.75)
    assert result.perpendicular_diameter_mm == pytest.approx(40, abs=0.75)
    assert result.centroid_lps == pytest.approx((30.2, 31.1, 32.0), abs=0.05)
    assert result.diameter_slice == pytest.approx(64, abs=2)


def test_ellipse_gives_its_axes_as_long_and_perpendicular_diameters():
    # axial ellipse 30 x 12 mm semi-axes, 4 slices tall cylinder-like (z radius large)
    volume, mask = _ellipsoid_volume((30, 12, 100), (40, 40, 6), (3.0, 0.25, 0.25), (5, 320, 320))
    result = measure_mask(volume, mask)
    assert result.longest_diameter_mm == pytest.approx(60, abs=0.4)
    assert result.perpendicular_diameter_mm == pytest.approx(24, abs=0.4)
    (x0, y0, _), (x1, y1, _) = result.longest_diameter_endpoints_lps
    assert abs(y1 - y0) < 1.0  # the long axis runs along x
    assert abs(abs(x1 - x0) - 60) < 0.5


def test_box_bounding_box_volume_and_intensities_in_patient_coordinates():
    spacing, origin = (2.0, 1.0, 0.5), (-50.0, 20.0, 100.0)
    array = np.zeros((10, 20, 40), np.float32)
    mask = np.zeros(array.shape, bool)
    mask[2:5, 3:8, 10:20] = True  # 3 x 5 x 10 voxels
    array[mask] = 7.0
    array[3, 5, 15] = 99.0
    result = measure_mask(Volume(array, spacing, origin), mask)
    assert result.voxel_count == 150
    assert result.volume_ml == pytest.approx(150 * 2 * 1 * 0.5 / 1000)
    assert result.bbox_index_min == (2, 3, 10)
    assert result.bbox_index_max == (4, 7, 19)
    assert result.bbox_lps_min == pytest.approx((-50 + 10 * 0.5, 20 + 3, 100 + 2 * 2))
    assert result.bbox_lps_max == pytest.approx((-50 + 19 * 0.5, 20 + 7, 100 + 4 * 2))
    assert result.max_intensity == 99.0
    assert result.mean_intensity == pytest.approx((149 * 7 + 99) / 150)
    # a 5 mm x 5 mm square (10 x 0.5 by 5 x 1): diagonal 5*sqrt(2)
    assert result.longest_diameter_mm == pytest.approx(5 * np.sqrt(2))


def test_empty_or_misshapen_masks_are_refused():
    volume = Volume(np.zeros((2, 3, 4), np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="empty mask"):
        measure_mask(volume, np.zeros((2, 3, 4), bool))
    with pytest.raises(ValueError, match="shape"):
        measure_mask(volume, np.ones((2, 3, 5), bool))


def test_change_between_studies_of_a_growing_sphere():
    spacing = (1.0, 1.0, 1.0)
    before_volume, before_mask = _ellipsoid_volume(
        (10, 10, 10), (30, 30, 30), spacing, (60, 60, 60)
    )
    after_volume, after_mask = _ellipsoid_volume((15, 15, 15), (30, 30, 30), spacing, (60, 60, 60))
    change = measurement_change(
        measure_mask(before_volume, before_mask), measure_mask(after_volume, after_mask)
    )
    assert change.diameter_change_mm == pytest.approx(10, abs=1.5)
    # volume scales with r^3: (15/10)^3 = 3.375 -> +237.5 %
    assert change.volume_change_percent == pytest.approx(237.5, rel=0.05)


# Thresholds from RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247, section 4.3.1).
@pytest.mark.parametrize(
    ("baseline", "nadir", "current", "expected"),
    [
        (100, 100, 0, "CR"),
        (100, 100, 70, "PR"),  # exactly 30 % below baseline
        (100, 100, 71, "SD"),
        (100, 60, 72, "PD"),  # +20 % over the nadir and +12 mm
        (100, 60, 71.9, "SD"),  # +19.8 % over the nadir: not yet progression
        (20, 20, 24, "SD"),  # +20 % but only +4 mm: the 5 mm rule holds it back
        (20, 20, 25, "PD"),
        (100, 0, 5, "PD"),  # reappearance after a complete response, +5 mm
    ],
)
def test_recist_target_response_follows_the_published_thresholds(
    baseline, nadir, current, expected
):
    assert (
        recist_target_response(baseline_sum_mm=baseline, nadir_sum_mm=nadir, current_sum_mm=current)
        == expected
    )
