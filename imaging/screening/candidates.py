"""Lung nodule candidates: multi-scale 3D Hessian blob enhancement, region extraction, features.

Method (docs/screening-detection.md has the long form):

1. The CT is cropped to the bounding box of the lung mask dilated by ``mask_dilation_mm``, clipped
   to [-1000, +150] HU (calcium and contrast would otherwise dominate), and every voxel outside the
   lung mask is set to the median parenchyma HU, so the chest wall, mediastinum and diaphragm give
   no response while nodules inside the mask (juxta-pleural ones included) stay whole.
2. Scales: nodule diameters d on a geometric grid from ``min_diameter_mm`` to ``max_diameter_mm``;
   sigma = d / (2 sqrt 3) in mm, the scale at which the scale-normalised Laplacian of a ball of
   radius d/2 peaks in 3D (Lindeberg 1998, sigma = r / sqrt(D)). Sigmas are physical mm, so the
   per-axis voxel sigmas follow the (anisotropic) spacing.
3. Per scale, the volume is block-averaged to a grid no finer than needed for that sigma
   (factor round(sigma / (1.25 spacing)) per axis; the block mean's own blur is subtracted from
   the Gaussian's variance), smoothed with a separable Gaussian (scipy.ndimage.gaussian_filter),
   and the Hessian is taken by central differences in mm on the smoothed grid. The blob response
   is the scale-normalised negative Laplacian R = -sigma^2 (Dzz + Dyy + Dxx) in HU.
4. Local maxima of R (26-neighbourhood) above ``min_response_hu`` inside the dilated lung mask
   are points; at each the full Hessian gives eigenvalues |l1| >= |l2| >= |l3| and the blobness
   B = clip(-l3, 0) / -l1 in [0, 1] (1 for a ball, ~0 for a vessel (tube) or the pleura (plate)).
   Points from all scales are merged by greedy non-maximum suppression ordered by R (0.3 + 0.7 B):
   a point within the radius of a stronger one is dropped.
5. Region per candidate: in a box of 1.6 detected radii, voxels above the half-way HU between the
   candidate's core and the parenchyma, connected to the core, bounded by a sphere of 1.6 radii and
   opened with a ball of a quarter radius to cut attached vessels.
6. Features and the ranking score (see ``_score``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

# HU at and above which a voxel counts as solid tissue (Fleischner / Lung-RADS use "solid
# component"; -300 HU lies between ground glass, about -750..-300, and soft tissue, > -100).
SOLID_HU = -300.0
# Fraction of a candidate's voxels at or above SOLID_HU: >= SOLID_FRACTION -> solid,
# < GROUND_GLASS_FRACTION -> ground glass, in between -> part-solid.
SOLID_FRACTION = 0.5
GROUND_GLASS_FRACTION = 0.05
NODULE_TYPES = ("solid", "part_solid", "ground_glass")
CLIP_HU = (-1000.0, 150.0)
PLEURA_CAP_MM = 30.0
MASS_OPENING_MM = 5.0
MASS_MAX_ELONGATION = 3.0
REGION_STEP_HU = 175.0


@dataclass(frozen=True)
class ScreeningSettings:
    """Detection parameters. JSON-able values only (stored with each screening run)."""

    min_diameter_mm: float = 3.0
    max_diameter_mm: float = 30.0
    n_scales: int = 8
    min_response_hu: float = 40.0
    mask_dilation_mm: float = 2.0
    max_candidates: int = 100
    # Candidates whose region is smaller than this equivalent diameter are dropped (noise).
    min_region_diameter_mm: float = 2.0
    solid_hu: float = SOLID_HU

    def __post_init__(self) -> None:
        if not (0 < self.min_diameter_mm < self.max_diameter_mm):
            raise ValueError(
                "min_diameter_mm must be positive and smaller than max_diameter_mm, got "
                f"{self.min_diameter_mm} and {self.max_diameter_mm}"
            )
        if not (2 <= self.n_scales <= 32):
            raise ValueError(f"n_scales must be between 2 and 32, got {self.n_scales}")
        if not (1 <= self.max_candidates <= 10000):
            raise ValueError(
                f"max_candidates must be between 1 and 10000, got {self.max_candidates}"
            )
        if self.min_response_hu <= 0 or self.mask_dilation_mm < 0:
            raise ValueError("min_response_hu must be positive and mask_dilation_mm >= 0")

    def diameters_mm(self) -> list[float]:
        ratio = (self.max_diameter_mm / self.min_diameter_mm) ** (1.0 / (self.n_scales - 1))
        return [self.min_diameter_mm * ratio**k for k in range(self.n_scales)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Candidate:
    """One nodule candidate; coordinates are voxel indices (z, y, x) of the full volume."""

    centre_voxel: tuple[float, float, float]
    mask: np.ndarray
    mask_offset: tuple[int, int, int]
    diameter_mm: float
    volume_ml: float
    mean_hu: float
    nodule_type: str
    sphericity: float
    pleura_distance_mm: float
    score: float
    features: dict[str, float] = field(default_factory=dict)


@dataclass
class _Level:
    sigma_mm: float
    factor: tuple[int, int, int]
    step_mm: tuple[float, float, float]
    smooth: np.ndarray


def _check_inputs(
    hu: np.ndarray, spacing: tuple[float, float, float], lung_mask: np.ndarray
) -> tuple[float, float, float]:
    if not isinstance(hu, np.ndarray) or hu.ndim != 3:
        raise ValueError(f"the CT must be a 3D array (z, y, x), got {getattr(hu, 'shape', hu)!r}")
    if min(hu.shape) < 3:
        raise ValueError(f"the CT is too small for detection: shape {hu.shape}")
    if not np.issubdtype(hu.dtype, np.number) or np.issubdtype(hu.dtype, np.complexfloating):
        raise ValueError(f"the CT must hold real HU numbers, got dtype {hu.dtype}")
    if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in map(float, spacing)):
        raise ValueError(f"spacing must be three positive mm values (z, y, x), got {spacing!r}")
    if not isinstance(lung_mask, np.ndarray) or lung_mask.shape != hu.shape:
        raise ValueError(
            f"the lung mask must have the CT's shape {hu.shape}, got "
            f"{getattr(lung_mask, 'shape', None)}"
        )
    if not lung_mask.any():
        raise ValueError("the lung mask is empty: there is no lung to search")
    sz, sy, sx = (float(s) for s in spacing)
    return (sz, sy, sx)


def _ellipsoid(radius_mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    half = [max(0, int(radius_mm / s)) for s in spacing]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    dist2 = sum((g * s) ** 2 for g, s in zip(grids, spacing, strict=True))
    return np.asarray(dist2 <= radius_mm**2 + 1e-9)


def _block_mean(arr: np.ndarray, factor: tuple[int, int, int]) -> np.ndarray:
    """Mean over blocks of ``factor`` voxels (edge-padded), float32, one axis at a time (strided
    slices summed: much faster than a reduce over a 6D reshape)."""
    out = arr.astype(np.float32, copy=False)
    for axis, f in enumerate(factor):
        if f == 1:
            continue
        n = out.shape[axis]
        pad = -n % f
        if pad:
            widths = [(0, 0)] * 3
            widths[axis] = (0, pad)
            out = np.pad(out, widths, mode="edge")
        total = None
        for k in range(f):
            part = out[(slice(None),) * axis + (slice(k, None, f),)]
            total = part.astype(np.float32, copy=True) if total is None else total.__iadd__(part)
        if total is not None:
            total /= f
            out = total
    return out


def _block_any(mask: np.ndarray, factor: tuple[int, int, int]) -> np.ndarray:
    if factor == (1, 1, 1):
        return mask
    out = mask
    for axis, f in enumerate(factor):
        if f == 1:
            continue
        n = out.shape[axis]
        pad = -n % f
        if pad:
            widths = [(0, 0)] * 3
            widths[axis] = (0, pad)
            out = np.pad(out, widths)
        total = None
        for k in range(f):
            part = out[(slice(None),) * axis + (slice(k, None, f),)]
            total = part.copy() if total is None else total | part
        if total is not None:
            out = total
    return np.asarray(out)


def _level(work: np.ndarray, spacing: tuple[float, float, float], sigma_mm: float) -> _Level:
    factor = tuple(max(1, int(round(sigma_mm / (1.25 * s)))) for s in spacing)
    f3 = (factor[0], factor[1], factor[2])
    down = _block_mean(work, f3)
    step = tuple(f * s for f, s in zip(f3, spacing, strict=True))
    # A block mean of f samples has variance (f^2 - 1) / 12 samples^2: take it off the Gaussian's.
    rest = []
    for f, s, h in zip(f3, spacing, step, strict=True):
        box_var = (f * f - 1) / 12.0 * s * s
        rest.append(math.sqrt(max(sigma_mm**2 - box_var, 0.0)) / h)
    smooth = ndi.gaussian_filter(down, sigma=rest, mode="nearest", truncate=3.0, output=np.float32)
    return _Level(sigma_mm, f3, (step[0], step[1], step[2]), smooth)


def _laplacian_response(level: _Level) -> np.ndarray:
    """-sigma^2 times the Laplacian by central differences, float32, written into one output
    array through one scratch buffer (no padded copy, no per-axis temporaries). The outermost
    voxel layer is set to 0: the field has a margin around the lung, so no maximum is lost."""
    u = level.smooth
    out = np.zeros_like(u)
    if min(u.shape) < 3:
        return out
    inner = out[1:-1, 1:-1, 1:-1]
    weights = [np.float32(1.0 / (h * h)) for h in level.step_mm]
    np.multiply(u[1:-1, 1:-1, 1:-1], np.float32(-2.0 * sum(weights)), out=inner)
    scratch = np.empty_like(inner)
    for axis, w in enumerate(weights):
        plus = [slice(1, -1)] * 3
        minus = [slice(1, -1)] * 3
        plus[axis] = slice(2, None)
        minus[axis] = slice(None, -2)
        np.add(u[tuple(plus)], u[tuple(minus)], out=scratch)
        scratch *= w
        inner += scratch
    inner *= np.float32(-(level.sigma_mm**2))
    return out


def _hessian_at(level: _Level, pts: np.ndarray) -> np.ndarray:
    """Hessian (N, 3, 3) in HU/mm^2 by central differences at integer level points (N, 3)."""
    u = level.smooth
    hi = np.array(u.shape) - 1
    hess = np.zeros((len(pts), 3, 3), np.float64)

    def val(offset: tuple[int, int, int]) -> np.ndarray:
        q = np.clip(pts + np.array(offset), 0, hi)
        return u[q[:, 0], q[:, 1], q[:, 2]].astype(np.float64)

    centre = val((0, 0, 0))
    for a in range(3):
        e = [0, 0, 0]
        e[a] = 1
        plus = val((e[0], e[1], e[2]))
        minus = val((-e[0], -e[1], -e[2]))
        hess[:, a, a] = (plus - 2 * centre + minus) / level.step_mm[a] ** 2
        for b in range(a + 1, 3):
            corner: dict[tuple[int, int], np.ndarray] = {}
            for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                o = [0, 0, 0]
                o[a], o[b] = sa, sb
                corner[(sa, sb)] = val((o[0], o[1], o[2]))
            d = (corner[(1, 1)] - corner[(1, -1)] - corner[(-1, 1)] + corner[(-1, -1)]) / (
                4 * level.step_mm[a] * level.step_mm[b]
            )
            hess[:, a, b] = hess[:, b, a] = d
    return hess


def _blobness(hess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(blobness, tubeness) from Hessians: eigenvalues ordered |l1| >= |l2| >= |l3|."""
    ev = np.linalg.eigvalsh(hess)
    order = np.argsort(-np.abs(ev), axis=1)
    ev = np.take_along_axis(ev, order, axis=1)
    l1 = np.minimum(ev[:, 0], -1e-6)
    blob = np.clip(np.clip(-ev[:, 2], 0, None) / -l1, 0.0, 1.0)
    tube = np.clip(np.clip(-ev[:, 1], 0, None) / -l1, 0.0, 1.0) * (1.0 - blob)
    blob[ev[:, 0] >= 0] = 0.0
    return blob, tube


def _local_maxima(resp: np.ndarray, allowed: np.ndarray, threshold: float) -> np.ndarray:
    """Integer points (N, 3) where resp is above threshold, allowed, and >= all 26 neighbours."""
    above = resp > threshold
    above &= allowed
    # Cheap first pass on the 6 face neighbours (in place, no index arrays), then all 26.
    for axis in range(3):
        n = resp.shape[axis]
        if n < 2:
            continue
        lo = (slice(None),) * axis + (slice(0, n - 1),)
        hi_ = (slice(None),) * axis + (slice(1, n),)
        above[lo] &= resp[lo] >= resp[hi_]
        above[hi_] &= resp[hi_] >= resp[lo]
    cand = np.argwhere(above)
    if len(cand) == 0:
        return cand
    hi = np.array(resp.shape) - 1
    centre = resp[cand[:, 0], cand[:, 1], cand[:, 2]]
    keep = np.ones(len(cand), bool)
    for dz in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dz == dy == dx == 0:
                    continue
                q = np.clip(cand + np.array([dz, dy, dx]), 0, hi)
                keep &= centre >= resp[q[:, 0], q[:, 1], q[:, 2]]
    return np.asarray(cand[keep])


@dataclass
class _Point:
    centre: np.ndarray  # crop voxel coordinates (z, y, x), float
    sigma_mm: float
    response: float
    blob: float
    tube: float
    scale_index: int
    contrast: float  # finest-scale HU at the point minus the parenchyma's

    def rank_key(self) -> float:
        """The ranking score without the region terms (sphericity, elongation, leak)."""
        return _score(self.response, self.blob, 1.0, 1.0, self.contrast, 0.0)


def _points(
    work: np.ndarray,
    allowed: np.ndarray,
    spacing: tuple[float, float, float],
    settings: ScreeningSettings,
    parenchyma_hu: float,
) -> list[_Point]:
    points: list[_Point] = []
    finest: _Level | None = None
    for k, diameter in enumerate(settings.diameters_mm()):
        level = _level(work, spacing, diameter / (2.0 * math.sqrt(3.0)))
        finest = finest or level
        resp = _laplacian_response(level)
        maxima = _local_maxima(resp, _block_any(allowed, level.factor), settings.min_response_hu)
        if len(maxima) == 0:
            continue
        blob, tube = _blobness(_hessian_at(level, maxima))
        values = resp[maxima[:, 0], maxima[:, 1], maxima[:, 2]]
        centres = maxima * np.array(level.factor) + (np.array(level.factor) - 1) / 2.0
        q = np.minimum(
            (centres // np.array(finest.factor)).astype(int), np.array(finest.smooth.shape) - 1
        )
        core = finest.smooth[q[:, 0], q[:, 1], q[:, 2]] - parenchyma_hu
        for c, v, b, t, con in zip(centres, values, blob, tube, core, strict=True):
            points.append(_Point(c, level.sigma_mm, float(v), float(b), float(t), k, float(con)))
    return points


def _suppress(
    points: list[_Point], spacing: tuple[float, float, float], limit: int
) -> list[_Point]:
    """Greedy non-maximum suppression in order of the point's ranking score: a point inside the
    radius of a better one is dropped."""
    order = sorted(points, key=lambda p: -p.rank_key())[: 50 * limit]
    sp = np.array(spacing)
    kept: list[_Point] = []
    kept_mm = np.zeros((0, 3))
    kept_r = np.zeros(0)
    for p in order:
        c_mm = p.centre * sp
        if len(kept):
            d = np.sqrt(((kept_mm - c_mm) ** 2).sum(axis=1))
            if np.any(d < kept_r):
                continue
        kept.append(p)
        kept_mm = np.vstack([kept_mm, c_mm])
        kept_r = np.append(kept_r, p.sigma_mm * math.sqrt(3.0))
        if len(kept) >= limit:
            break
    return kept


def _sphericity(
    region: np.ndarray, spacing: tuple[float, float, float], volume_mm3: float
) -> float:
    from skimage.measure import marching_cubes, mesh_surface_area

    padded = np.pad(region, 1).astype(np.float32)
    try:
        verts, faces, _n, _v = marching_cubes(padded, level=0.5, spacing=spacing)
    except (ValueError, RuntimeError):
        return 0.0
    area = float(mesh_surface_area(verts, faces))
    if area <= 0:
        return 0.0
    return float(min(1.0, math.pi ** (1 / 3) * (6.0 * volume_mm3) ** (2 / 3) / area))


def _score(
    response: float,
    blob: float,
    sphericity: float,
    elongation: float,
    contrast: float,
    leak: float,
    n_voxels: float = math.inf,
) -> float:
    """Classical ranking score, higher = more nodule-like, in [0, ~1.2].

    score = min(1, C / 250) * min(R / C, 1.2) * B^1.5 * (0.4 + 0.6 S) / sqrt(max(E, 1))
            / (1 + 0.5 max(L - 0.2, 0)) * N / (N + 6)

    with C the core contrast over the parenchyma (HU), R the scale-normalised blob response (HU),
    B the Hessian blobness, S the region's sphericity and E its elongation (longest / shortest
    principal axis), L the leak (structure beyond 1.3 radii, see ``_candidate``; 0.2 is
    tolerated for a vessel touching a nodule). R / C measures how ball-like the intensity
    profile is whatever the density, so ground-glass nodules (C ~300 HU) rank with solid ones
    (C ~900 HU); the contrast term only removes noise (C < 250 HU); B, S, E and L push vessels
    (tubes), vessel stumps and the pleura (plates) down. N is the region's voxel count: regions of
    a few voxels (small vessels cut across thick slices) have no measurable shape (their
    sphericity and elongation are degenerate), so their score is shrunk (3 voxels: x 1/3).
    """
    c = max(contrast, 1.0)
    return float(
        min(1.0, c / 250.0)
        * min(max(response, 0.0) / c, 1.2)
        * blob**1.5
        * (0.4 + 0.6 * sphericity)
        / math.sqrt(max(elongation, 1.0))
        / (1.0 + 0.5 * max(leak - 0.2, 0.0))
        * (n_voxels / (n_voxels + 6.0) if math.isfinite(n_voxels) else 1.0)
    )


def _nodule_type(solid_fraction: float) -> str:
    if solid_fraction >= SOLID_FRACTION:
        return "solid"
    if solid_fraction < GROUND_GLASS_FRACTION:
        return "ground_glass"
    return "part_solid"


def _candidate(
    p: _Point,
    work: np.ndarray,
    hu: np.ndarray,
    offset: np.ndarray,
    spacing: tuple[float, float, float],
    parenchyma_hu: float,
    pleura: tuple[np.ndarray, tuple[int, int, int]],
    settings: ScreeningSettings,
) -> Candidate | None:
    sp = np.array(spacing)
    radius = p.sigma_mm * math.sqrt(3.0)
    half = np.ceil(1.6 * radius / sp).astype(int) + 1
    c = np.round(p.centre).astype(int)
    lo = np.maximum(c - half, 0)
    hi = np.minimum(c + half + 1, work.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    sub = work[box]
    grids = np.ogrid[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))]
    dist = np.sqrt(sum(((g - cc) * s) ** 2 for g, cc, s in zip(grids, p.centre, sp, strict=True)))
    core_zone = dist <= max(0.5 * radius, float(sp.max()) * 0.75)
    core_values = sub[core_zone]
    if core_values.size == 0:
        return None
    core_hu = float(np.percentile(core_values, 75))
    contrast = core_hu - parenchyma_hu
    # Half-way between core and parenchyma, but at most REGION_STEP_HU above the parenchyma, so a
    # part-solid nodule's ground-glass rim belongs to it and not only its solid core.
    threshold = parenchyma_hu + min(max(contrast / 2.0, 100.0), REGION_STEP_HU)
    seed_zone = np.where(core_zone & (sub >= threshold), sub, -np.inf)
    if not np.isfinite(seed_zone.max()):
        return None
    seed = np.unravel_index(int(np.argmax(seed_zone)), sub.shape)
    # Leak: how much of the structure at the half-way HU (the solid core of a part-solid nodule)
    # goes on beyond 1.3 detected radii. A nodule is isolated (~0); a vessel, or a vessel stump
    # cut by the lung mask, runs on through the bounding sphere (~0.3 and more).
    half_way = sub >= parenchyma_hu + max(contrast / 2.0, 100.0)
    leak = 0.0
    if half_way[seed]:
        labels, _n = ndi.label(half_way)
        core = labels == labels[seed]
        # Vessels thinner than 2/3 of the candidate's diameter touching it do not count: the
        # core is opened with a ball of a third of the radius first (when that keeps the seed).
        thin = _ellipsoid(radius / 3.0, spacing)
        if thin.size > 1:
            opened = ndi.binary_opening(core, structure=thin)
            if opened[seed]:
                labels, _n = ndi.label(opened)
                core = labels == labels[seed]
        inner = int((core & (dist <= 1.3 * radius)).sum())
        shell = int((core & (dist > 1.3 * radius) & (dist <= 1.6 * radius)).sum())
        leak = shell / max(inner, 1)
    labels, _n = ndi.label((sub >= threshold) & (dist <= 1.6 * radius))
    region = labels == labels[seed]
    ball = _ellipsoid(radius / 4.0, spacing)
    if ball.size > 1:
        opened = ndi.binary_opening(region, structure=ball)
        if opened[seed]:
            labels, _n = ndi.label(opened)
            region = labels == labels[seed]
    shape = _region_shape(region, lo, hu, offset, spacing, settings, pleura)
    if shape is None:
        return None
    if math.dist(shape.centre_crop * sp, p.centre * sp) > radius:
        shape.centre_crop = p.centre.copy()
    score = _score(
        p.response,
        p.blob,
        shape.sphericity,
        shape.elongation,
        contrast,
        leak,
        float(shape.mask.sum()),
    )
    features = {
        "response_hu": round(p.response, 3),
        "blobness": round(p.blob, 4),
        "tubeness": round(p.tube, 4),
        "scale_mm": round(2.0 * radius, 3),
        "scale_index": float(p.scale_index),
        "contrast_hu": round(contrast, 2),
        "threshold_hu": round(threshold, 2),
        "leak": round(leak, 4),
        "mass": 0.0,
    }
    return shape.candidate(offset, score, features)


@dataclass
class _Shape:
    centre_crop: np.ndarray
    mask: np.ndarray
    mask_offset_crop: np.ndarray
    diameter_mm: float
    volume_mm3: float
    mean_hu: float
    solid_fraction: float
    sphericity: float
    elongation: float
    longest_axis_mm: float
    pleura_mm: float

    def candidate(self, offset: np.ndarray, score: float, features: dict[str, float]) -> Candidate:
        centre = tuple(float(v) for v in (offset + self.centre_crop))
        mask_offset = tuple(int(v) for v in (offset + self.mask_offset_crop))
        features = dict(features)
        features.update(
            {
                "elongation": round(self.elongation, 4),
                "longest_axis_mm": round(self.longest_axis_mm, 3),
                "solid_fraction": round(self.solid_fraction, 4),
                "pleura_edge_distance_mm": round(
                    max(0.0, self.pleura_mm - self.diameter_mm / 2.0), 3
                ),
            }
        )
        return Candidate(
            centre_voxel=(centre[0], centre[1], centre[2]),
            mask=self.mask,
            mask_offset=(mask_offset[0], mask_offset[1], mask_offset[2]),
            diameter_mm=round(self.diameter_mm, 3),
            volume_ml=round(self.volume_mm3 / 1000.0, 5),
            mean_hu=round(self.mean_hu, 2),
            nodule_type=_nodule_type(self.solid_fraction),
            sphericity=round(self.sphericity, 4),
            pleura_distance_mm=round(self.pleura_mm, 3),
            score=round(score, 6),
            features=features,
        )


def _region_shape(
    region: np.ndarray,
    lo: np.ndarray,
    hu: np.ndarray,
    offset: np.ndarray,
    spacing: tuple[float, float, float],
    settings: ScreeningSettings,
    pleura: tuple[np.ndarray, tuple[int, int, int]],
) -> _Shape | None:
    """Size, density and shape of ``region`` (a box of the crop starting at ``lo``)."""
    sp = np.array(spacing)
    n_vox = int(region.sum())
    volume_mm3 = n_vox * float(np.prod(sp))
    diameter = (6.0 * volume_mm3 / math.pi) ** (1 / 3)
    if diameter < settings.min_region_diameter_mm:
        return None
    idx = np.argwhere(region)
    centre_crop = lo + idx.mean(axis=0)
    # Second moments of the region as a union of voxel boxes: the centres' covariance plus each
    # box's own spread s^2 / 12 per axis (else a region one thick slice deep is a flat disc).
    cov = np.cov((idx * sp).T, bias=True) if n_vox >= 2 else np.zeros((3, 3))
    ev = np.linalg.eigvalsh(np.atleast_2d(cov) + np.diag(sp**2 / 12.0))
    elongation = math.sqrt(ev[-1] / ev[0])
    rlo = idx.min(axis=0)
    rhi = idx.max(axis=0) + 1
    mask = region[tuple(slice(int(a), int(b)) for a, b in zip(rlo, rhi, strict=True))].copy()
    full = tuple(
        slice(int(a + b + o), int(a + c + o))
        for a, b, c, o in zip(lo, rlo, rhi, offset, strict=True)
    )
    region_hu = hu[full][mask].astype(np.float64)
    edt, f = pleura
    q = np.minimum((centre_crop / np.array(f)).astype(int), np.array(edt.shape) - 1)
    return _Shape(
        centre_crop=centre_crop,
        mask=mask,
        mask_offset_crop=lo + rlo,
        diameter_mm=diameter,
        volume_mm3=volume_mm3,
        mean_hu=float(region_hu.mean()),
        solid_fraction=float((region_hu >= settings.solid_hu).mean()),
        sphericity=_sphericity(mask, spacing, volume_mm3),
        elongation=elongation,
        longest_axis_mm=2.0 * math.sqrt(5.0 * max(ev[-1], 0.0)),
        pleura_mm=float(min(edt[q[0], q[1], q[2]], PLEURA_CAP_MM)),
    )


def _masses(
    work: np.ndarray,
    lung: np.ndarray,
    hu: np.ndarray,
    offset: np.ndarray,
    spacing: tuple[float, float, float],
    settings: ScreeningSettings,
    pleura: tuple[np.ndarray, tuple[int, int, int]],
    parenchyma_hu: float,
) -> list[Candidate]:
    """Solid lesions larger than ``max_diameter_mm`` (masses), which the blob scales do not span.

    On the ~2 mm grid of the pleura map: solid voxels (>= solid_hu) of the lung, opened with a
    ball of MASS_OPENING_MM radius (vessels thinner than twice that go), components whose volume
    exceeds a ball of max_diameter_mm and whose elongation is below MASS_MAX_ELONGATION (hilar
    vessels). They rank above every nodule candidate: score 1.2 + diameter / 1000.
    """
    _edt, f = pleura
    step = tuple(a * s for a, s in zip(f, spacing, strict=True))
    solid = (_block_mean((work >= settings.solid_hu).astype(np.float32), f) >= 0.5) & (
        _block_mean(lung.astype(np.float32), f) >= 0.5
    )
    ball = _ellipsoid(MASS_OPENING_MM, (step[0], step[1], step[2]))
    opened = ndi.binary_opening(solid, structure=ball) if ball.size > 1 else solid
    labels, n = ndi.label(opened)
    if n == 0:
        return []
    sizes = ndi.sum_labels(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    min_vox = math.pi / 6.0 * settings.max_diameter_mm**3 / float(np.prod(step))
    out = []
    for label in np.flatnonzero(sizes >= min_vox) + 1:
        comp = labels == label
        idx = np.argwhere(comp)
        clo, chi = np.maximum(idx.min(axis=0) - 1, 0), idx.max(axis=0) + 2
        lo = clo * np.array(f)
        hi = np.minimum(chi * np.array(f), work.shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        coarse = ndi.binary_dilation(comp)[
            tuple(slice(int(a), int(b)) for a, b in zip(clo, chi, strict=True))
        ]
        up = coarse.repeat(f[0], 0).repeat(f[1], 1).repeat(f[2], 2)
        up = up[: hi[0] - lo[0], : hi[1] - lo[1], : hi[2] - lo[2]]
        region = up & (work[box] >= settings.solid_hu) & lung[box]
        lab, m = ndi.label(region)
        if m == 0:
            continue
        region = lab == (int(np.argmax(ndi.sum_labels(region, lab, np.arange(1, m + 1)))) + 1)
        shape = _region_shape(region, lo, hu, offset, spacing, settings, pleura)
        if shape is None or shape.elongation > MASS_MAX_ELONGATION:
            continue
        score = 1.2 + min(shape.diameter_mm, 200.0) / 1000.0
        features = {  # the blob features' keys, so every candidate has the same ones
            "response_hu": 0.0,
            "blobness": 0.0,
            "tubeness": 0.0,
            "scale_mm": round(shape.diameter_mm, 3),
            "scale_index": -1.0,
            "contrast_hu": round(shape.mean_hu - parenchyma_hu, 2),
            "threshold_hu": float(settings.solid_hu),
            "leak": 0.0,
            "mass": 1.0,
        }
        out.append(shape.candidate(offset, score, features))
    return out


def _pleura_distance_map(
    lung: np.ndarray, spacing: tuple[float, float, float]
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Distance (mm) to the nearest non-lung voxel on a grid of about 2 mm (exact to ~1 mm)."""
    f = tuple(max(1, int(round(2.0 / s))) for s in spacing)
    f3 = (f[0], f[1], f[2])
    coarse = _block_mean(lung.astype(np.float32), f3) >= 0.5
    step = tuple(a * s for a, s in zip(f3, spacing, strict=True))
    edt = ndi.distance_transform_edt(coarse, sampling=step)
    return np.asarray(edt, dtype=np.float32), f3


def detect_candidates(
    hu: np.ndarray,
    spacing: tuple[float, float, float],
    lung_mask: np.ndarray,
    settings: ScreeningSettings | None = None,
    *,
    seconds: dict[str, float] | None = None,
) -> list[Candidate]:
    """Nodule candidates inside ``lung_mask``, sorted by score (highest first), at most
    ``settings.max_candidates``. ``hu`` is (z, y, x) in HU, ``spacing`` (sz, sy, sx) mm.
    Stage times ("enhancement", "regions") are added to ``seconds`` when given."""
    settings = settings or ScreeningSettings()
    started = time.perf_counter()
    sp3 = _check_inputs(hu, spacing, lung_mask)
    lung = lung_mask.astype(bool, copy=False)
    dil = _ellipsoid(settings.mask_dilation_mm, sp3)
    first, last = [], []
    for axis in range(3):
        present = np.flatnonzero(lung.any(axis=tuple(a for a in range(3) if a != axis)))
        first.append(present[0])
        last.append(present[-1])
    margin = np.array(dil.shape) // 2 + 1
    lo = np.maximum(np.array(first) - margin, 0)
    hi = np.minimum(np.array(last) + margin + 1, hu.shape)
    crop = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    lung_c = lung[crop]
    # A box of +-mask_dilation_mm: separable, so cheap on a whole chest.
    allowed = ndi.maximum_filter(lung_c, size=dil.shape) if dil.size > 1 else lung_c
    work = np.clip(hu[crop].astype(np.float32), *CLIP_HU)
    # Parenchyma: the median of the lung's air-filled voxels (nodules, vessels and any tumour
    # inside the mask would bias a plain median upwards).
    airy = work[lung_c & (work < -500.0)]
    parenchyma = float(np.median(airy)) if airy.size else float(np.median(work[lung_c]))
    work[~lung_c] = parenchyma
    points = _points(work, allowed, sp3, settings, parenchyma)
    kept = _suppress(points, sp3, 3 * settings.max_candidates)
    enhanced = time.perf_counter()
    pleura = _pleura_distance_map(lung_c, sp3)
    out = _masses(work, lung_c, hu, lo, sp3, settings, pleura, parenchyma)
    # Blob points inside a mass are parts of it, not candidates of their own.
    inside = np.zeros(work.shape, bool)
    for m in out:
        o = np.array(m.mask_offset) - lo
        inside[tuple(slice(int(a), int(a) + n) for a, n in zip(o, m.mask.shape, strict=True))] |= (
            m.mask
        )
    for p in kept:
        c = np.minimum(np.round(p.centre).astype(int), np.array(work.shape) - 1)
        if inside[c[0], c[1], c[2]]:
            continue
        cand = _candidate(p, work, hu, lo, sp3, parenchyma, pleura, settings)
        if cand is not None:
            out.append(cand)
    out.sort(key=lambda c: -c.score)
    if seconds is not None:
        seconds["enhancement"] = enhanced - started
        seconds["regions"] = time.perf_counter() - enhanced
    return out[: settings.max_candidates]
