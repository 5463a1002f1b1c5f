"""Lung segmentation of a chest CT in HU (pure numpy / scipy; no Django).

``segment_lungs(hu, spacing)`` -> ``LungSegmentation`` (both lungs with the airways removed,
left and right, the airways, volumes in ml, warnings). Method (docs/imaging-screening-library.md):

1. Work grid: the CT is block-averaged to voxels of about ``WORK_MM`` (1.4 mm in plane, 2.5 mm
   between slices; no averaging where the CT is already that coarse), so a 300 x 512 x 512 CT is
   segmented on ~1/4 of its voxels. The masks are brought back to the CT grid at the end (nearest
   neighbour, then the boundary is re-thresholded on the CT's own voxels).
2. Air: voxels below ``AIR_HU`` (-400). The body: everything else, with its holes filled per slice.
   Outside air: air components that touch the in-plane border of the field and are pure air
   (median below -960 HU). A lung cut by the edge of a cropped field (-850 HU parenchyma) is kept.
3. Airways: the trachea is found as a tube of pure air (< -900 HU), 0.3-8 cm^2 in cross-section,
   enclosed by soft tissue, over at least 15 mm of slices; it is grown in 3D below -950 HU (then
   -975, -990 if that leaks into the parenchyma: more than a third of the lung air), which brings
   the main bronchi. The airways are removed from the lung with one voxel of wall.
4. Lungs: the remaining inner air, 3D components of at least 10 % of the largest. Left / right:
   two components are told apart by their x (patient left = higher x); one component that spans
   both sides (lungs touching at the anterior junction) is split in each slice at the thinnest
   column between the two halves; a single lung (a cropped field) is right when it lies at lower
   x than the trachea (or than the body's centre when no trachea is seen).
5. Filling, per lung (work grid, in the lung's bounding box):
   a. holes per slice: those up to ``SMALL_HOLE_CM2`` (8 cm^2, a 32 mm disc: vessels, nodules,
      bronchial walls) are filled at once, larger ones (a big mass) in step d;
   b. closing with a ball of ``CLOSING_MM`` (12 mm) radius on a ~3 mm grid (Euclidean distance
      transforms, so any spacing gives a true ball): adds juxta-pleural and juxta-vascular
      nodules up to ~24 mm and vessels where they meet the pleura, limited to non-bone voxels
      (< 300 HU) of the body; only new coarse voxels and the lung's own boundary blocks next to
      them are added, so the rest of the pleural surface is not dilated;
   c. pockets: tissue that the same lung surrounds in >= ``ENCLOSURE`` (6) of 8 in-plane
      directions within ``ENCLOSURE_REACH_MM`` (80 mm; counts averaged over 10 mm) and that has
      the lung medial to it (towards the midline): a mass abutting the chest wall; the heart
      and mediastinum, medial to the lung, have no lung medial to them;
   d. the large holes and the pockets are added where they touch the lung.
   Vessels and nodules thus stay inside the mask; the closing is the smoothing (it only adds).
6. Back on the CT grid (when the work grid is coarser): in the work voxels at the lung's edge
   that were air, tissue voxels are dropped, and air voxels of the work voxels just outside are
   added (``_refine``); the airways (with one voxel of wall) are removed again.

Limits: a pleural-based mass wider than the closing ball is included only as far as the lung
wraps around it (the IBSI CT's 9 cm tumour: 72 % of it, centroid inside); the top of the
diaphragm's dome, where a slice shows it ringed by lung, is counted as lung; lungs that touch
are split per slice at the thinnest column, which can put a few voxels on the wrong side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

AIR_HU = -400.0
OUTSIDE_AIR_HU = -960.0
TRACHEA_HU = -900.0
AIRWAY_GROW_HU = (-950.0, -975.0, -990.0)
BONE_HU = 300.0
WORK_MM = (2.5, 1.4, 1.4)
CLOSE_GRID_MM = 3.0
CLOSING_MM = 12.0
SMALL_HOLE_CM2 = 8.0
MIN_COMPONENT_FRACTION = 0.10
TRACHEA_AREA_CM2 = (0.3, 8.0)
TRACHEA_MIN_LENGTH_MM = 15.0
AIRWAY_LEAK_FRACTION = 1.0 / 3.0
ENCLOSURE = 6  # of 8 in-plane directions must meet the same lung
ENCLOSURE_REACH_MM = 80.0
POCKET_SMOOTH_MM = 10.0

_PLANE = np.zeros((3, 3, 3), bool)
_PLANE[1] = ndi.generate_binary_structure(2, 1)


@dataclass
class LungSegmentation:
    """Lung masks on the CT's (z, y, x) grid. ``left`` is the patient's left (higher x)."""

    mask: np.ndarray
    left: np.ndarray
    right: np.ndarray
    airways: np.ndarray
    volumes_ml: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def summary(self) -> dict[str, Any]:
        """JSON-able overview: volumes (ml), voxel counts, warnings; no arrays."""
        return {
            "volumes_ml": {k: round(float(v), 1) for k, v in self.volumes_ml.items()},
            "voxels": {
                "left": int(self.left.sum()),
                "right": int(self.right.sum()),
                "total": int(self.mask.sum()),
                "airways": int(self.airways.sum()),
            },
            "shape": [int(n) for n in self.mask.shape],
            "spacing_mm": [float(s) for s in self.spacing],
            "warnings": list(self.warnings),
        }


def _check(hu: Any, spacing: Any) -> tuple[np.ndarray, tuple[float, float, float]]:
    if not isinstance(hu, np.ndarray):
        raise ValueError("lung segmentation needs a numpy array of HU values")
    if hu.ndim != 3:
        raise ValueError(f"lung segmentation needs a 3D (z, y, x) CT, got shape {hu.shape}")
    if min(hu.shape) < 3:
        raise ValueError(f"the CT is too small to hold lungs: shape {hu.shape}")
    if not (np.issubdtype(hu.dtype, np.integer) or np.issubdtype(hu.dtype, np.floating)):
        raise ValueError(f"the CT must hold integer or float HU values, got dtype {hu.dtype}")
    try:
        values = [float(s) for s in spacing]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"spacing must be three positive mm values, got {spacing!r}") from exc
    if len(values) != 3 or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing must be three positive mm values (z, y, x), got {spacing!r}")
    if np.issubdtype(hu.dtype, np.floating) and not np.isfinite(hu).all():
        raise ValueError("the CT holds NaN or infinite values")
    return hu, (values[0], values[1], values[2])


def _factors(spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    return (
        max(1, int(WORK_MM[0] / spacing[0] + 0.25)),
        max(1, int(WORK_MM[1] / spacing[1] + 0.25)),
        max(1, int(WORK_MM[2] / spacing[2] + 0.25)),
    )


def _block_mean(a: np.ndarray, f: tuple[int, int, int]) -> np.ndarray:
    """Mean over f-blocks (the last partial block of an axis averages what it has), float32.
    Done as a sum of strided views: no full-size temporaries."""
    if f == (1, 1, 1):
        return a.astype(np.float32, copy=False)
    shape = tuple(-(-n // k) for n, k in zip(a.shape, f, strict=True))
    total = np.zeros(shape, np.float32)
    count = np.zeros(shape, np.float32)
    for dz in range(f[0]):
        for dy in range(f[1]):
            for dx in range(f[2]):
                part = a[dz :: f[0], dy :: f[1], dx :: f[2]]
                sl = (slice(0, part.shape[0]), slice(0, part.shape[1]), slice(0, part.shape[2]))
                total[sl] += part
                count[sl] += 1.0
    out: np.ndarray = total / count
    return out


def _block_any(a: np.ndarray, f: tuple[int, int, int]) -> np.ndarray:
    pads = [(0, (-n) % k) for n, k in zip(a.shape, f, strict=True)]
    if any(p[1] for p in pads):
        a = np.pad(a, pads, mode="constant")
    z, y, x = a.shape
    blocks = a.reshape(z // f[0], f[0], y // f[1], f[1], x // f[2], f[2])
    out: np.ndarray = np.any(blocks, axis=(1, 3, 5))
    return out


def _upsample(mask: np.ndarray, f: tuple[int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour upsampling by the block factors, cropped to ``shape`` (one copy)."""
    if f == (1, 1, 1):
        return mask
    z, y, x = mask.shape
    view = np.broadcast_to(mask[:, None, :, None, :, None], (z, f[0], y, f[1], x, f[2]))
    out = view.reshape(z * f[0], y * f[1], x * f[2])
    return np.ascontiguousarray(out[: shape[0], : shape[1], : shape[2]])


def _fill_holes_2d(mask: np.ndarray) -> np.ndarray:
    """Per-slice hole filling by labelling the background (faster than scipy's iterative
    binary_fill_holes on large grids): background not connected to the slice border."""
    lab, n = ndi.label(~mask, structure=_PLANE)
    if n == 0:
        return mask.copy()
    border = np.zeros(n + 1, bool)
    for face in (lab[:, 0, :], lab[:, -1, :], lab[:, :, 0], lab[:, :, -1]):
        border[np.unique(face)] = True
    border[0] = True
    out: np.ndarray = mask | ~border[lab]
    return out


def _border_touching(labels: np.ndarray, n: int) -> np.ndarray:
    """Bool per label (index 0 unused): touches the in-plane (y or x) border of the field."""
    touch = np.zeros(n + 1, bool)
    for face in (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]):
        touch[np.unique(face)] = True
    touch[0] = False
    return touch


def _find_trachea(
    lo: np.ndarray, air: np.ndarray, inner: np.ndarray, spacing: tuple[float, float, float]
) -> np.ndarray | None:
    """Slices of the trachea (bool on the work grid) or None: per slice, pure-air components of
    tracheal size that are their whole air component (enclosed by soft tissue), stacked into
    the longest run of overlapping slices."""
    pixel_cm2 = spacing[1] * spacing[2] / 100.0
    dark = (lo < TRACHEA_HU) & inner
    dark_lab, n_dark = ndi.label(dark, structure=_PLANE)
    if n_dark == 0:
        return None
    air_lab, _ = ndi.label(air & inner, structure=_PLANE)
    flat = dark_lab.ravel()
    area = np.bincount(flat, minlength=n_dark + 1)[1:] * pixel_cm2
    # the (per-slice) air component each dark component lies in, and its size
    host = np.zeros(n_dark + 1, np.int64)
    host[dark_lab[dark]] = air_lab[dark]
    host_area = np.bincount(air_lab.ravel())[host[1:]] * pixel_cm2
    ok = (area >= TRACHEA_AREA_CM2[0]) & (area <= TRACHEA_AREA_CM2[1])
    ok &= host_area <= area * 1.6
    if not ok.any():
        return None
    keep = np.zeros(n_dark + 1, bool)
    keep[1:] = ok
    tube = keep[dark_lab]
    tube_lab, n_tube = ndi.label(tube)  # 3D: overlapping slices join
    if n_tube == 0:
        return None
    objects = ndi.find_objects(tube_lab)
    lengths = np.array([(o[0].stop - o[0].start) * spacing[0] for o in objects])
    best = int(np.argmax(lengths))
    if lengths[best] < TRACHEA_MIN_LENGTH_MM:
        return None
    result: np.ndarray = tube_lab == best + 1
    return result


def _grow_airways(
    lo: np.ndarray, inner: np.ndarray, seed: np.ndarray, lung_air_voxels: int
) -> tuple[np.ndarray, str | None]:
    for threshold in AIRWAY_GROW_HU:
        lab, _ = ndi.label((lo < threshold) & inner)
        ids = np.unique(lab[seed])
        ids = ids[ids > 0]
        grown = np.isin(lab, ids) | seed
        if grown.sum() <= AIRWAY_LEAK_FRACTION * max(lung_air_voxels, 1):
            return grown, None
    return seed, "airway growing leaked into the lung at every threshold; only the trachea removed"


def _split_merged(comp: np.ndarray, midline_x: float) -> tuple[np.ndarray, np.ndarray]:
    """Split one component holding both lungs: in each slice at the x of the thinnest column
    within 25 % of the width around ``midline_x``. Returns (right, left)."""
    nx = comp.shape[2]
    cols = comp.sum(axis=1).astype(np.float32)  # (z, x)
    half = max(2, int(0.25 * nx))
    lo_x = max(0, int(midline_x) - half)
    hi_x = min(nx, int(midline_x) + half + 1)
    band = cols[:, lo_x:hi_x]
    split = lo_x + np.argmin(band, axis=1)  # per slice
    xs = np.arange(nx)[None, None, :]
    left_side = xs >= split[:, None, None]
    return comp & ~left_side, comp & left_side


def _near_dir(mask: np.ndarray, axis: int, reach: int, after: bool) -> np.ndarray:
    """Per voxel: whether a ``mask`` voxel lies within ``reach`` steps after (higher index) or
    before it along ``axis`` (a running last-seen index, no loop over voxels)."""
    n = mask.shape[axis]
    shape = [1, 1, 1]
    shape[axis] = n
    idx = np.arange(n, dtype=np.int32).reshape(shape)
    if not after:
        last = np.maximum.accumulate(np.where(mask, idx, np.int32(-(10**6))), axis=axis)
        near: np.ndarray = idx - last <= reach
        return near
    rev = np.flip(np.where(mask, idx, np.int32(10**6)), axis=axis)
    nxt = np.flip(np.minimum.accumulate(rev, axis=axis), axis=axis)
    near = nxt - idx <= reach
    return near


def _near_along(mask: np.ndarray, axis: int, reach: int) -> np.ndarray:
    """0..2 per voxel: mask within reach before it, plus mask within reach after it."""
    count = _near_dir(mask, axis, reach, False).astype(np.uint8)
    count += _near_dir(mask, axis, reach, True).astype(np.uint8)
    return count


def _enclosure_counts(
    lung: np.ndarray, spacing: tuple[float, float, float], reach_mm: float
) -> np.ndarray:
    """Per voxel: in how many of 8 in-plane directions (y, x and both diagonals) a ``lung``
    voxel lies within ``reach_mm``."""
    nz, ny, nx = lung.shape
    count = _near_along(lung, 1, int(reach_mm / spacing[1]))
    count += _near_along(lung, 2, int(reach_mm / spacing[2]))
    diag = int(reach_mm / math.hypot(spacing[1], spacing[2]))
    rows = np.arange(ny)[:, None]
    cols = np.arange(nx)[None, :]
    for sign in (1, -1):
        # shear: voxel (y, x) -> row (y + sign x) mod (ny + nx), column x; a row of the sheared
        # array is one diagonal of the original, scanned along its columns
        ys = (rows + sign * cols) % (ny + nx)
        xs = np.broadcast_to(cols, (ny, nx))
        sheared = np.zeros((nz, ny + nx, nx), bool)
        sheared[:, ys, xs] = lung
        count += _near_along(sheared, 2, diag)[:, ys, xs]
    return count


def _odd(value: float) -> int:
    n = max(1, int(round(value)))
    return n if n % 2 else n + 1


def _fill_lung(
    lung: np.ndarray,
    lo: np.ndarray,
    inner: np.ndarray,
    spacing: tuple[float, float, float],
    is_left: bool,
) -> np.ndarray:
    """Hole filling, juxta-pleural closing and enclosed masses for one lung (work grid)."""
    if not lung.any():
        return lung
    box = ndi.find_objects(lung.astype(np.uint8))[0]
    # margin for the closing and the pockets
    pad = [int(math.ceil(ENCLOSURE_REACH_MM / 4 / s)) for s in spacing]
    sl = tuple(
        slice(max(0, b.start - p), min(n, b.stop + p))
        for b, p, n in zip(box, pad, lung.shape, strict=True)
    )
    part = lung[sl]
    tissue_ok = inner[sl] & (lo[sl] < BONE_HU)
    # 1. per-slice holes: small ones (vessels, nodules) are filled at once; large ones (the
    #    top of the diaphragm's dome ringed by lung, a big mass) are judged in step 4
    holes = _fill_holes_2d(part) & ~part
    hole_lab, n_holes = ndi.label(holes, structure=_PLANE)
    pixel_cm2 = spacing[1] * spacing[2] / 100.0
    small = np.bincount(hole_lab.ravel(), minlength=n_holes + 1) * pixel_cm2 <= SMALL_HOLE_CM2
    small[0] = False
    filled = part | small[hole_lab]
    extra = holes & ~filled
    # 2. closing on a coarse grid (~3 mm), with Euclidean distances (exact ball, any spacing)
    g = tuple(max(1, int(CLOSE_GRID_MM / s + 0.25)) for s in spacing)
    coarse = _block_any(filled, g)  # type: ignore[arg-type]
    csp = [s * k for s, k in zip(spacing, g, strict=True)]
    grown = ndi.distance_transform_edt(~coarse, sampling=csp) <= CLOSING_MM
    closed = ndi.distance_transform_edt(grown, sampling=csp) > CLOSING_MM
    new = closed & ~coarse
    if new.any():
        # the new coarse voxels, plus the tissue of the lung's own boundary blocks next to
        # them (the part of a juxta-pleural nodule that shares a block with parenchyma)
        near = ndi.binary_dilation(new, iterations=1) & coarse
        up_new = _upsample(new, g, part.shape)  # type: ignore[arg-type]
        up_near = _upsample(near, g, part.shape)  # type: ignore[arg-type]
        filled |= (up_new | up_near) & ~filled & tissue_ok & ~extra
    # 3. pockets: tissue the same lung surrounds in >= ENCLOSURE of 8 in-plane directions and
    #    lies medial to (the lung towards the midline too: a mass on the costal side has lung
    #    medial to it; the heart and mediastinum, medial to the lung, have not)
    counts = _enclosure_counts(filled, spacing, ENCLOSURE_REACH_MM)
    medial = _near_dir(filled, 2, int(ENCLOSURE_REACH_MM / spacing[2]), after=not is_left)
    # (averaged over ~10 mm in plane: single rows or diagonals that miss the lung by a
    # hair would otherwise leave stripes)
    size = (1, _odd(POCKET_SMOOTH_MM / spacing[1]), _odd(POCKET_SMOOTH_MM / spacing[2]))
    counts_s = ndi.uniform_filter(counts.astype(np.float32), size=size)
    pocket = (counts_s >= ENCLOSURE - 0.5) & medial & ~filled & tissue_ok
    pocket = ndi.binary_opening(pocket, structure=_PLANE, iterations=2)
    extra |= pocket
    # 4. the large holes and pockets are added where they touch the lung
    if extra.any():
        lab, n = ndi.label(extra)
        touching = np.unique(lab[ndi.binary_dilation(filled) & extra])
        keep = np.zeros(n + 1, bool)
        keep[touching[touching > 0]] = True
        filled |= keep[lab]
        filled = _fill_holes_2d(filled) & (filled | holes | pocket)
    out = np.zeros_like(lung)
    out[sl] = filled
    return out


def segment_lungs(hu: np.ndarray, spacing: tuple[float, float, float]) -> LungSegmentation:
    """Segment both lungs of a chest CT (HU, (z, y, x)) with spacing (sz, sy, sx) mm."""
    full, sp = _check(hu, spacing)
    warnings: list[str] = []
    f = _factors(sp)
    wsp = (sp[0] * f[0], sp[1] * f[1], sp[2] * f[2])
    lo = _block_mean(full, f)

    air = lo < AIR_HU
    if not air.any():
        raise ValueError("no lung found: the CT holds no air-filled voxels (below -400 HU)")
    if air.mean() > 0.99:
        raise ValueError("no lung found: the CT is all air (no body)")

    labels, n = ndi.label(air)
    touch = _border_touching(labels, n)
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    pure = np.bincount(labels.ravel(), weights=(lo < OUTSIDE_AIR_HU).ravel(), minlength=n + 1)
    outside_ids = touch & (pure > 0.5 * counts)  # median below OUTSIDE_AIR_HU
    outside = outside_ids[labels]
    inner = ~outside
    inner_air = air & inner
    if not inner_air.any():
        raise ValueError("no lung found: all air in the CT lies outside the body")

    trachea = _find_trachea(lo, air, inner, wsp)
    airways = np.zeros_like(air)
    if trachea is None:
        warnings.append("no trachea found in the field; airways not removed")
    else:
        airways, problem = _grow_airways(lo, inner, trachea, int(inner_air.sum()))
        if problem:
            warnings.append(problem)
    airway_zone = np.zeros_like(air)
    if airways.any():
        # within the airways' bounding box (+3 voxels): close small gaps, add the lumen's
        # partial-volume edge (air-like, below AIR_HU), and one voxel of wall for the zone
        box = _padded_box(airways, 3)
        part = airways[box]
        part = ndi.binary_closing(part, iterations=1) | part
        part |= ndi.binary_dilation(part) & air[box] & inner[box]
        airways[box] = part
        airway_zone[box] = ndi.binary_dilation(part)

    cand = inner_air & ~airway_zone
    labels, n = ndi.label(cand)
    if n == 0:
        raise ValueError("no lung found: no air-filled region inside the body")
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    keep_ids = np.flatnonzero(sizes >= MIN_COMPONENT_FRACTION * sizes.max())
    voxel_ml = float(np.prod(wsp)) / 1000.0
    if sizes.max() * voxel_ml < 20.0:
        raise ValueError(
            f"no lung found: the largest air region inside the body is "
            f"{sizes.max() * voxel_ml:.1f} ml (less than 20 ml)"
        )

    # midline: the trachea's x, else the body's centre of mass x
    xs = np.arange(lo.shape[2])
    if trachea is not None:
        midline = float(np.argwhere(trachea)[:, 2].mean())
    else:
        body_cols = (~air).sum(axis=(0, 1)).astype(float)
        midline = float((body_cols * xs).sum() / max(body_cols.sum(), 1.0))

    right = np.zeros_like(air)
    left = np.zeros_like(air)
    for cid in keep_ids:
        comp = labels == cid
        cols = comp.sum(axis=(0, 1))
        centre_x = float((cols * xs).sum() / max(int(cols.sum()), 1))
        below = cols[: max(0, int(midline))].sum()
        above = cols[max(0, int(midline)) :].sum()
        both = min(below, above) >= 0.2 * (below + above)
        if both and len(keep_ids) == 1:
            r, lft = _split_merged(comp, midline)
            right |= r
            left |= lft
            warnings.append("lungs touch (anterior junction): split at the thinnest column")
        elif centre_x < midline:
            right |= comp
        else:
            left |= comp
    if len(keep_ids) == 1 and not (right.any() and left.any()):
        warnings.append("one lung in the field (cropped CT?)")

    right_f = _fill_lung(right, lo, inner, wsp, is_left=False)
    left_f = _fill_lung(left, lo, inner, wsp, is_left=True)
    overlap = right_f & left_f
    if overlap.any():  # a voxel claimed by both fillings goes to the original side
        right_f &= ~(overlap & ~right)
        left_f &= ~(overlap & ~left)
        left_f &= ~right_f
    right_f &= ~airway_zone
    left_f &= ~airway_zone

    shape = full.shape
    if f == (1, 1, 1):
        right_up, left_up, airways_up = right_f, left_f, airways
    else:
        right_up, left_up = _refine(full, lo, right_f, left_f, airway_zone, f)
        airways_up = _upsample(airways, f, shape)
    mask = right_up | left_up
    vml = float(np.prod(sp)) / 1000.0
    volumes = {
        "left": float(np.count_nonzero(left_up)) * vml,
        "right": float(np.count_nonzero(right_up)) * vml,
    }
    volumes["total"] = volumes["left"] + volumes["right"]
    return LungSegmentation(
        mask=mask,
        left=left_up,
        right=right_up,
        airways=airways_up,
        volumes_ml=volumes,
        warnings=warnings,
        spacing=sp,
    )


def _padded_box(mask: np.ndarray, pad: int) -> tuple[slice, slice, slice]:
    where = np.argwhere(mask)
    lo = np.maximum(where.min(axis=0) - pad, 0)
    hi = np.minimum(where.max(axis=0) + pad + 1, mask.shape)
    return (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))


# codes of the work grid for the refinement on the CT grid
_OUT, _RIGHT, _LEFT, _RIGHT_AIR, _LEFT_AIR = 0, 1, 2, 3, 4


def _refine(
    full: np.ndarray,
    lo: np.ndarray,
    right: np.ndarray,
    left: np.ndarray,
    airway_zone: np.ndarray,
    f: tuple[int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Back on the CT grid. Work voxels inside a lung keep all their CT voxels, except those
    on the lung's edge that were air (mean below AIR_HU): there only the CT's air voxels are
    kept (the chest wall's share is dropped); work voxels just outside the edge give their
    air voxels. Work voxels filled into the lung (a nodule, a vessel) keep all theirs. So the
    boundary follows the CT's own voxels rather than the coarse blocks. One code per work voxel
    is upsampled once; the CT is thresholded only inside the lungs' bounding box."""
    code = np.zeros(lo.shape, np.uint8)
    is_air_lo = lo < AIR_HU
    for mask, whole, airy in ((right, _RIGHT, _RIGHT_AIR), (left, _LEFT, _LEFT_AIR)):
        if not mask.any():
            continue
        edge = mask & ~ndi.binary_erosion(mask) & is_air_lo
        outer = ndi.binary_dilation(mask) & ~mask & ~airway_zone & (code == _OUT)
        code[mask] = whole
        code[edge | outer] = airy
    shape = full.shape
    right_up = np.zeros(shape, bool)
    left_up = np.zeros(shape, bool)
    if not code.any():
        return right_up, left_up
    box_lo = _padded_box(code > 0, 0)
    box = tuple(
        slice(b.start * k, min(b.stop * k, n)) for b, k, n in zip(box_lo, f, shape, strict=True)
    )
    up = _upsample(code[box_lo], f, tuple(b.stop - b.start for b in box))
    is_air = full[box] < AIR_HU
    right_up[box] = (up == _RIGHT) | ((up == _RIGHT_AIR) & is_air)
    left_up[box] = (up == _LEFT) | ((up == _LEFT_AIR) & is_air)
    return right_up, left_up
