"""Morphological features (IBSI reference manual, section 3.1).

The mesh is the marching-cubes iso-surface at 0.5 of the morphological mask (zero-padded so the
surface closes), in mm; faces are oriented consistently so the signed tetrahedra volumes
sum to the enclosed volume (IBSI 3.1.1). Positions of voxel centres are in mm. PCA uses the
sample covariance (N - 1) of the morphological-mask voxel centres, eigenvalues
lambda_major >= lambda_minor >= lambda_least.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy import fft as sp_fft
from scipy import special
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist
from skimage import measure

from imaging.radiomics.context import RoiContext
from imaging.radiomics.registry import Family, Feature, FeatureValue, evaluate, feature

FAMILY_KEY = "morph"


class Shape:
    def __init__(
        self,
        morph: np.ndarray,
        intensity: np.ndarray,
        array: np.ndarray,
        spacing: tuple[float, float, float],
    ):
        self.morph = morph
        self.intensity = intensity
        self.array = array
        self.spacing = np.asarray(spacing, dtype=np.float64)

    @cached_property
    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        # Marching cubes over the mask's own bounding box only (the crop it gets keeps a
        # margin for local intensity), then shifted back: the same vertices and faces.
        idx = [np.flatnonzero(self.morph.any(axis=other)) for other in ((1, 2), (0, 2), (0, 1))]
        box = tuple(slice(int(i[0]), int(i[-1]) + 1) for i in idx)
        padded = np.pad(self.morph[box].astype(np.float64), 1)
        verts, faces, _, _ = measure.marching_cubes(padded, level=0.5, spacing=self.spacing)
        verts += np.array([b.start for b in box]) * self.spacing
        return verts, faces

    @cached_property
    def volume(self) -> float:
        v, f = self.mesh
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        return float(abs(np.sum(np.einsum("ij,ij->i", a, np.cross(b, c))) / 6.0))

    @cached_property
    def area(self) -> float:
        v, f = self.mesh
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        return float(np.sum(np.linalg.norm(np.cross(b - a, c - a), axis=1)) / 2.0)

    @cached_property
    def hull(self) -> ConvexHull:
        # Only the first and last vertex of each mesh row along x can be hull vertices (the
        # others lie between them on a segment), so qhull gets those: the same hull from a
        # third of the points. Binary-mask vertices sit on a half-voxel grid, hence rint.
        v = self.mesh[0]
        grid = np.rint(v / (self.spacing / 2)).astype(np.int64)
        grid -= grid.min(axis=0)
        row = grid[:, 0] * (int(grid[:, 1].max()) + 1) + grid[:, 1]
        order = np.lexsort((grid[:, 2], row))
        change = row[order][1:] != row[order][:-1]
        ends = np.concatenate(([True], change)) | np.concatenate((change, [True]))
        return ConvexHull(v[order[ends]])

    @cached_property
    def positions(self) -> np.ndarray:
        return np.argwhere(self.morph) * self.spacing

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        # The IBSI reference values use the sample covariance (N - 1 denominator).
        cov = np.cov(self.positions.T)
        return np.sort(np.linalg.eigvalsh(cov))[::-1]

    @cached_property
    def semi_axes(self) -> np.ndarray:
        return 2.0 * np.sqrt(np.clip(self.eigenvalues, 0, None))

    @cached_property
    def pair_sums(self) -> tuple[float, float, float, float, int]:
        """Moran's I and Geary's C share these all-pairs sums: computed once (see _pair_sums)."""
        return _pair_sums(self)

    @cached_property
    def aabb(self) -> np.ndarray:
        v = self.mesh[0]
        return v.max(axis=0) - v.min(axis=0)


@feature("volume", "RNU0")
def volume(s: Shape) -> float:
    """Volume (mesh) (RNU0): V = 1/6 |sum_faces a . (b x c)| over the mesh triangles (mm^3)."""
    return s.volume


@feature("approximate_volume", "YEKZ")
def approximate_volume(s: Shape) -> float:
    """Volume (voxel counting) (YEKZ): V_a = N_v x voxel volume."""
    return float(s.morph.sum() * np.prod(s.spacing))


@feature("surface_area", "C0JK")
def surface_area(s: Shape) -> float:
    """Surface area (mesh) (C0JK): A = sum_faces |(b - a) x (c - a)| / 2 (mm^2)."""
    return s.area


@feature("surface_to_volume_ratio", "2PR5")
def surface_to_volume_ratio(s: Shape) -> float:
    """Surface to volume ratio (2PR5): A / V."""
    return s.area / s.volume


@feature("compactness_1", "SKGS")
def compactness_1(s: Shape) -> float:
    """Compactness 1 (SKGS): V / (pi^(1/2) A^(3/2))."""
    return s.volume / (np.sqrt(np.pi) * s.area**1.5)


@feature("compactness_2", "BQWJ")
def compactness_2(s: Shape) -> float:
    """Compactness 2 (BQWJ): 36 pi V^2 / A^3."""
    return 36 * np.pi * s.volume**2 / s.area**3


@feature("spherical_disproportion", "KRCK")
def spherical_disproportion(s: Shape) -> float:
    """Spherical disproportion (KRCK): A / (36 pi V^2)^(1/3)."""
    return s.area / (36 * np.pi * s.volume**2) ** (1 / 3)


@feature("sphericity", "QCFX")
def sphericity(s: Shape) -> float:
    """Sphericity (QCFX): (36 pi V^2)^(1/3) / A."""
    return (36 * np.pi * s.volume**2) ** (1 / 3) / s.area


@feature("asphericity", "25C7")
def asphericity(s: Shape) -> float:
    """Asphericity (25C7): (A^3 / (36 pi V^2))^(1/3) - 1."""
    return (s.area**3 / (36 * np.pi * s.volume**2)) ** (1 / 3) - 1


@feature("centre_of_mass_shift", "KLMA")
def centre_of_mass_shift(s: Shape) -> float:
    """Centre of mass shift (KLMA): || mean(r_k, morphological mask) - sum X_k r_k / sum X_k ||,
    the second over the intensity mask with intensities X_k as weights."""
    geometric = s.positions.mean(axis=0)
    r = np.argwhere(s.intensity) * s.spacing
    w = s.array[s.intensity]
    return float(np.linalg.norm(geometric - (w[:, None] * r).sum(0) / w.sum()))


@feature("maximum_3d_diameter", "L0JK")
def maximum_3d_diameter(s: Shape) -> float:
    """Maximum 3D diameter (L0JK): max ||v_i - v_j|| over mesh vertices (convex hull ones)."""
    return float(pdist(s.hull.points[s.hull.vertices]).max())


@feature("major_axis_length", "TDIC")
def major_axis_length(s: Shape) -> float:
    """Major axis length (TDIC): 4 sqrt(lambda_major)."""
    return 2 * s.semi_axes[0]


@feature("minor_axis_length", "P9VJ")
def minor_axis_length(s: Shape) -> float:
    """Minor axis length (P9VJ): 4 sqrt(lambda_minor)."""
    return 2 * s.semi_axes[1]


@feature("least_axis_length", "7J51")
def least_axis_length(s: Shape) -> float:
    """Least axis length (7J51): 4 sqrt(lambda_least)."""
    return 2 * s.semi_axes[2]


@feature("elongation", "Q3CK")
def elongation(s: Shape) -> float:
    """Elongation (Q3CK): sqrt(lambda_minor / lambda_major)."""
    return float(np.sqrt(s.eigenvalues[1] / s.eigenvalues[0]))


@feature("flatness", "N17B")
def flatness(s: Shape) -> float:
    """Flatness (N17B): sqrt(lambda_least / lambda_major)."""
    return float(np.sqrt(s.eigenvalues[2] / s.eigenvalues[0]))


@feature("volume_density_aabb", "PBX1")
def volume_density_aabb(s: Shape) -> float:
    """Volume density, axis-aligned bounding box (PBX1): V / (l_x l_y l_z) of the mesh."""
    return s.volume / float(np.prod(s.aabb))


@feature("area_density_aabb", "R59B")
def area_density_aabb(s: Shape) -> float:
    """Area density, axis-aligned bounding box (R59B): A / (2 (l_x l_y + l_y l_z + l_z l_x))."""
    x, y, z = s.aabb
    return s.area / (2 * (x * y + y * z + z * x))


@feature("volume_density_aee", "6BDE")
def volume_density_aee(s: Shape) -> float:
    """Volume density, approximate enclosing ellipsoid (6BDE): 3 V / (4 pi a b c),
    semi-axes a, b, c = 2 sqrt(lambda_major), 2 sqrt(lambda_minor), 2 sqrt(lambda_least)."""
    return s.volume / (4 * np.pi * float(np.prod(s.semi_axes)) / 3)


@feature("area_density_aee", "RDD2")
def area_density_aee(s: Shape) -> float:
    """Area density, approximate enclosing ellipsoid (RDD2): A / A_aee with
    A_aee = 4 pi a b sum_{nu=0}^{20} (alpha beta)^nu / (1 - 4 nu^2) P_nu((alpha^2 + beta^2)
    / (2 alpha beta)), alpha = sqrt(1 - b^2/a^2), beta = sqrt(1 - c^2/a^2), P_nu Legendre."""
    a, b, c = s.semi_axes
    alpha, beta = np.sqrt(1 - b**2 / a**2), np.sqrt(1 - c**2 / a**2)
    ab = alpha * beta
    if ab == 0:
        total = 1.0 if alpha == beta else float("nan")
    else:
        nu = np.arange(21)
        x = (alpha**2 + beta**2) / (2 * ab)
        total = float(np.sum(ab**nu / (1 - 4 * nu**2) * special.eval_legendre(nu, x)))
    return s.area / (4 * np.pi * a * b * total)


@feature("volume_density_convex_hull", "R3ER")
def volume_density_convex_hull(s: Shape) -> float:
    """Volume density, convex hull (R3ER): V / V_convex hull of the mesh vertices."""
    return s.volume / float(s.hull.volume)


@feature("area_density_convex_hull", "7T7F")
def area_density_convex_hull(s: Shape) -> float:
    """Area density, convex hull (7T7F): A / A_convex hull of the mesh vertices."""
    return s.area / float(s.hull.area)


@feature("integrated_intensity", "99N0")
def integrated_intensity(s: Shape) -> float:
    """Integrated intensity (99N0): V x mean intensity over the intensity mask."""
    return s.volume * float(s.array[s.intensity].mean())


def _pair_sums(s: Shape) -> tuple[float, float, float, float, int]:
    """sum w, sum w d_i d_j, sum w (X_i - X_j)^2 and sum d^2 over intensity-mask voxel pairs
    i != j, with w_ij = 1/||r_i - r_j|| (mm) and d = X - mu.

    The pair sums are convolutions with the kernel K(r) = 1/||r|| (K(0) = 0):
    sum_ij w_ij a_i b_j = sum_i a_i (K * b)_i, computed exactly by FFT in O(N log N) instead of
    the O(N^2) explicit pairs, and sum w (X_i - X_j)^2 = 2 sum_i d_i^2 (K * m)_i
    - 2 sum_i d_i (K * d)_i.
    """
    mask = s.intensity
    idx = np.nonzero(mask)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in idx)
    m = mask[box].astype(np.float64)
    x = np.where(mask[box], s.array[box], 0.0).astype(np.float64)
    n = int(m.sum())
    mu = float(x.sum() / n)
    d = (x - mu) * m
    # Circular convolution of length L >= 2n - 1 per axis is alias-free for offsets in
    # [-(n-1), n-1]; the kernel is laid out circularly (offset o at index o mod L).
    size = [sp_fft.next_fast_len(2 * k - 1, real=True) for k in m.shape]
    axes = []
    for n_ax, length, sp in zip(m.shape, size, s.spacing, strict=True):
        i = np.arange(length)
        off = np.where(i < n_ax, i, i - length).astype(np.float64)
        off[(i >= n_ax) & (i <= length - n_ax)] = np.nan  # offsets never needed
        axes.append(off * sp)
    grid = np.meshgrid(*axes, indexing="ij", sparse=True)
    dist = np.sqrt(grid[0] ** 2 + grid[1] ** 2 + grid[2] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = np.where(np.isfinite(dist) & (dist > 0), 1.0 / dist, 0.0)
    spectrum = sp_fft.rfftn(kernel, size)
    del kernel, dist
    crop = tuple(slice(0, k) for k in m.shape)

    def convolve(a: np.ndarray) -> np.ndarray:
        f = sp_fft.rfftn(a, size)
        f *= spectrum  # in place: these spectra are the memory peak of the whole extraction
        return sp_fft.irfftn(f, size)[crop].copy()

    km = convolve(m)
    kd = convolve(d)
    sw = float(np.sum(m * km))
    sxy = float(np.sum(d * kd))
    sdd = float(2 * np.sum(d**2 * km) - 2 * sxy)
    return sw, sxy, sdd, float(np.sum(d**2)), n


@feature("morans_i", "N365")
def morans_i(s: Shape) -> float:
    """Moran's I index (N365): N_v / sum w_ij x sum w_ij (X_i - mu)(X_j - mu) / sum (X_k - mu)^2,
    w_ij = 1 / ||r_i - r_j|| for i != j over the intensity mask."""
    sw, sxy, _, ss, n = s.pair_sums
    return n / sw * sxy / ss


@feature("gearys_c", "NPT7")
def gearys_c(s: Shape) -> float:
    """Geary's C measure (NPT7): (N_v - 1) / (2 sum w_ij) x sum w_ij (X_i - X_j)^2
    / sum (X_k - mu)^2, w_ij = 1 / ||r_i - r_j|| for i != j."""
    sw, _, sdd, ss, n = s.pair_sums
    return (n - 1) / (2 * sw) * sdd / ss


FEATURES: tuple[Feature, ...] = (
    volume,
    approximate_volume,
    surface_area,
    surface_to_volume_ratio,
    compactness_1,
    compactness_2,
    spherical_disproportion,
    sphericity,
    asphericity,
    centre_of_mass_shift,
    maximum_3d_diameter,
    major_axis_length,
    minor_axis_length,
    least_axis_length,
    elongation,
    flatness,
    volume_density_aabb,
    area_density_aabb,
    volume_density_aee,
    area_density_aee,
    volume_density_convex_hull,
    area_density_convex_hull,
    integrated_intensity,
    morans_i,
    gearys_c,
)


def compute(ctx: RoiContext) -> list[FeatureValue]:
    shape = Shape(ctx.roi.morphological, ctx.roi.intensity, ctx.image.array, ctx.image.spacing)
    return evaluate(FAMILY_KEY, ctx.features_for(FAMILY_KEY, FEATURES), (shape,))


FAMILY = Family(FAMILY_KEY, "Morphological features", FEATURES, compute)
