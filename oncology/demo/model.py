"""The demo's outcome model: a Cox comparison trained on the SIMULATED cohort and activated, so
demo patients get per-option predictions with bootstrap bands inline (docs/outcomes-registry.md).

The simulated cohort's feature names are the ones the record extractors fill
(oncology/services/outcome_features.py), so the demo's synthetic patients can be compared. The
model card says it was trained on simulated data, for demonstration only.
"""

from __future__ import annotations

from oncology.models_outcomes import OutcomeModel, OutcomeModelStatus
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train

DEMO_MODEL_NAME = "demo-simulated-cox"
DEMO_PATIENTS = 1500
# The library's minimum bootstrap ensemble, 10 refits: bands inline in milliseconds per
# prediction, and the demo setup pays for the refits once (about a second each; measured in
# docs/outcomes-registry.md). Ten replicates make coarse 95% percentile bands: enough to show
# the board the uncertainty, not a validated interval (a real model stores 50 or more).
DEMO_BAND_REPLICATES = 10
DEMO_SPLITS = 1


def demo_model_train(
    *,
    name: str = DEMO_MODEL_NAME,
    patients: int = DEMO_PATIENTS,
    band_replicates: int = DEMO_BAND_REPLICATES,
    splits: int = DEMO_SPLITS,
    seed: int = 0,
) -> tuple[OutcomeModel, bool]:
    """Train, validate and activate the demo model; ``(model, True)``. Idempotent: when any
    outcome model is already active (the demo's from an earlier run, or one an operator chose)
    nothing is trained and ``(that model, False)`` is returned."""
    active = OutcomeModel.objects.filter(status=OutcomeModelStatus.ACTIVE).order_by("pk").first()
    if active is not None:
        return active, False
    model = outcome_model_train(
        source="simulated",
        kind="cox",
        name=name,
        seed=seed,
        patients=patients,
        splits=splits,
        band_replicates=band_replicates,
    )
    outcome_model_set_status(model=model, status=OutcomeModelStatus.VALIDATED)
    return outcome_model_set_status(model=model, status=OutcomeModelStatus.ACTIVE), True
