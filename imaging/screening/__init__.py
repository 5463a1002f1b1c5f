"""Lung screening library: lung segmentation, nodule candidates, FROC (no Django).

Names are loaded on first use so that ``import imaging.screening`` stays light (no scipy,
skimage or SimpleITK until something is called).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PIPELINE_VERSION": "imaging.screening.pipeline",
    "ScreeningResult": "imaging.screening.pipeline",
    "screen_volume": "imaging.screening.pipeline",
    "candidate_centre_mm": "imaging.screening.pipeline",
    "validate_cases": "imaging.screening.pipeline",
    "ScreeningSettings": "imaging.screening.candidates",
    "Candidate": "imaging.screening.candidates",
    "detect_candidates": "imaging.screening.candidates",
    "froc": "imaging.screening.froc",
    "FrocResult": "imaging.screening.froc",
    "LungSegmentation": "imaging.screening.lungs",
    "segment_lungs": "imaging.screening.lungs",
    "chest_phantom": "imaging.screening.phantom",
    "insert_nodules": "imaging.screening.insert",
    "plan_nodules": "imaging.screening.insert",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imaging.screening' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
