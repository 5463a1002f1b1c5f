"""Radiomics settings: one validated, versioned, immutable object per extraction.

Presets ``ibsi-A`` .. ``ibsi-E`` transcribe the CT phantom configurations of the IBSI reference
manual (Zwanenburg et al., arXiv:1612.07003, chapter 5 "Reference data sets", table of
configurations A-E); ``ibsi-phantom`` follows the digital phantom instructions (grey levels used
directly, no interpolation, distance 1); ``ct-default``, ``mr-default`` and ``pet-default`` are
pragmatic per-modality starting points (not IBSI-validated configurations).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

# 2: adds ``features`` (select single features, e.g. those another engine computes). Version 1
# settings are version 2 settings with ``features = ()``: every value is unchanged.
SETTINGS_VERSION = 2

DiscretisationMethod = Literal["none", "fbn", "fbs"]
Approach = Literal["2D", "3D"]


@dataclass(frozen=True)
class Discretisation:
    """Fixed bin number (``fbn``, ``n_bins``), fixed bin size (``fbs``, ``bin_width``) or none.

    ``none`` uses the (integer) intensities directly as grey levels, as the IBSI digital
    phantom requires.
    """

    method: DiscretisationMethod = "none"
    n_bins: int | None = None
    bin_width: float | None = None

    def __post_init__(self) -> None:
        if self.method == "fbn" and (self.n_bins is None or self.n_bins < 1):
            raise ValueError("fixed bin number discretisation needs n_bins >= 1")
        if self.method == "fbs" and (self.bin_width is None or not self.bin_width > 0):
            raise ValueError("fixed bin size discretisation needs bin_width > 0")
        if self.method not in ("none", "fbn", "fbs"):
            raise ValueError(f"unknown discretisation method {self.method!r}")


# Texture aggregations (IBSI 3.6.1): GLCM/GLRLM have averaged and merged variants, the other
# texture families one per dimension.
AGGREGATIONS_2D: tuple[str, ...] = (
    "2d_averaged",
    "2d_slice_merged",
    "2_5d_direction_merged",
    "2_5d_merged",
    "2d",
    "2_5d",
)
AGGREGATIONS_3D: tuple[str, ...] = ("3d_averaged", "3d_merged", "3d")


@dataclass(frozen=True)
class RadiomicsSettings:
    """Everything that changes a feature value. ``version`` is the schema version."""

    name: str = "custom"
    version: int = SETTINGS_VERSION
    approach: Approach = "3D"
    # Interpolation (IBSI 2.4), applied by context.prepare; None keeps the native grid.
    resampled_spacing_mm: tuple[float, ...] | None = None
    interpolation: str | None = None
    roi_partial_volume: float = 0.5
    intensity_rounding: bool = False
    # Re-segmentation (IBSI 2.5): a range [lower, upper] and/or outlier filtering at k sigma.
    resegmentation_range: tuple[float, float] | None = None
    outlier_sigma: float | None = None
    texture_discretisation: Discretisation = field(default_factory=Discretisation)
    ivh_discretisation: Discretisation = field(default_factory=Discretisation)
    glcm_distance: int = 1
    zone_linkage_distance: int = 1
    ngldm_distance: int = 1
    ngldm_coarseness: float = 0.0
    # Families (registry keys) to compute; empty means all.
    families: tuple[str, ...] = ()
    # Texture aggregations to report (e.g. "3d_merged", "2d_averaged", "2_5d"); empty means all.
    aggregations: tuple[str, ...] = ()
    # Feature keys to report (``FeatureValue.key``: "morph_volume", "cm_contrast_3d_averaged");
    # empty means every feature of the families and aggregations above. When given, only these
    # are computed (expensive shared steps such as Moran's I are skipped when not asked for);
    # each must exist and lie within ``families`` / ``aggregations`` when those are set.
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.version != SETTINGS_VERSION:
            raise ValueError(f"settings version {self.version} is not {SETTINGS_VERSION}")
        if self.approach not in ("2D", "3D"):
            raise ValueError("approach must be '2D' or '3D'")
        rng = self.resegmentation_range
        if rng is not None and not rng[0] < rng[1]:
            raise ValueError("resegmentation_range must be (lower, upper) with lower < upper")
        if self.outlier_sigma is not None and not self.outlier_sigma > 0:
            raise ValueError("outlier_sigma must be positive")
        if not 0 < self.roi_partial_volume <= 1:
            raise ValueError("roi_partial_volume must lie in (0, 1]")
        for name in ("glcm_distance", "zone_linkage_distance", "ngldm_distance"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.ngldm_coarseness < 0:
            raise ValueError("ngldm_coarseness must be >= 0")
        unknown = set(self.aggregations) - set(AGGREGATIONS_2D + AGGREGATIONS_3D)
        if unknown:
            raise ValueError(f"unknown aggregations: {', '.join(sorted(unknown))}")
        if isinstance(self.features, str):
            raise ValueError("features must be a sequence of feature keys, not one string")
        object.__setattr__(self, "features", tuple(self.features))
        if self.features:
            # Imported here: the selection reads the family registry, which imports this module.
            from imaging.radiomics.selection import validate

            validate(self.features, self.families, self.aggregations)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for provenance records (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> RadiomicsSettings:
        return dataclasses.replace(self, **changes)


def _fbs(width: float) -> Discretisation:
    return Discretisation("fbs", bin_width=width)


def _fbn(n: int) -> Discretisation:
    return Discretisation("fbn", n_bins=n)


PRESETS: dict[str, RadiomicsSettings] = {
    "ibsi-phantom": RadiomicsSettings(name="ibsi-phantom"),
    "ibsi-A": RadiomicsSettings(
        name="ibsi-A",
        approach="2D",
        aggregations=AGGREGATIONS_2D,
        resegmentation_range=(-500.0, 400.0),
        texture_discretisation=_fbs(25.0),
    ),
    "ibsi-B": RadiomicsSettings(
        name="ibsi-B",
        approach="2D",
        aggregations=AGGREGATIONS_2D,
        resampled_spacing_mm=(2.0, 2.0),
        interpolation="bilinear",
        intensity_rounding=True,
        resegmentation_range=(-500.0, 400.0),
        texture_discretisation=_fbn(32),
    ),
    "ibsi-C": RadiomicsSettings(
        name="ibsi-C",
        aggregations=AGGREGATIONS_3D,
        resampled_spacing_mm=(2.0, 2.0, 2.0),
        interpolation="trilinear",
        intensity_rounding=True,
        resegmentation_range=(-1000.0, 400.0),
        texture_discretisation=_fbs(25.0),
        ivh_discretisation=_fbs(2.5),
    ),
    "ibsi-D": RadiomicsSettings(
        name="ibsi-D",
        aggregations=AGGREGATIONS_3D,
        resampled_spacing_mm=(2.0, 2.0, 2.0),
        interpolation="trilinear",
        intensity_rounding=True,
        outlier_sigma=3.0,
        texture_discretisation=_fbn(32),
    ),
    "ibsi-E": RadiomicsSettings(
        name="ibsi-E",
        aggregations=AGGREGATIONS_3D,
        resampled_spacing_mm=(2.0, 2.0, 2.0),
        interpolation="tricubic",
        intensity_rounding=True,
        resegmentation_range=(-1000.0, 400.0),
        outlier_sigma=3.0,
        texture_discretisation=_fbn(32),
        ivh_discretisation=_fbn(1000),
    ),
    # MR intensities have no absolute scale: no range, 3-sigma outlier filtering, FBN.
    "mr-default": RadiomicsSettings(
        name="mr-default",
        resampled_spacing_mm=(1.0, 1.0, 1.0),
        interpolation="trilinear",
        outlier_sigma=3.0,
        texture_discretisation=_fbn(32),
        aggregations=AGGREGATIONS_3D,
    ),
    # PET in SUV: range [0, inf) so fixed bins of 0.25 SUV start at SUV 0.
    "pet-default": RadiomicsSettings(
        name="pet-default",
        resampled_spacing_mm=(3.0, 3.0, 3.0),
        interpolation="trilinear",
        resegmentation_range=(0.0, float("inf")),
        texture_discretisation=_fbs(0.25),
        ivh_discretisation=_fbs(0.1),
        aggregations=AGGREGATIONS_3D,
    ),
    "ct-default": RadiomicsSettings(
        name="ct-default",
        aggregations=AGGREGATIONS_3D,
        resampled_spacing_mm=(1.0, 1.0, 1.0),
        interpolation="trilinear",
        intensity_rounding=True,
        resegmentation_range=(-1000.0, 400.0),
        texture_discretisation=_fbs(25.0),
    ),
}


def preset(name: str) -> RadiomicsSettings:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
