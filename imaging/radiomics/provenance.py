"""What produced a feature set: settings, code and library versions, input hashes."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from imaging.radiomics.image import Image
from imaging.radiomics.registry import FeatureValue
from imaging.radiomics.settings import RadiomicsSettings

# Bumped whenever a change can alter a feature value.
ENGINE_VERSION = "0.1.0"
LIBRARIES = ("numpy", "scipy", "scikit-image", "nibabel", "SimpleITK")


def array_sha256(array: np.ndarray, spacing: tuple[float, ...] | None = None) -> str:
    """Hash of an array's dtype, shape, values (C order) and optional spacing."""
    h = hashlib.sha256()
    a = np.ascontiguousarray(array)
    h.update(f"{a.dtype.str}{a.shape}{spacing}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def provenance(image: Image, mask: np.ndarray, settings: RadiomicsSettings) -> dict[str, Any]:
    return {
        "engine": "imaging.radiomics",
        "engine_version": ENGINE_VERSION,
        "settings": settings.as_dict(),
        "libraries": library_versions(),
        "image_sha256": array_sha256(image.array, image.spacing),
        "mask_sha256": array_sha256(np.asarray(mask, dtype=bool)),
    }


@dataclass(frozen=True)
class FeatureSet:
    values: list[FeatureValue]
    provenance: dict[str, Any] = field(default_factory=dict)

    def as_rows(self) -> list[tuple[str, str, float]]:
        """(feature, ibsi_code, value) rows, the CSV/API shape."""
        return [(v.key, v.ibsi_code, v.value) for v in self.values]
