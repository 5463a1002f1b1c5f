"""Survival models: Breslow baseline by hand and against lifelines, recovery of a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index

from oncology.outcomes.models import (
    MODEL_KINDS,
    BreslowBaseline,
    CoxModel,
    NeuralCoxModel,
    make_model,
)

BETA = np.array([0.8, -0.5, 0.0])


def _ph_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exponential PH data with known log-hazard x @ BETA (baseline hazard 0.1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    lp = x @ BETA
    t_event = rng.exponential(1.0 / (0.1 * np.exp(lp)))
    t_cens = rng.uniform(0, 25, n)
    return x, np.minimum(t_event, t_cens), (t_event <= t_cens).astype(int), lp


def test_breslow_by_hand() -> None:
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    event = np.array([1, 1, 0, 1, 0])
    lp = np.log(np.array([1.0, 2.0, 1.0, 1.0, 2.0]))
    base = BreslowBaseline().fit(lp, time, event)
    # risk sets: t=1 all (7), t=2 patients 2-5 (6), t=3 patients 4-5 (3)
    expected = np.cumsum([1 / 7, 1 / 6, 1 / 3])
    np.testing.assert_allclose(base.cumulative_hazard(np.array([1.0, 2.0, 3.0])), expected)
    between = base.cumulative_hazard(np.array([0.5, 2.5, 10.0]))
    np.testing.assert_allclose(between, [0, expected[1], expected[2]])
    surv = base.survival(np.log([2.0]), np.array([3.0]))
    np.testing.assert_allclose(surv, [[np.exp(-2 * expected[2])]])


def test_cox_survival_matches_lifelines_prediction() -> None:
    x, time, event, _ = _ph_data(300, seed=1)
    model = CoxModel(penalizer=0.0).fit(x, time, event)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=time, E=event)
    ref = CoxPHFitter().fit(frame, duration_col="T", event_col="E")
    # lifelines interpolates linearly between event times; at event times both are Breslow's
    times = np.sort(time[event == 1])[[10, 60, 120]]
    expected = ref.predict_survival_function(frame[["a", "b", "c"]].iloc[:20], times=times)
    got = model.predict_survival(x[:20], times)
    np.testing.assert_allclose(got, expected.to_numpy().T, rtol=1e-6)


def test_cox_recovers_known_coefficients() -> None:
    x, time, event, _ = _ph_data(1500, seed=2)
    model = CoxModel(penalizer=0.0).fit(x, time, event)
    np.testing.assert_allclose(model.coef_, BETA, atol=0.1)


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_models_rank_and_predict_the_true_survival(kind: str) -> None:
    x, time, event, _ = _ph_data(600, seed=3)
    x_test, t_test, e_test, lp_test = _ph_data(300, seed=4)
    model = make_model(kind, seed=0).fit(x, time, event)
    risk = model.risk(x_test)
    assert concordance_index(t_test, -risk, e_test) > 0.68
    times = np.array([1.0, 5.0, 10.0, 20.0])
    surv = model.predict_survival(x_test, times)
    assert surv.shape == (300, 4)
    assert ((surv >= 0) & (surv <= 1)).all()
    assert (np.diff(surv, axis=1) <= 1e-12).all()
    truth = np.exp(-0.1 * np.outer(np.exp(lp_test), times))
    assert np.abs(surv - truth).mean() < 0.07


def test_neural_model_is_deterministic_and_leaves_global_rng_alone() -> None:
    x, time, event, _ = _ph_data(200, seed=5)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = NeuralCoxModel(epochs=20, seed=1).fit(x, time, event).risk(x)
    assert torch.equal(torch.rand(1), expected_next)
    b = NeuralCoxModel(epochs=20, seed=1).fit(x, time, event).risk(x)
    c = NeuralCoxModel(epochs=20, seed=2).fit(x, time, event).risk(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_input_is_refused() -> None:
    x, time, event, _ = _ph_data(20, seed=6)
    with pytest.raises(ValueError, match="same number of rows"):
        CoxModel().fit(x[:5], time, event)
    with pytest.raises(ValueError, match="missing or infinite"):
        CoxModel().fit(np.where(x > 1, np.nan, x), time, event)
    with pytest.raises(ValueError, match="non-negative"):
        CoxModel().fit(x, -time, event)
    with pytest.raises(ValueError, match="at least one event"):
        CoxModel().fit(x, time, np.zeros_like(event))
    with pytest.raises(ValueError, match="0 \\(censored\\) or 1"):
        CoxModel().fit(x, time, event * 2)
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        make_model("svm")
