"""Synthetic lung nodules of known size, density and position, inserted into a CT (the truth
for detection tests).

``plan_nodules`` picks centres inside a lung mask for a list of diameters, types and
attachments; ``insert_nodules`` draws them into a copy of the CT and returns the truth.

Model of one nodule (all in mm, so anisotropic spacing is handled):

* a ball of radius r = diameter / 2 around ``centre_voxel``; the weight of a voxel is its
  partial-volume fraction w = clip((r - d) / e + 0.5, 0, 1), d the distance of the voxel centre
  from the nodule centre and e the smallest voxel spacing (a one-voxel soft edge). The truth mask
  is w >= 0.5, i.e. d <= r, so its equivalent-sphere diameter is the specified one;
* the nodule's HU: solid U(+30, +60), ground glass U(-600, -500) (seeded per nodule), plus a
  seeded texture (Gaussian noise smoothed over one voxel, sd ``TEXTURE_SD`` HU); part-solid is a
  ground-glass ball with a solid core of ``PART_SOLID_CORE`` (half) its diameter;
* new = max(old, old (1 - w) + nodule w): tissue is added to the parenchyma, never taken away,
  so a vessel crossing a ground-glass nodule stays visible and the chest wall beside a
  juxta-pleural one is not darkened. Voxels with w = 0 (outside the footprint) are unchanged.

Attachments (``plan_nodules``): "none" (free in the lung, clear of the pleura by 3 mm and of
vessels by 2 mm), "pleural" (the ball tangent to the lung boundary from inside: centre at r from
the pleura), "vascular" (the ball tangent to a vessel: centre at r from the nearest vessel voxel).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

NODULE_TYPES = ("solid", "part_solid", "ground_glass")
ATTACHMENTS = ("none", "vascular", "pleural")
SOLID_HU = (30.0, 60.0)
GROUND_GLASS_HU = (-600.0, -500.0)
PART_SOLID_CORE = 0.5
TEXTURE_SD = 15.0
FREE_PLEURA_MARGIN_MM = 3.0
FREE_VESSEL_MARGIN_MM = 2.0
DEFAULT_SEPARATION_MM = 5.0


@dataclass(frozen=True)
class NoduleSpec:
    """One nodule to insert: centre (z, y, x) in voxels, diameter in mm, type, attachment."""

    centre_voxel: tuple[float, float, float]
    diameter_mm: float
    nodule_type: str = "solid"
    attachment: str = "none"
    label: str = ""

    def __post_init__(self) -> None:
        if len(self.centre_voxel) != 3 or not all(math.isfinite(c) for c in self.centre_voxel):
            raise ValueError(f"centre_voxel must be three finite (z, y, x) values: {self!r}")
        if not (math.isfinite(self.diameter_mm) and self.diameter_mm > 0):
            raise ValueError(f"diameter_mm must be a positive number, got {self.diameter_mm!r}")
        if self.nodule_type not in NODULE_TYPES:
            raise ValueError(f"nodule_type must be one of {NODULE_TYPES}, got {self.nodule_type!r}")
        if self.attachment not in ATTACHMENTS:
            raise ValueError(f"attachment must be one of {ATTACHMENTS}, got {self.attachment!r}")


@dataclass
class InsertedNodule:
    """Truth for one inserted nodule. ``mask`` is the truth (w >= 0.5) in the bounding box that
    starts at ``mask_offset`` (z, y, x); ``footprint`` (same box) is every voxel it changed or
    could change (w > 0)."""

    label: str
    centre_voxel: tuple[float, float, float]
    diameter_mm: float
    nodule_type: str
    attachment: str
    hu: float  # the nodule's (outer) HU before texture
    core_hu: float | None  # part-solid: the solid core's HU
    mask: np.ndarray
    footprint: np.ndarray
    mask_offset: tuple[int, int, int]

    def box(self) -> tuple[slice, slice, slice]:
        z, y, x = self.mask_offset
        dz, dy, dx = self.mask.shape
        return (slice(z, z + dz), slice(y, y + dy), slice(x, x + dx))

    def full_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        out = np.zeros(shape, bool)
        out[self.box()] = self.mask
        return out

    def voxel_count(self) -> int:
        return int(self.mask.sum())


def _check_grid(hu: np.ndarray, spacing: Sequence[float]) -> tuple[float, float, float]:
    if not isinstance(hu, np.ndarray) or hu.ndim != 3:
        raise ValueError(f"a 3D (z, y, x) array is needed, got {getattr(hu, 'shape', None)}")
    try:
        values = [float(s) for s in spacing]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"spacing must be three positive mm values, got {spacing!r}") from exc
    if len(values) != 3 or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing must be three positive mm values (z, y, x), got {spacing!r}")
    return (values[0], values[1], values[2])


def _ball(
    shape: tuple[int, ...],
    centre: tuple[float, float, float],
    radius_mm: float,
    spacing: tuple[float, float, float],
    edge_mm: float,
) -> tuple[tuple[slice, slice, slice], np.ndarray] | None:
    """Bounding box (clipped to the grid) and distances (mm) from ``centre`` within it."""
    reach = radius_mm + edge_mm
    sl = []
    for c, s, n in zip(centre, spacing, shape, strict=True):
        start = max(0, int(math.floor(c - reach / s)))
        stop = min(n, int(math.ceil(c + reach / s)) + 1)
        if start >= stop:
            return None
        sl.append(slice(start, stop))
    box = (sl[0], sl[1], sl[2])
    axes = [
        (np.arange(b.start, b.stop, dtype=np.float64) - c) * s
        for b, c, s in zip(box, centre, spacing, strict=True)
    ]
    dist = np.sqrt(
        axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    )
    return box, dist


def insert_nodules(
    hu: np.ndarray,
    spacing: tuple[float, float, float],
    specs: Sequence[NoduleSpec],
    *,
    seed: int,
) -> tuple[np.ndarray, list[InsertedNodule]]:
    """A float32 copy of ``hu`` with the nodules of ``specs`` drawn in, and their truth.
    Same seed and specs -> identical output. ``hu`` itself is not changed."""
    sp = _check_grid(hu, spacing)
    if not all(isinstance(s, NoduleSpec) for s in specs):
        raise ValueError("specs must be NoduleSpec instances")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError("nodule labels must be unique")
    out = np.array(hu, dtype=np.float32, copy=True)
    edge = float(min(sp))
    truths: list[InsertedNodule] = []
    for index, spec in enumerate(specs):
        c = spec.centre_voxel
        if not all(0 <= v <= n - 1 for v, n in zip(c, out.shape, strict=True)):
            raise ValueError(f"nodule {spec.label or index} centre {c} lies outside the CT")
        rng = np.random.default_rng([int(seed), index])
        radius = spec.diameter_mm / 2.0
        found = _ball(out.shape, c, radius, sp, edge)
        if found is None:  # pragma: no cover - the centre check above rules this out
            raise ValueError(f"nodule {spec.label or index} lies outside the CT")
        box, dist = found
        weight = np.clip((radius - dist) / edge + 0.5, 0.0, 1.0).astype(np.float32)
        if spec.nodule_type == "ground_glass":
            outer_hu = float(rng.uniform(*GROUND_GLASS_HU))
            core_hu: float | None = None
            target = np.full(dist.shape, outer_hu, np.float32)
        elif spec.nodule_type == "solid":
            outer_hu = float(rng.uniform(*SOLID_HU))
            core_hu = None
            target = np.full(dist.shape, outer_hu, np.float32)
        else:
            outer_hu = float(rng.uniform(*GROUND_GLASS_HU))
            core_hu = float(rng.uniform(*SOLID_HU))
            core_r = PART_SOLID_CORE * radius
            core_w = np.clip((core_r - dist) / edge + 0.5, 0.0, 1.0)
            target = (outer_hu * (1 - core_w) + core_hu * core_w).astype(np.float32)
        texture = rng.normal(0.0, 1.0, size=dist.shape).astype(np.float32)
        texture = ndi.gaussian_filter(texture, sigma=1.0)
        sd = float(texture.std()) or 1.0
        target += texture * (TEXTURE_SD / sd)
        old = out[box]
        blended = old * (1.0 - weight) + target * weight
        out[box] = np.where(weight > 0, np.maximum(old, blended), old)
        truths.append(
            InsertedNodule(
                label=spec.label or f"nodule-{index + 1}",
                centre_voxel=(float(c[0]), float(c[1]), float(c[2])),
                diameter_mm=float(spec.diameter_mm),
                nodule_type=spec.nodule_type,
                attachment=spec.attachment,
                hu=outer_hu,
                core_hu=core_hu,
                mask=dist <= radius,
                footprint=weight > 0,
                mask_offset=(box[0].start, box[1].start, box[2].start),
            )
        )
    return out, truths


def _cycle(values: Sequence[Any], what: str) -> list[Any]:
    items = list(values)
    if not items:
        raise ValueError(f"{what} must not be empty")
    return items


def plan_nodules(
    lung_mask: np.ndarray,
    spacing: tuple[float, float, float],
    rng: np.random.Generator,
    *,
    count: int,
    diameters_mm: Sequence[float] = (5.0, 8.0, 12.0, 18.0),
    types: Sequence[str] = NODULE_TYPES,
    attachments: Sequence[str] = ATTACHMENTS,
    vessels: np.ndarray | None = None,
    min_separation_mm: float = DEFAULT_SEPARATION_MM,
    avoid: np.ndarray | None = None,
    label_prefix: str = "nodule",
) -> list[NoduleSpec]:
    """``count`` nodule specs inside ``lung_mask`` (bool, (z, y, x)).

    Nodule i gets diameter ``diameters_mm[i % n_d]``; types and attachments are crossed: each
    run of n_t x n_a nodules takes every (type, attachment) pair once, in an order drawn with
    ``rng``; its centre is drawn
    with ``rng`` among the voxels that suit its attachment (module docstring), at least
    ``min_separation_mm`` between the surfaces of any two nodules and clear of ``avoid`` (e.g. a
    real tumour) by the same margin. "vascular" needs ``vessels`` (bool mask). ValueError when a
    nodule finds no room."""
    sp = _check_grid(lung_mask, spacing)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy Generator (np.random.default_rng(seed))")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    lung = np.asarray(lung_mask, bool)
    if not lung.any():
        raise ValueError("the lung mask is empty: nowhere to place nodules")
    diams = [float(d) for d in _cycle(diameters_mm, "diameters_mm")]
    if not all(math.isfinite(d) and d > 0 for d in diams):
        raise ValueError(f"diameters must be positive, got {diams}")
    kinds = [str(t) for t in _cycle(types, "types")]
    for t in kinds:
        if t not in NODULE_TYPES:
            raise ValueError(f"nodule type must be one of {NODULE_TYPES}, got {t!r}")
    atts = [str(a) for a in _cycle(attachments, "attachments")]
    for a in atts:
        if a not in ATTACHMENTS:
            raise ValueError(f"attachment must be one of {ATTACHMENTS}, got {a!r}")
    if "vascular" in atts and count > 0 and (vessels is None or not np.asarray(vessels).any()):
        raise ValueError("juxta-vascular nodules need a vessels mask with vessels in it")

    # distance to the pleura; the edge of the field counts as one (np.pad), so a nodule is
    # never cut by the field of a cropped CT
    inside_mm = ndi.distance_transform_edt(np.pad(lung, 1), sampling=sp)[1:-1, 1:-1, 1:-1]
    vessel_mm = None
    if vessels is not None and np.asarray(vessels).any():
        vessel_mask = np.asarray(vessels, bool) & lung
        vessel_mm = ndi.distance_transform_edt(~vessel_mask, sampling=sp)
    avoid_mm = None
    if avoid is not None and np.asarray(avoid).any():
        avoid_mm = ndi.distance_transform_edt(~np.asarray(avoid, bool), sampling=sp)
    pairs = [(t, a) for t in kinds for a in atts]
    order = np.arange(len(pairs))
    half_voxel = 0.5 * float(min(sp))
    scale = np.array(sp)
    centres: list[np.ndarray] = []
    radii: list[float] = []
    specs: list[NoduleSpec] = []
    for i in range(count):
        d = diams[i % len(diams)]
        if i % len(pairs) == 0:
            order = rng.permutation(len(pairs))
        kind, att = pairs[int(order[i % len(pairs)])]
        r = d / 2.0
        if att == "pleural":
            ok = (inside_mm >= r + half_voxel) & (inside_mm <= r + half_voxel + 1.5)
        else:
            ok = inside_mm >= r + FREE_PLEURA_MARGIN_MM
        if att == "vascular" and vessel_mm is not None:
            ok &= (vessel_mm >= r) & (vessel_mm <= r + half_voxel + 0.5)
        elif vessel_mm is not None:
            ok &= vessel_mm >= r + FREE_VESSEL_MARGIN_MM
        if avoid_mm is not None:
            ok &= avoid_mm >= r + min_separation_mm
        points = np.argwhere(ok)
        if len(points):
            # keep clear of the nodules placed so far
            pos = points * scale
            free = np.ones(len(points), bool)
            for c, rr in zip(centres, radii, strict=True):
                free &= np.sqrt(((pos - c) ** 2).sum(axis=1)) >= r + rr + min_separation_mm
            points = points[free]
        if not len(points):
            raise ValueError(f"no room for nodule {i + 1}: a {d:g} mm {att} nodule")
        pick = points[int(rng.integers(len(points)))].astype(float)
        centres.append(pick * scale)
        radii.append(r)
        specs.append(
            NoduleSpec(
                centre_voxel=(float(pick[0]), float(pick[1]), float(pick[2])),
                diameter_mm=d,
                nodule_type=kind,
                attachment=att,
                label=f"{label_prefix}-{i + 1}-{kind}-{att}-{d:g}mm",
            )
        )
    return specs
