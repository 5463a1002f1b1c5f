"""cox_tuned: the candidate is chosen by cross-validation on the training rows alone."""

from __future__ import annotations

import numpy as np
import pytest

from oncology.outcomes.models.tuned import TunedCoxModel, cv_folds


def _u_shaped(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-hazard 1.5 x0^2 (U-shaped in x0, which a linear Cox model ranks at chance) + 0.5 x1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    lp = 1.5 * x[:, 0] ** 2 + 0.5 * x[:, 1]
    t_event = rng.exponential(1.0 / (0.1 * np.exp(lp)))
    t_cens = rng.uniform(0, 20, n)
    return x, np.minimum(t_event, t_cens), (t_event <= t_cens).astype(int)


def test_folds_partition_the_rows_and_keep_the_event_mix() -> None:
    event = np.array([1] * 30 + [0] * 60)
    folds = cv_folds(event, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(90))
    assert [int(event[f].sum()) for f in folds] == [10, 10, 10]


def test_a_u_shaped_effect_makes_it_choose_splines() -> None:
    x, time, event = _u_shaped(500, seed=1)
    model = TunedCoxModel(xgb_weights=(0.0,)).fit(x, time, event)
    assert model.chosen_["splines"] > 0
    linear = [s for s in model.cv_scores_ if s["splines"] == 0][0]["harrell_c"]
    assert linear < 0.6 < model.chosen_["harrell_c"]  # chance vs the U-shape found


def test_the_fit_and_choice_are_deterministic_for_a_seed() -> None:
    x, time, event = _u_shaped(300, seed=2)
    a = TunedCoxModel(xgb_weights=(0.0,)).fit(x, time, event)
    x_new = np.random.default_rng(3).normal(size=(5, 2))
    before = a.predict_survival(x_new, np.array([1.0, 5.0]))
    b = TunedCoxModel(xgb_weights=(0.0,)).fit(x, time, event)
    np.testing.assert_array_equal(before, b.predict_survival(x_new, np.array([1.0, 5.0])))
    assert a.chosen_ == b.chosen_


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="2 folds"):
        TunedCoxModel(folds=1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        TunedCoxModel(xgb_weights=(1.5,))
