"""Nodule candidates on small synthetic volumes whose geometry is known exactly.

Each volume is a box of lung parenchyma (-850 HU) inside soft tissue (+30 HU), seeded noise
(15 HU sd), with balls and tubes drawn with a 1 mm linear partial-volume edge. The expected
centre, volume and distance to the pleura follow from that construction.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from imaging.screening.candidates import Candidate, ScreeningSettings, detect_candidates

LUNG_HU = -850.0


def _lung_box(shape, spacing, margin_mm=6.0, seed=0):
    grids = np.indices(shape, dtype=np.float32)
    mm = [g * s for g, s in zip(grids, spacing, strict=True)]
    extent = [n * s for n, s in zip(shape, spacing, strict=True)]
    lung = np.ones(shape, bool)
    for m, e in zip(mm, extent, strict=True):
        lung &= (m >= margin_mm) & (m <= e - margin_mm)
    hu = np.where(lung, LUNG_HU, 30.0).astype(np.float32)
    return hu, lung, mm, np.random.default_rng(seed)


def _ball(hu, mm, centre_mm, diameter_mm, value):
    dist = np.sqrt(sum((m - c) ** 2 for m, c in zip(mm, centre_mm, strict=True)))
    weight = np.clip((diameter_mm / 2 - dist) / 1.0 + 0.5, 0, 1)
    hu[...] = hu * (1 - weight) + np.maximum(hu, value) * weight


def _tube_along_x(hu, mm, y_mm, z_mm, diameter_mm, value=40.0):
    dist = np.sqrt((mm[0] - z_mm) ** 2 + (mm[1] - y_mm) ** 2)
    weight = np.clip((diameter_mm / 2 - dist) / 1.0 + 0.5, 0, 1)
    hu[...] = hu * (1 - weight) + value * weight


def _nearest(cands: list[Candidate], centre_mm, spacing) -> tuple[Candidate, float]:
    d = [math.dist(np.array(c.centre_voxel) * spacing, centre_mm) for c in cands]
    i = int(np.argmin(d))
    return cands[i], d[i]


@pytest.mark.parametrize("spacing", [(1.0, 0.8, 0.8), (2.5, 0.8, 0.8)])
def test_a_solid_ball_is_found_at_its_centre_with_its_size(spacing):
    shape = (int(60 / spacing[0]), 75, 75)
    hu, lung, mm, rng = _lung_box(shape, spacing)
    centre = (31.0, 29.5, 30.5)
    _ball(hu, mm, centre, 10.0, 40.0)
    hu += rng.normal(0, 15, shape).astype(np.float32)
    cands = detect_candidates(hu, spacing, lung)
    top = cands[0]
    assert math.dist(np.array(top.centre_voxel) * spacing, centre) < 1.0
    # 10 mm ball: 0.5236 ml; the region threshold sits in the partial-volume edge.
    assert top.diameter_mm == pytest.approx(10.0, rel=0.15)
    assert top.volume_ml == pytest.approx(math.pi / 6 * 10**3 / 1000, rel=0.4)
    assert top.nodule_type == "solid"
    assert top.mean_hu > -250
    assert top.sphericity > 0.75
    # Nearest pleura: the lung box face at 6 mm; the ball centre is 23.5 mm from y = 6 mm.
    assert top.pleura_distance_mm == pytest.approx(23.5, abs=2.5)
    assert top.features["blobness"] > 0.6
    assert all(isinstance(v, float) for v in top.features.values())
    assert top.mask.dtype == bool
    assert top.mask.any()
    # The mask lies where the ball is: its centroid (full-volume voxels) is the ball centre.
    idx = np.argwhere(top.mask) + np.array(top.mask_offset)
    assert math.dist(idx.mean(axis=0) * spacing, centre) < 1.0


@pytest.mark.parametrize(
    ("core", "rim", "expected"),
    [(None, -550.0, "ground_glass"), (40.0, -550.0, "part_solid"), (40.0, None, "solid")],
)
def test_density_type_follows_the_hu_of_the_ball(core, rim, expected):
    spacing = (1.25, 0.8, 0.8)
    shape = (48, 75, 75)
    hu, lung, mm, rng = _lung_box(shape, spacing)
    centre = (30.0, 30.0, 30.0)
    if rim is not None:
        _ball(hu, mm, centre, 14.0, rim)
    if core is not None:
        _ball(hu, mm, centre, 7.0 if rim is not None else 14.0, core)
    hu += rng.normal(0, 15, shape).astype(np.float32)
    cand, dist = _nearest(detect_candidates(hu, spacing, lung), centre, spacing)
    assert dist < 2.0
    assert cand.nodule_type == expected
    assert cand.diameter_mm == pytest.approx(14.0, rel=0.2)


def test_a_ball_outranks_a_vessel_of_the_same_density():
    spacing = (1.0, 0.8, 0.8)
    shape = (50, 90, 90)
    hu, lung, mm, rng = _lung_box(shape, spacing)
    _tube_along_x(hu, mm, y_mm=20.0, z_mm=25.0, diameter_mm=5.0)
    ball = (25.0, 52.0, 36.0)
    _ball(hu, mm, ball, 6.0, 40.0)
    hu += rng.normal(0, 15, shape).astype(np.float32)
    cands = detect_candidates(hu, spacing, lung)
    assert math.dist(np.array(cands[0].centre_voxel) * spacing, ball) < 1.5
    on_tube = [c for c in cands if abs(c.centre_voxel[1] * spacing[1] - 20.0) < 4]
    assert on_tube, "the vessel gives candidates (they must rank lower, not vanish)"
    assert max(c.score for c in on_tube) < cands[0].score
    # Along the vessel, away from where the lung mask cuts it (x 6 and 66 mm: those stumps are
    # blob-like ends, a documented limit), it is a tube: low blobness and a low score.
    inside = [c for c in on_tube if 14.0 < c.centre_voxel[2] * spacing[2] < 58.0]
    assert inside
    assert all(c.features["blobness"] < 0.3 for c in inside)
    assert max(c.score for c in inside) < 0.1 * cands[0].score


def test_a_ball_outside_the_lung_mask_is_not_reported():
    spacing = (1.0, 0.8, 0.8)
    shape = (40, 75, 75)
    hu, lung, mm, rng = _lung_box(shape, spacing)
    inside = (20.0, 30.0, 30.0)
    _ball(hu, mm, inside, 8.0, 40.0)
    lung[:, :, 50:] = False  # the right part of the box is not lung any more
    outside = (20.0, 30.0, 50.0)
    _ball(hu, mm, outside, 8.0, -550.0)
    hu += rng.normal(0, 15, shape).astype(np.float32)
    cands = detect_candidates(hu, spacing, lung)
    assert _nearest(cands, inside, spacing)[1] < 1.5
    assert _nearest(cands, outside, spacing)[1] > 8.0


def test_candidates_are_sorted_and_capped():
    spacing = (1.0, 0.8, 0.8)
    shape = (40, 75, 75)
    hu, lung, mm, rng = _lung_box(shape, spacing)
    for x in (15.0, 30.0, 45.0):
        _ball(hu, mm, (20.0, 30.0, x), 6.0, 40.0)
    hu += rng.normal(0, 15, shape).astype(np.float32)
    cands = detect_candidates(hu, spacing, lung, ScreeningSettings(max_candidates=2))
    assert len(cands) == 2
    assert cands[0].score >= cands[1].score
    # int16 HU (as read from DICOM) gives the same candidates as float32.
    same = detect_candidates(
        np.round(hu).astype(np.int16), spacing, lung, ScreeningSettings(max_candidates=2)
    )
    for a, b in zip(same, cands, strict=True):
        assert a.centre_voxel == pytest.approx(b.centre_voxel, abs=0.6)


def test_bad_input_is_refused_with_a_reason():
    lung = np.ones((8, 8, 8), bool)
    with pytest.raises(ValueError, match="3D"):
        detect_candidates(np.zeros((8, 8)), (1, 1, 1), lung)
    with pytest.raises(ValueError, match="spacing"):
        detect_candidates(np.zeros((8, 8, 8)), (1, 0, 1), lung)
    with pytest.raises(ValueError, match="shape"):
        detect_candidates(np.zeros((8, 8, 9)), (1, 1, 1), lung)
    with pytest.raises(ValueError, match="empty"):
        detect_candidates(np.zeros((8, 8, 8)), (1, 1, 1), np.zeros((8, 8, 8), bool))
    with pytest.raises(ValueError, match="dtype"):
        detect_candidates(np.zeros((8, 8, 8), dtype=complex), (1, 1, 1), lung)
    with pytest.raises(ValueError, match="max_diameter_mm"):
        ScreeningSettings(min_diameter_mm=30.0, max_diameter_mm=3.0)
    with pytest.raises(ValueError, match="max_candidates"):
        ScreeningSettings(max_candidates=0)


def test_settings_give_a_geometric_scale_grid_and_json_values():
    s = ScreeningSettings()
    d = s.diameters_mm()
    assert len(d) == s.n_scales
    assert (d[0], d[-1]) == pytest.approx((3.0, 30.0))
    assert np.allclose(np.diff(np.log(d)), np.log(10) / (s.n_scales - 1))
    assert all(isinstance(v, (int, float)) for v in s.to_dict().values())
