"""Survival models behind one interface: fit(X, time, event) / risk(X) / predict_survival.

The model modules are imported on first use, so a Cox-only caller never pays for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from oncology.outcomes.models.base import BreslowBaseline, SurvivalModel

# kind -> (module, class)
MODEL_KINDS: dict[str, tuple[str, str]] = {
    "cox": ("oncology.outcomes.models.cox", "CoxModel"),
    "cox_tuned": ("oncology.outcomes.models.tuned", "TunedCoxModel"),
    "xgb": ("oncology.outcomes.models.xgb", "XGBCoxModel"),
    "neural": ("oncology.outcomes.models.neural", "NeuralCoxModel"),
}


def model_class(kind: str) -> type[SurvivalModel]:
    try:
        module, name = MODEL_KINDS[kind]
    except KeyError:
        known = ", ".join(MODEL_KINDS)
        raise ValueError(f"unknown model {kind!r}; choose one of {known}") from None
    cls: type[SurvivalModel] = getattr(importlib.import_module(module), name)
    return cls


def make_model(kind: str, seed: int = 0, **params: Any) -> SurvivalModel:
    return model_class(kind)(seed=seed, **params)  # type: ignore[call-arg]


def __getattr__(name: str) -> Any:
    for module, cls in MODEL_KINDS.values():
        if cls == name:
            return getattr(importlib.import_module(module), cls)
    raise AttributeError(name)


__all__ = ["MODEL_KINDS", "BreslowBaseline", "SurvivalModel", "make_model", "model_class"]
