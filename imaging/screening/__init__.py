"""Lung screening library: lung segmentation, nodule candidates, FROC (no Django).

Names are loaded on first use so that ``import imaging.screening`` stays light (numpy only; no
scipy, skimage or SimpleITK until something is called).
"""

from __future__ import annotations

import importlib
from typing import Any

# ``froc`` is both a submodule and the function it exports. Importing the submodule binds the
# module object to the package name on first import, so it is imported here (numpy only) and the
# name rebound to the function; later ``import imaging.screening.froc`` does not rebind it.
from imaging.screening import froc as _froc_module

froc = _froc_module.froc

_EXPORTS = {
    "PIPELINE_VERSION": "imaging.screening.pipeline",
    "ScreeningResult": "imaging.screening.pipeline",
    "screen_volume": "imaging.screening.pipeline",
    "candidate_centre_mm": "imaging.screening.pipeline",
    "validate_cases": "imaging.screening.pipeline",
    "ScreeningSettings": "imaging.screening.candidates",
    "Candidate": "imaging.screening.candidates",
    "detect_candidates": "imaging.screening.candidates",
    "FrocResult": "imaging.screening.froc",
    "LungSegmentation": "imaging.screening.lungs",
    "segment_lungs": "imaging.screening.lungs",
    "chest_phantom": "imaging.screening.phantom",
    "insert_nodules": "imaging.screening.insert",
    "plan_nodules": "imaging.screening.insert",
}

__all__ = sorted([*_EXPORTS, "froc"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imaging.screening' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
