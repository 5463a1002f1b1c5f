"""Survival models behind one interface: fit(X, time, event) / risk(X) / predict_survival."""

from __future__ import annotations

from oncology.outcomes.models.base import BreslowBaseline, SurvivalModel
from oncology.outcomes.models.cox import CoxModel
from oncology.outcomes.models.neural import NeuralCoxModel
from oncology.outcomes.models.xgb import XGBCoxModel

MODEL_KINDS: dict[str, type[SurvivalModel]] = {
    "cox": CoxModel,
    "xgb": XGBCoxModel,
    "neural": NeuralCoxModel,
}


def make_model(kind: str, seed: int = 0) -> SurvivalModel:
    try:
        cls = MODEL_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}"
        ) from None
    return cls(seed=seed)  # type: ignore[call-arg]


__all__ = [
    "MODEL_KINDS",
    "BreslowBaseline",
    "CoxModel",
    "NeuralCoxModel",
    "SurvivalModel",
    "XGBCoxModel",
    "make_model",
]
