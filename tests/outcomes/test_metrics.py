"""Metrics against hand-computed cases and against scikit-survival and lifelines."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index
from sksurv.metrics import (
    brier_score,
    concordance_index_censored,
    concordance_index_ipcw,
    integrated_brier_score,
)
from sksurv.util import Surv

from oncology.outcomes import metrics


def _random(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    t = np.round(rng.exponential(10 * np.exp(-0.7 * risk)), 0) + 1  # rounded: tied times
    c = np.round(rng.uniform(1, 30, n), 0)
    return np.minimum(t, c), (t <= c).astype(int), np.round(risk, 1)  # tied risks too


def test_harrell_c_by_hand() -> None:
    time = np.array([2.0, 4.0, 4.0, 6.0])
    event = np.array([1, 1, 0, 0])
    risk = np.array([0.9, 0.5, 0.7, 0.5])
    # comparable: (0,1) (0,2) (0,3) concordant; (1,2) tied time, 2 censored: discordant;
    # (1,3) tied risk: 1/2  ->  3.5 / 5
    assert metrics.harrell_c(time, event, risk) == pytest.approx(0.7)
    assert metrics.harrell_c(time, event, -risk) == pytest.approx(0.3)


@pytest.mark.parametrize("seed", [0, 1])
def test_harrell_c_matches_sksurv_and_lifelines(seed: int) -> None:
    time, event, risk = _random(300, seed)
    ours = metrics.harrell_c(time, event, risk)
    assert ours == pytest.approx(concordance_index_censored(event.astype(bool), time, risk)[0])
    assert ours == pytest.approx(concordance_index(time, -risk, event))


def test_censoring_km_by_hand() -> None:
    g = metrics.CensoringKM(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 0]))
    np.testing.assert_allclose(g(np.array([0.5, 1.0, 2.0, 3.5, 4.0])), [1, 1, 2 / 3, 2 / 3, 0])


@pytest.mark.parametrize("tau", [None, 15.0])
def test_uno_c_matches_sksurv(tau: float | None) -> None:
    tr_t, tr_e, _ = _random(400, 2)
    te_t, te_e, risk = _random(200, 3)
    keep = te_t < tr_t.max()  # sksurv needs test times inside the training follow-up
    te_t, te_e, risk = te_t[keep], te_e[keep], risk[keep]
    expected = concordance_index_ipcw(
        Surv.from_arrays(tr_e.astype(bool), tr_t),
        Surv.from_arrays(te_e.astype(bool), te_t),
        risk,
        tau=tau,
    )[0]
    assert metrics.uno_c(tr_t, tr_e, te_t, te_e, risk, tau=tau) == pytest.approx(expected)


def test_brier_by_hand_without_censoring() -> None:
    time = np.array([1.0, 2.0, 3.0, 4.0])
    event = np.ones(4, dtype=int)
    surv = np.array([[0.2], [0.6], [0.7], [0.9]])
    # at t = 2: patients 1-2 died (target 0), 3-4 alive (target 1); G = 1
    expected = np.mean([0.2**2, 0.6**2, 0.3**2, 0.1**2])
    got = metrics.brier_scores(time, event, time, event, surv, np.array([2.0]))
    np.testing.assert_allclose(got, [expected])


def test_brier_and_integrated_brier_match_sksurv() -> None:
    tr_t, tr_e, _ = _random(400, 4)
    te_t, te_e, risk = _random(200, 5)
    keep = te_t < tr_t.max()
    te_t, te_e, risk = te_t[keep], te_e[keep], risk[keep]
    times = np.linspace(np.percentile(te_t, 10), np.percentile(te_t, 80), 15)
    surv = np.exp(-np.outer(np.exp(risk), times) / 12.0)
    y_tr = Surv.from_arrays(tr_e.astype(bool), tr_t)
    y_te = Surv.from_arrays(te_e.astype(bool), te_t)
    _, expected = brier_score(y_tr, y_te, surv, times)
    ours = metrics.brier_scores(tr_t, tr_e, te_t, te_e, surv, times)
    np.testing.assert_allclose(ours, expected)
    assert metrics.integrated_brier_score(tr_t, tr_e, te_t, te_e, surv, times) == pytest.approx(
        integrated_brier_score(y_tr, y_te, surv, times)
    )


def test_kaplan_meier_matches_lifelines() -> None:
    time, event, _ = _random(150, 6)
    km = KaplanMeierFitter().fit(time, event)
    for at in (3.0, 7.5, 12.0):
        assert metrics.kaplan_meier(time, event, at) == pytest.approx(float(km.predict(at)))


def test_calibration_error_by_hand() -> None:
    # Group 1 (lowest predictions): 5 patients, 2 died before 5 -> KM 0.6, mean prediction 0.5.
    # Group 2: 5 patients, none died before 5 -> KM 1.0, mean prediction 0.9.
    time = np.array([1.0, 2.0, 6.0, 7.0, 8.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    event = np.array([1, 1, 1, 0, 1, 1, 0, 1, 0, 1])
    pred = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.9])
    got = metrics.calibration_error(time, event, pred, 5.0, groups=2, min_group=5)
    assert got == pytest.approx((5 * 0.1 + 5 * 0.1) / 10)
    perfect = np.array([0.6] * 5 + [1.0] * 5)
    got = metrics.calibration_error(time, event, perfect, 5.0, groups=2, min_group=5)
    assert got == pytest.approx(0.0)
    # with the default minimum group size of 50, ten patients form one group
    one_group = metrics.calibration_error(time, event, pred, 5.0)
    assert one_group == pytest.approx(abs(0.7 - metrics.kaplan_meier(time, event, 5.0)))


def test_undefined_metrics_raise() -> None:
    with pytest.raises(metrics.MetricError, match="no comparable pairs"):
        metrics.harrell_c(np.array([1.0, 2.0]), np.array([0, 0]), np.array([1.0, 2.0]))
    with pytest.raises(metrics.MetricError, match="within the test follow-up"):
        metrics.brier_scores(
            np.array([1.0, 2.0]),
            np.array([1, 0]),
            np.array([1.0, 2.0]),
            np.array([1, 0]),
            np.ones((2, 1)),
            np.array([5.0]),
        )
    with pytest.raises(metrics.MetricError, match="one value per patient"):
        metrics.harrell_c(np.array([1.0, 2.0]), np.array([1, 0]), np.array([1.0]))


def test_calibration_noise_by_hand() -> None:
    # one group; Kaplan–Meier at 3.5: S = 0.8 x 0.75 = 0.6, Greenwood sum 1/(5x4) + 1/(4x3)
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    event = np.array([1, 1, 0, 1, 0])
    se = np.sqrt(0.36 * (1 / 20 + 1 / 12))
    got = metrics.calibration_noise(time, event, np.full(5, 0.6), 3.5)
    assert got == pytest.approx(se * np.sqrt(2 / np.pi))  # 0.1748
    assert got == pytest.approx(0.174808, abs=1e-6)
