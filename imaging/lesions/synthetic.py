"""Seeded synthetic candidate patches for testing the false-positive model without patient
images: nodules (spheres, solid or ground-glass, sometimes touching a vessel) against the
usual false positives of a blob detector (vessels as tubes, sometimes branching; a pleural
wall; noise alone). Values are in HU on a 1 mm isotropic grid, like
:func:`imaging.lesions.patches.extract_patches` before windowing.

Not a model of real CT: a sanity check that the network and its training loop learn shape
(round against elongated or flat), with a known answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from imaging.lesions.patches import PATCH_SIZE, PatchGeometry, window

LUNG_HU = -850.0
SOFT_TISSUE_HU = 40.0


@dataclass(frozen=True)
class SyntheticPatches:
    patches: np.ndarray  # (n, s, s, s) float32 in [0, 1] (windowed)
    labels: np.ndarray  # 1 nodule, 0 false positive
    kinds: list[str]  # "nodule", "nodule+vessel", "vessel", "branch", "wall", "noise"
    groups: np.ndarray  # a pseudo-scan id per patch (for per-scan false-positive rates)


def _grid(size: int) -> np.ndarray:
    c = (np.arange(size) - (size - 1) / 2.0).astype(np.float32)
    return np.stack(np.meshgrid(c, c, c, indexing="ij"))  # (3, s, s, s) mm from the centre


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _tube(grid: np.ndarray, point: np.ndarray, direction: np.ndarray, radius: float) -> np.ndarray:
    rel = grid - point[:, None, None, None]
    along = np.tensordot(direction, rel, axes=1)
    dist2 = (rel**2).sum(axis=0) - along**2
    return dist2 <= radius**2


def _patch(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    grid = _grid(size)
    hu = np.full((size, size, size), LUNG_HU, dtype=np.float32)
    jitter = rng.uniform(-2.0, 2.0, size=3).astype(np.float32)
    if kind.startswith("nodule"):
        if kind == "nodule+vessel":  # a juxta-vascular nodule: a vessel touching it
            radius_v = rng.uniform(0.8, 2.0)
            offset = jitter + _unit(rng) * rng.uniform(3.0, 6.0)
            hu[_tube(grid, offset.astype(np.float32), _unit(rng), radius_v)] = rng.uniform(
                0.0, 60.0
            )
        radius = rng.uniform(2.0, 8.0)
        density = rng.uniform(-650.0, -400.0) if rng.random() < 0.25 else rng.uniform(-100, 80)
        dist = np.sqrt(((grid - jitter[:, None, None, None]) ** 2).sum(axis=0))
        hu[dist <= radius] = density
    elif kind in ("vessel", "branch"):
        radius = rng.uniform(1.0, 3.5)
        direction = _unit(rng)
        hu[_tube(grid, jitter, direction, radius)] = rng.uniform(0.0, 60.0)
        if kind == "branch":  # a bifurcation at the centre: a second, thinner tube
            hu[_tube(grid, jitter, _unit(rng), radius * rng.uniform(0.6, 0.9))] = rng.uniform(
                0.0, 60.0
            )
    elif kind == "wall":  # chest wall: soft tissue beyond a plane near the centre
        normal = _unit(rng)
        depth = np.tensordot(normal, grid - jitter[:, None, None, None], axes=1)
        hu[depth > rng.uniform(-3.0, 3.0)] = SOFT_TISSUE_HU
    # partial-volume blur, then scanner noise
    hu = ndimage.gaussian_filter(hu, sigma=0.8)
    hu += rng.normal(0.0, rng.uniform(20.0, 60.0), size=hu.shape).astype(np.float32)
    return hu


def synthetic_patches(
    n: int, seed: int, *, positive_fraction: float = 0.4, size: int = PATCH_SIZE, scans: int = 20
) -> SyntheticPatches:
    """``n`` windowed patches, about ``positive_fraction`` of them nodules, each assigned to
    one of ``scans`` pseudo-scans at random. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    kinds: list[str] = []
    for _ in range(n):
        if rng.random() < positive_fraction:
            kinds.append("nodule+vessel" if rng.random() < 0.3 else "nodule")
        else:
            kinds.append(
                str(rng.choice(["vessel", "branch", "wall", "noise"], p=[0.4, 0.3, 0.2, 0.1]))
            )
    geometry = PatchGeometry(size=size)
    patches = np.stack([window(_patch(rng, k, size), geometry) for k in kinds]) if n else None
    return SyntheticPatches(
        patches=patches
        if patches is not None
        else np.zeros((0, size, size, size), dtype=np.float32),
        labels=np.array([k.startswith("nodule") for k in kinds], dtype=np.int64),
        kinds=kinds,
        groups=rng.integers(0, scans, size=n),
    )
