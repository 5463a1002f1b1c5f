"""Synthetic nodule insertion: sizes, densities and positions checked against the geometry of
the specs (equivalent-sphere diameters measured from the image, distances by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from imaging.screening.insert import (
    GROUND_GLASS_HU,
    SOLID_HU,
    NoduleSpec,
    insert_nodules,
    plan_nodules,
)

SPACING = (2.0, 0.8, 0.8)  # anisotropic on purpose
SHAPE = (40, 100, 100)
LUNG = -850.0


def _lung(seed=0):
    rng = np.random.default_rng(seed)
    return (LUNG + rng.normal(0, 20, SHAPE)).astype(np.float32)


def _grid_mm(box, centre):
    axes = [
        (np.arange(b.start, b.stop) - c) * s for b, c, s in zip(box, centre, SPACING, strict=True)
    ]
    return np.sqrt(
        axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    )


def _equivalent_diameter(count):
    return (6 * count * math.prod(SPACING) / math.pi) ** (1 / 3)


@pytest.mark.parametrize("diameter", [4.0, 6.0, 10.0, 20.0])
@pytest.mark.parametrize("kind", ["solid", "part_solid", "ground_glass"])
def test_measured_diameter_matches_the_spec(kind, diameter):
    old = _lung()
    spec = NoduleSpec((20.0, 50.3, 49.6), diameter, kind, "none", "n1")
    new, (truth,) = insert_nodules(old, SPACING, [spec], seed=1)
    # from the image: voxels whose added density is at least half the contrast of the
    # nodule's outer HU over the parenchyma (texture and noise make this a real measurement)
    contrast = truth.hu - LUNG
    grown = (new - old) >= 0.5 * contrast
    measured = _equivalent_diameter(int(grown.sum()))
    voxel = max(SPACING)  # "one voxel" allowance for the smallest nodules
    assert abs(measured - diameter) <= max(0.1 * diameter, voxel), measured
    # from the truth mask (distance <= radius)
    from_mask = _equivalent_diameter(truth.voxel_count())
    assert abs(from_mask - diameter) <= max(0.1 * diameter, voxel)


@pytest.mark.parametrize("kind", ["solid", "part_solid", "ground_glass"])
def test_core_hu_is_in_the_range_of_the_type(kind):
    old = _lung()
    centre = (20.0, 50.0, 50.0)
    new, (truth,) = insert_nodules(
        old, SPACING, [NoduleSpec(centre, 16.0, kind, "none", "n")], seed=3
    )
    dist = _grid_mm(truth.box(), centre)
    region = new[truth.box()]
    core = region[dist <= 3.0].mean()  # inner 6 mm
    shell = region[(dist >= 5.5) & (dist <= 7.0)].mean()  # well inside the 8 mm radius
    solid_range = (SOLID_HU[0] - 10, SOLID_HU[1] + 10)
    ggo_range = (GROUND_GLASS_HU[0] - 10, GROUND_GLASS_HU[1] + 10)
    if kind == "solid":
        assert solid_range[0] <= core <= solid_range[1]
        assert solid_range[0] <= shell <= solid_range[1]
    elif kind == "ground_glass":
        assert ggo_range[0] <= core <= ggo_range[1]
        assert ggo_range[0] <= shell <= ggo_range[1]
    else:  # a solid core (half the diameter) in a ground-glass ball
        assert solid_range[0] <= core <= solid_range[1]
        assert ggo_range[0] <= shell <= ggo_range[1]


def test_the_image_is_unchanged_outside_each_footprint_and_the_input_untouched():
    old = _lung()
    before = old.copy()
    specs = [
        NoduleSpec((10.0, 30.0, 30.0), 8.0, "solid", "none", "a"),
        NoduleSpec((28.0, 70.0, 65.0), 12.0, "ground_glass", "none", "b"),
    ]
    new, truths = insert_nodules(old, SPACING, specs, seed=0)
    assert np.array_equal(old, before)
    changed = np.zeros(SHAPE, bool)
    for t in truths:
        fp = np.zeros(SHAPE, bool)
        fp[t.box()] = t.footprint
        changed |= fp
    assert np.array_equal(new[~changed], old[~changed])
    assert not np.array_equal(new[changed], old[changed])
    # footprints are the ball plus its one-voxel soft edge: radius + min spacing, by hand
    for t, spec in zip(truths, specs, strict=True):
        dist = _grid_mm(t.box(), spec.centre_voxel)
        assert (dist[t.footprint] < spec.diameter_mm / 2 + 0.5 * min(SPACING) + 1e-6).all()
        assert np.array_equal(t.mask, dist <= spec.diameter_mm / 2)


def test_a_vessel_crossing_a_ground_glass_nodule_stays_visible():
    old = np.full(SHAPE, LUNG, np.float32)
    old[:, 48:52, :] = 40.0  # a vessel along x
    new, _ = insert_nodules(
        old, SPACING, [NoduleSpec((20.0, 50.0, 50.0), 14.0, "ground_glass")], seed=0
    )
    assert (new[:, 48:52, :] >= 40.0 - 1e-3).all()


def test_same_seed_same_image_other_seed_other_texture():
    old = _lung()
    specs = [NoduleSpec((20.0, 50.0, 50.0), 10.0, "part_solid", "none", "x")]
    a, _ = insert_nodules(old, SPACING, specs, seed=4)
    b, _ = insert_nodules(old, SPACING, specs, seed=4)
    c, _ = insert_nodules(old, SPACING, specs, seed=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_specs_and_grids_are_refused():
    with pytest.raises(ValueError, match="nodule_type"):
        NoduleSpec((1.0, 1.0, 1.0), 5.0, "calcified")
    with pytest.raises(ValueError, match="attachment"):
        NoduleSpec((1.0, 1.0, 1.0), 5.0, "solid", "fissure")
    with pytest.raises(ValueError, match="diameter"):
        NoduleSpec((1.0, 1.0, 1.0), 0.0)
    with pytest.raises(ValueError, match="diameter"):
        NoduleSpec((1.0, 1.0, 1.0), float("nan"))
    spec = NoduleSpec((5.0, 5.0, 5.0), 4.0)
    with pytest.raises(ValueError, match="3D"):
        insert_nodules(np.zeros((10, 10)), SPACING, [spec], seed=0)
    with pytest.raises(ValueError, match="spacing"):
        insert_nodules(np.zeros(SHAPE), (1.0, 1.0), [spec], seed=0)
    with pytest.raises(ValueError, match="spacing"):
        insert_nodules(np.zeros(SHAPE), (1.0, -1.0, 1.0), [spec], seed=0)
    with pytest.raises(ValueError, match="outside"):
        insert_nodules(np.zeros(SHAPE), SPACING, [NoduleSpec((50.0, 5.0, 5.0), 4.0)], seed=0)
    with pytest.raises(ValueError, match="unique"):
        insert_nodules(np.zeros(SHAPE), SPACING, [spec, spec], seed=0)


# --- planning ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lung_and_vessels():
    z, y, x = np.indices(SHAPE)
    mm = (z * SPACING[0], y * SPACING[1], x * SPACING[2])
    centre = (40.0, 40.0, 40.0)
    lung = sum(((m - c) / 36.0) ** 2 for m, c in zip(mm, centre, strict=True)) <= 1.0
    vessels = lung & (np.abs(mm[1] - 40.0) <= 1.6) & (np.abs(mm[0] - 40.0) <= 1.6)
    return lung, vessels


def test_planned_nodules_sit_where_their_attachment_says(lung_and_vessels):
    lung, vessels = lung_and_vessels
    specs = plan_nodules(
        lung,
        SPACING,
        np.random.default_rng(0),
        count=6,
        diameters_mm=(6.0, 8.0),
        types=("solid", "ground_glass"),
        attachments=("none", "vascular", "pleural"),
        vessels=vessels,
        min_separation_mm=3.0,
    )
    assert sorted((s.nodule_type, s.attachment) for s in specs) == sorted(
        (t, a) for t in ("solid", "ground_glass") for a in ("none", "vascular", "pleural")
    )
    # distances by hand: the lung is a ball of radius 36 mm about (40, 40, 40) mm; the vessel
    # is the line y = z = 40 mm (voxel centres within 1.6 mm of it)
    vessel_points = np.argwhere(vessels) * np.array(SPACING)
    for s in specs:
        c = np.array(s.centre_voxel) * np.array(SPACING)
        r = s.diameter_mm / 2
        to_pleura = 36.0 - float(np.linalg.norm(c - 40.0))
        to_vessel = float(np.sqrt(((vessel_points - c) ** 2).sum(axis=1)).min())
        assert 0 <= c.min()
        if s.attachment == "pleural":
            assert r - 1.0 <= to_pleura <= r + 2.5, (s, to_pleura)
        else:
            assert to_pleura >= r + 2.0
        if s.attachment == "vascular":
            assert r <= to_vessel <= r + 1.0
        else:
            assert to_vessel >= r + 1.9
    centres = [np.array(s.centre_voxel) * np.array(SPACING) for s in specs]
    for i in range(len(specs)):
        for j in range(i):
            gap = np.linalg.norm(centres[i] - centres[j])
            assert gap >= specs[i].diameter_mm / 2 + specs[j].diameter_mm / 2 + 3.0


def test_planning_is_seeded_and_refuses_what_cannot_be_done(lung_and_vessels):
    lung, vessels = lung_and_vessels
    a = plan_nodules(lung, SPACING, np.random.default_rng(3), count=4, vessels=vessels)
    b = plan_nodules(lung, SPACING, np.random.default_rng(3), count=4, vessels=vessels)
    c = plan_nodules(lung, SPACING, np.random.default_rng(4), count=4, vessels=vessels)
    assert a == b
    assert a != c
    with pytest.raises(ValueError, match="vessels"):
        plan_nodules(lung, SPACING, np.random.default_rng(0), count=3)
    with pytest.raises(ValueError, match="no room"):
        plan_nodules(
            lung,
            SPACING,
            np.random.default_rng(0),
            count=1,
            diameters_mm=(80.0,),
            attachments=("none",),
        )
    with pytest.raises(ValueError, match="empty"):
        plan_nodules(np.zeros(SHAPE, bool), SPACING, np.random.default_rng(0), count=1)
    with pytest.raises(ValueError, match="nodule type"):
        plan_nodules(lung, SPACING, np.random.default_rng(0), count=1, types=("calcified",))
    # the edge of the field counts as pleura: no nodule is cut by it
    cut = lung.copy()
    cut[:5] = False
    cut[5:] = True
    for s in plan_nodules(
        cut, SPACING, np.random.default_rng(1), count=3, attachments=("none",), diameters_mm=(10.0,)
    ):
        z, y, x = s.centre_voxel
        assert SHAPE[0] - 1 - z >= 5.0 / SPACING[0]
        assert y * SPACING[1] >= 5.0
        assert x * SPACING[2] >= 5.0


def test_a_planned_and_inserted_set_has_the_truth_of_every_nodule(lung_and_vessels):
    lung, vessels = lung_and_vessels
    specs = plan_nodules(lung, SPACING, np.random.default_rng(2), count=3, vessels=vessels)
    old = np.where(lung, LUNG, 40.0).astype(np.float32)
    new, truths = insert_nodules(old, SPACING, specs, seed=2)
    assert [t.label for t in truths] == [s.label for s in specs]
    for t, s in zip(truths, specs, strict=True):
        assert t.centre_voxel == s.centre_voxel
        centre = tuple(int(round(v)) for v in s.centre_voxel)
        assert t.full_mask(SHAPE)[centre]
        assert ndi.label(t.mask)[1] == 1
