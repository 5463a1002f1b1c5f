"""The interaction model's component penalty chosen by cross-validated partial likelihood."""

from __future__ import annotations

import numpy as np
import pytest

from oncology.outcomes import simulate
from oncology.outcomes.compare import (
    COMPONENT_GRID,
    TreatmentComparison,
    choose_component_penalty,
    held_out_partial_likelihood,
)
from oncology.outcomes.ensemble import BootstrapEnsemble


def test_held_out_partial_likelihood_by_hand() -> None:
    # events at 1 (risk set: all, exp(lp) sum 1 + 2 + 1) and 2 (risk set: rows 2, 3: 2 + 1)
    lp = np.array([0.0, np.log(2.0), 0.0])
    got = held_out_partial_likelihood(np.array([1.0, 2.0, 3.0]), np.array([1, 1, 0]), lp)
    assert got == pytest.approx((-np.log(4.0) + np.log(2.0 / 3.0)) / 2)
    # tied event times share their risk set (Breslow): both -log(1 + 1 + 2)
    tied = held_out_partial_likelihood(
        np.array([1.0, 1.0, 2.0]), np.array([1, 1, 0]), np.array([0.0, 0.0, np.log(2.0)])
    )
    assert tied == pytest.approx(-np.log(4.0))


def test_cv_choice_is_a_grid_value_reused_by_every_bootstrap_refit() -> None:
    frame = simulate.simulate_cohort(1500, seed=5).frame
    specs = simulate.feature_specs()
    chosen = choose_component_penalty(frame, specs, "treatment")
    assert chosen in COMPONENT_GRID
    tc = TreatmentComparison(specs, "treatment", model_params={"component_penalty": "cv"})
    tc.fit(frame)
    assert tc.model_params == {"component_penalty": chosen}
    fixed = TreatmentComparison(specs, "treatment", model_params={"component_penalty": chosen})
    fixed.fit(frame)
    np.testing.assert_allclose(tc.pooled_.coef_, fixed.pooled_.coef_)
    # the bootstrap refits take the chosen number, not a new cross-validation each
    ensemble = BootstrapEnsemble(tc, replicates=10, seed=0).fit()
    assert all(m.model_params == {"component_penalty": chosen} for m in ensemble.members_)
