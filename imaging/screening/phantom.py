"""A seeded synthetic chest CT with known anatomy (the truth for lung segmentation tests).

``chest_phantom(seed, shape, spacing)`` draws, in HU on a (z, y, x) grid:

* air (-1000) outside an elliptic body; the body is fat (-100) under the skin and muscle /
  mediastinal soft tissue (+40) inside;
* ribs (+700, bands of the chest wall every ~9 % of the field height) and a vertebral body
  (+500, posterior midline);
* two lungs (-850): ellipsoids with a domed base (diaphragm); the left one (patient left = +x,
  higher x index) carved by the heart (+40), so the right lung is the larger, as in people;
  they come within a few mm of each other in front of the heart (anterior junction);
* the trachea and the two main bronchi: air lumen (-1000) with a soft-tissue wall, entering each
  lung at its hilum (the lumen is the ``airways`` truth);
* a branching tree of tapering vessels (+40, partial-volume edge) in each lung, from the hilum
  out to 4 mm inside the pleura (``vessels`` truth);
* seeded Gaussian noise (sd 20 HU).

Geometry is given as fractions of the field, so the anatomy fills any field: with the default
field (96 x 192 x 192 voxels of 2.5 x 1.5 x 1.5 mm = 240 x 288 x 288 mm) the body is about
250 x 180 mm and the lungs hold about 0.95 L (right) + 0.87 L (left) (1.8 L: a small adult
breathing out; seeds vary it by a few %); a larger field scales them
with its volume. ``lungs_left`` / ``lungs_right`` are the lung truth: the lung shapes less the
airway lumen and wall (vessels inside the lungs belong to the lungs, as in clinical masks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

AIR_HU = -1000.0
FAT_HU = -100.0
SOFT_HU = 40.0
LUNG_HU = -850.0
BONE_HU = 700.0
SPINE_HU = 500.0
VESSEL_HU = 40.0
NOISE_SD = 20.0
VESSEL_CLEARANCE_MM = 4.0
# directions (z, y, x medial->lateral) of the vessel trees leaving each hilum
VESSEL_ROOTS = (
    (1.0, 0.0, 0.4),
    (-1.0, 0.3, 0.4),
    (0.0, -1.0, 0.3),
    (-0.5, 0.8, 0.2),
    (0.6, 0.6, 0.5),
)


@dataclass
class ChestPhantom:
    """The phantom CT (``hu``, float32 HU, (z, y, x)) and its truth masks."""

    hu: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]  # LPS (x, y, z) mm of voxel [0, 0, 0]
    body: np.ndarray
    lungs_left: np.ndarray
    lungs_right: np.ndarray
    airways: np.ndarray  # trachea + main bronchi lumen
    vessels: np.ndarray
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    seed: int = 0

    @property
    def lungs(self) -> np.ndarray:
        return self.lungs_left | self.lungs_right

    def lung_volumes_ml(self) -> dict[str, float]:
        voxel_ml = float(np.prod(self.spacing)) / 1000.0
        left = float(self.lungs_left.sum()) * voxel_ml
        right = float(self.lungs_right.sum()) * voxel_ml
        return {"left": left, "right": right, "total": left + right}


def _check(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> None:
    if len(shape) != 3 or any(int(n) < 16 for n in shape):
        raise ValueError(f"shape must be three sizes of at least 16 voxels, got {shape!r}")
    if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing must be three positive mm values, got {spacing!r}")


def _segment_distance(
    pz: np.ndarray, py: np.ndarray, px: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (mm) of grid points to segment a-b, and the position t in [0, 1] along it."""
    d = b - a
    length2 = float(d @ d) or 1e-9
    t = ((pz - a[0]) * d[0] + (py - a[1]) * d[1] + (px - a[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    dz = pz - (a[0] + t * d[0])
    dy = py - (a[1] + t * d[1])
    dx = px - (a[2] + t * d[2])
    return np.sqrt(dz * dz + dy * dy + dx * dx), t


class _Canvas:
    """Coordinates in mm from the field centre: z (head +), y (posterior +), x (left +)."""

    def __init__(self, shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> None:
        self.shape = shape
        self.spacing = np.array(spacing, float)
        self.axes = [
            ((np.arange(n, dtype=np.float32) - (n - 1) / 2.0) * s)
            for n, s in zip(shape, spacing, strict=True)
        ]

    def box(
        self, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[tuple[slice, slice, slice], np.ndarray, np.ndarray, np.ndarray] | None:
        """Index box covering mm bounds [lo, hi] and its open grids (or None if outside)."""
        sl = []
        for axis in range(3):
            n, s = self.shape[axis], self.spacing[axis]
            start = int(math.floor(lo[axis] / s + (n - 1) / 2.0))
            stop = int(math.ceil(hi[axis] / s + (n - 1) / 2.0)) + 1
            start, stop = max(start, 0), min(stop, n)
            if start >= stop:
                return None
            sl.append(slice(start, stop))
        box = (sl[0], sl[1], sl[2])
        pz = self.axes[0][box[0]][:, None, None]
        py = self.axes[1][box[1]][None, :, None]
        px = self.axes[2][box[2]][None, None, :]
        return box, pz, py, px


def _lung_shape(
    canvas: _Canvas, centre: tuple[float, float, float], half: tuple[float, float, float]
) -> np.ndarray:
    """An ellipsoid whose base is pushed up by a dome (the diaphragm), bool full size."""
    cz, cy, cx = centre
    hz, hy, hx = half
    z, y, x = canvas.axes
    u = ((z - cz) / hz)[:, None, None]
    v = ((y - cy) / hy)[None, :, None]
    w = ((x - cx) / hx)[None, None, :]
    inside = (u * u + v * v + w * w) <= 1.0
    # diaphragm: a dome, higher in front; the lung reaches lowest behind (the posterior
    # costophrenic recess), so below the dome's top the lung is a crescent open in front
    dome = -0.2 - 0.4 * (v * v + w * w) - 0.6 * v
    return inside & (u >= dome)


def _vessel_tree(
    rng: np.random.Generator,
    root: np.ndarray,
    direction: np.ndarray,
    length: float,
    radius: float,
    depth: int,
) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """Segments (start, end, start radius, end radius) in mm of a random bifurcating tree."""
    segments: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    stack = [(root, direction / np.linalg.norm(direction), length, radius, depth)]
    while stack:
        start, d, seg_len, r0, level = stack.pop()
        end = start + d * seg_len
        r1 = r0 * 0.75
        segments.append((start, end, r0, r1))
        if level <= 1 or r1 < 0.6:
            continue
        # two children: rotate d by +-angle about a random axis perpendicular to it
        perp = rng.normal(size=3)
        perp -= perp.dot(d) * d
        perp /= np.linalg.norm(perp) or 1.0
        for sign in (1.0, -1.0):
            angle = math.radians(rng.uniform(25.0, 40.0)) * sign
            child = d * math.cos(angle) + perp * math.sin(angle)
            child /= np.linalg.norm(child)
            stack.append((end, child, seg_len * rng.uniform(0.7, 0.85), r1, level - 1))
    return segments


def _draw_tubes(
    canvas: _Canvas,
    segments: list[tuple[np.ndarray, np.ndarray, float, float]],
    weight: np.ndarray,
    truth: np.ndarray,
) -> None:
    """Rasterise tapering tubes: ``truth`` where the centre lies inside, ``weight`` the
    partial-volume fraction (a linear ramp one voxel wide across the surface)."""
    edge = float(canvas.spacing.min())
    for a, b, r0, r1 in segments:
        rmax = max(r0, r1) + edge
        lo = np.minimum(a, b) - rmax
        hi = np.maximum(a, b) + rmax
        found = canvas.box(lo, hi)
        if found is None:
            continue
        box, pz, py, px = found
        dist, t = _segment_distance(pz, py, px, a, b)
        radius = r0 + (r1 - r0) * t
        frac = np.clip((radius - dist) / edge + 0.5, 0.0, 1.0).astype(np.float32)
        np.maximum(weight[box], frac, out=weight[box])
        truth[box] |= dist <= radius


def chest_phantom(
    seed: int = 0,
    shape: tuple[int, int, int] = (96, 192, 192),
    spacing: tuple[float, float, float] = (2.5, 1.5, 1.5),
) -> ChestPhantom:
    """A seeded synthetic chest CT: see the module docstring. Same seed -> same phantom."""
    shape = (int(shape[0]), int(shape[1]), int(shape[2])) if len(shape) == 3 else shape
    spacing_t = tuple(float(s) for s in spacing)
    _check(shape, spacing_t)  # type: ignore[arg-type]
    sz, sy, sx = spacing_t[0], spacing_t[1], spacing_t[2]
    rng = np.random.default_rng(seed)
    canvas = _Canvas(shape, (sz, sy, sx))
    nz, ny, nx = shape
    az, ay, ax = nz * sz / 2.0, ny * sy / 2.0, nx * sx / 2.0  # half field extents (mm)
    z, y, x = canvas.axes
    jitter = rng.uniform(0.97, 1.03, size=4)

    # Body: elliptic cylinder (2D, the same in every slice), fat under the skin.
    bx, by = 0.88 * ax * jitter[0], 0.62 * ay * jitter[1]
    r2 = (y[:, None] / by) ** 2 + (x[None, :] / bx) ** 2
    body2d = r2 <= 1.0
    inner2d = ((y[:, None] / (by - 8.0)) ** 2 + (x[None, :] / (bx - 8.0)) ** 2) <= 1.0
    hu = np.full(shape, AIR_HU, np.float32)
    slab = np.where(inner2d, SOFT_HU, np.where(body2d, FAT_HU, AIR_HU)).astype(np.float32)
    hu[:] = slab[None]
    body = np.broadcast_to(body2d[None], shape).copy()

    # Ribs: bands of the chest wall (an elliptic ring just inside the fat), posterior and lateral.
    ring2d = (
        (((y[:, None] / (by - 11.0)) ** 2 + (x[None, :] / (bx - 11.0)) ** 2) <= 1.0)
        & (((y[:, None] / (by - 17.0)) ** 2 + (x[None, :] / (bx - 17.0)) ** 2) > 1.0)
        & (y[:, None] > -0.55 * by)
    )
    rib_period = max(0.09 * 2 * az, 4 * sz)
    rib_phase = rng.uniform(0, rib_period)
    rib_z = np.mod(z - rib_phase, rib_period) < max(0.35 * rib_period, sz)
    hu[np.ix_(rib_z, np.ones(ny, bool), np.ones(nx, bool))] = np.where(
        ring2d[None], BONE_HU, hu[rib_z]
    )
    # Spine: vertebral body on the posterior midline.
    sy0, sr = 0.62 * by, 0.16 * by
    spine2d = ((y[:, None] - sy0) ** 2 + x[None, :] ** 2) <= sr**2
    hu[:, spine2d] = SPINE_HU

    # Lungs.
    lung_hz = 0.80 * az * jitter[2]
    lung_cz = 0.02 * az
    lung_hy = 0.78 * by
    lung_cy = 0.04 * by
    right_cx, left_cx = -0.48 * bx, 0.49 * bx * jitter[3]
    right_hx, left_hx = 0.40 * bx, 0.38 * bx
    right = _lung_shape(canvas, (lung_cz, lung_cy, right_cx), (lung_hz, lung_hy, right_hx))
    left = _lung_shape(canvas, (lung_cz, lung_cy, left_cx), (lung_hz, lung_hy, left_hx))
    # Anterior junction: in front of the heart the lungs' medial edges come within a few mm
    # of each other (a thin soft-tissue line between them, as in people).
    gap = max(3.0, 2.2 * sx)
    for lung, cx in ((right, right_cx), (left, left_cx)):
        lung |= _lung_shape(
            canvas,
            (lung_cz + 0.1 * lung_hz, lung_cy - 0.45 * lung_hy, cx / 2.0),
            (0.6 * lung_hz, 0.35 * lung_hy, abs(cx) / 2.0 + 2.0),
        )
    # the lungs stay inside the rib cage (chest wall >= 18 mm thick)
    cage2d = ((y[:, None] / (by - 18.0)) ** 2 + (x[None, :] / (bx - 18.0)) ** 2) <= 1.0
    right &= cage2d[None]
    left &= cage2d[None]
    xs = x[None, None, :]
    right &= xs <= -gap / 2
    left &= xs >= gap / 2
    # Heart: an ellipsoid left of the midline, in front, low; it carves the left lung.
    heart = (
        ((z[:, None, None] - (-0.35 * az)) / (0.38 * az)) ** 2
        + ((y[None, :, None] - (-0.15 * by)) / (0.42 * by)) ** 2
        + ((x[None, None, :] - 0.22 * bx) / (0.36 * bx)) ** 2
    ) <= 1.0
    left &= ~heart
    right &= ~heart
    hu[right | left] = LUNG_HU

    # Airways: trachea from the top of the field to the carina, then two main bronchi going
    # down and out to each hilum and ~30 % into the lung.
    lumen_r = 0.075 * by
    wall = max(1.5, 1.2 * sx)
    carina = np.array([lung_cz + 0.35 * lung_hz, lung_cy - 0.05 * lung_hy, 0.0])
    top = np.array([az + 10.0, carina[1], 0.0])
    hilum_z = lung_cz + 0.12 * lung_hz
    bronchi = []
    for cx, hx in ((right_cx, right_hx), (left_cx, left_hx)):
        end = np.array([hilum_z, lung_cy, cx - 0.05 * hx * np.sign(cx)])
        bronchi.append((carina, end, 0.75 * lumen_r, 0.6 * lumen_r))
    tubes = [(top, carina, lumen_r, lumen_r), *bronchi]
    wall_w = np.zeros(shape, np.float32)
    wall_t = np.zeros(shape, bool)
    _draw_tubes(canvas, [(a, b, r0 + wall, r1 + wall) for a, b, r0, r1 in tubes], wall_w, wall_t)
    lumen_w = np.zeros(shape, np.float32)
    airways = np.zeros(shape, bool)
    _draw_tubes(canvas, tubes, lumen_w, airways)
    hu = hu * (1 - wall_w) + SOFT_HU * wall_w
    hu = hu * (1 - lumen_w) + AIR_HU * lumen_w
    del wall_w, lumen_w

    # Vessels: per lung a tree from the hilum (beside the bronchus end) out into the lung.
    vessel_w = np.zeros(shape, np.float32)
    vessels = np.zeros(shape, bool)
    scale = min(lung_hz, lung_hy, right_hx)
    for (_a, end, _r0, _r1), cx in zip(bronchi, (right_cx, left_cx), strict=True):
        root = end + np.array([0.0, 0.25 * lung_hy, 0.0])
        for d in (
            (1.0, 0.0, 0.4),
            (-1.0, 0.3, 0.4),
            (0.0, -1.0, 0.3),
            (-0.5, 0.8, 0.2),
            (0.6, 0.6, 0.5),
        ):
            dirv = np.array([d[0], d[1], d[2] * np.sign(cx)])
            segs = _vessel_tree(rng, root, dirv, 0.45 * scale, 0.07 * scale, 6)
            _draw_tubes(canvas, segs, vessel_w, vessels)
    right &= ~wall_t  # the lung truth excludes the airways' lumen and wall
    left &= ~wall_t
    lungs_all = right | left
    # vessels end VESSEL_CLEARANCE_MM inside the pleura (subpleural vessels are below CT
    # resolution); a box erosion per axis (separable, fast on large grids)
    size = tuple(2 * math.ceil(VESSEL_CLEARANCE_MM / s) + 1 for s in (sz, sy, sx))
    vessel_room = ndi.minimum_filter(lungs_all.view(np.uint8), size=size).astype(bool)
    vessel_w *= vessel_room
    vessels &= vessel_room
    hu = hu * (1 - vessel_w) + VESSEL_HU * vessel_w
    del vessel_w
    airways &= body

    hu += rng.normal(0.0, NOISE_SD, size=shape).astype(np.float32)
    # Outside the body a real scanner also shows noise; keep air at about -1000.
    origin = (float(-(nx - 1) / 2 * sx), float(-(ny - 1) / 2 * sy), float(-(nz - 1) / 2 * sz))
    return ChestPhantom(
        hu=hu.astype(np.float32, copy=False),
        spacing=(sz, sy, sx),
        origin=origin,
        body=body,
        lungs_left=left,
        lungs_right=right,
        airways=airways,
        vessels=vessels,
        seed=int(seed),
    )
