"""Response/toxicity classifiers against scikit-learn and a simulated outcome with known
probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from oncology.outcomes.classifiers import (
    CalibratedClassifier,
    ClassifierError,
    LogisticClassifier,
    XGBClassifier,
    brier_score,
    calibration_slope_intercept,
    make_classifier,
    roc_auc,
)

TRUE_BETA = np.array([0.8, -0.5, 0.0, 1.2])
TRUE_INTERCEPT = -0.7


def _simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[:, 3] = (rng.random(n) < 0.4).astype(float)
    p = 1.0 / (1.0 + np.exp(-(TRUE_INTERCEPT + x @ TRUE_BETA)))
    y = (rng.random(n) < p).astype(float)
    return x, y, p


@pytest.fixture(scope="module")
def data():
    return _simulate(4000, 0), _simulate(4000, 1)


def test_logistic_matches_sklearn_unpenalised_and_ridge(data) -> None:
    (x, y, _), _ = data
    ours = LogisticClassifier().fit(x, y)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000).fit(x, y)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_, ref.coef_[0], atol=1e-5)
    assert ours.intercept_ == pytest.approx(ref.intercept_[0], abs=1e-5)
    # sklearn's C multiplies the summed log-loss: penalty 0.5/C * |b|^2 == 0.5 * l2 * |b|^2
    ridge = LogisticClassifier(l2=10.0).fit(x, y)
    ref_ridge = LogisticRegression(C=0.1, tol=1e-12, max_iter=1000).fit(x, y)
    np.testing.assert_allclose(ridge.coef_, ref_ridge.coef_[0], atol=1e-5)
    np.testing.assert_allclose(ridge.predict_proba(x), ref_ridge.predict_proba(x)[:, 1], atol=1e-6)


def test_logistic_recovers_the_true_model(data) -> None:
    (x, y, _), (x_new, y_new, p_new) = data
    model = LogisticClassifier().fit(x, y)
    np.testing.assert_allclose(model.coef_, TRUE_BETA, atol=0.15)
    pred = model.predict_proba(x_new)
    assert np.abs(pred - p_new).mean() < 0.03
    # as good as the true probabilities, to within sampling noise
    assert brier_score(y_new, pred) < brier_score(y_new, p_new) + 0.003
    slope, intercept = calibration_slope_intercept(y_new, pred)
    assert abs(slope - 1) < 0.1
    assert abs(intercept) < 0.1


def test_metrics_match_sklearn(data) -> None:
    _, (x_new, y_new, p_new) = data
    assert brier_score(y_new, p_new) == pytest.approx(brier_score_loss(y_new, p_new), abs=1e-12)
    assert roc_auc(y_new, p_new) == pytest.approx(roc_auc_score(y_new, p_new), abs=1e-12)
    rounded = np.round(p_new, 1)  # many ties
    assert roc_auc(y_new, rounded) == pytest.approx(roc_auc_score(y_new, rounded), abs=1e-12)


def test_xgboost_classifier_is_discriminating_and_calibration_helps(data) -> None:
    (x, y, _), (x_new, y_new, p_new) = data
    raw = XGBClassifier(n_estimators=150).fit(x, y)
    pred = raw.predict_proba(x_new)
    assert pred.shape == (len(x_new),)
    assert roc_auc(y_new, pred) > roc_auc(y_new, p_new) - 0.02
    calibrated = CalibratedClassifier(lambda: XGBClassifier(n_estimators=150)).fit(x, y)
    cal = calibrated.predict_proba(x_new)
    slope, intercept = calibration_slope_intercept(y_new, cal)
    assert abs(slope - 1) < 0.15
    assert abs(intercept) < 0.15
    assert brier_score(y_new, cal) < brier_score(y_new, p_new) + 0.01
    assert calibrated.kind == "calibrated xgb"


def test_calibration_repairs_a_miscalibrated_model(data) -> None:
    (x, y, _), (x_new, y_new, _) = data
    # a heavy ridge shrinks the slopes: probabilities too close to the base rate
    shrunk = LogisticClassifier(l2=3000.0).fit(x, y)
    slope_raw, _ = calibration_slope_intercept(y_new, shrunk.predict_proba(x_new))
    assert slope_raw > 1.5
    fixed = CalibratedClassifier(lambda: LogisticClassifier(l2=3000.0)).fit(x, y)
    slope_fixed, _ = calibration_slope_intercept(y_new, fixed.predict_proba(x_new))
    assert abs(slope_fixed - 1) < 0.15


def test_bad_input_is_rejected() -> None:
    x = np.zeros((10, 2))
    with pytest.raises(ClassifierError):
        LogisticClassifier().fit(x, np.zeros(10))  # one class
    with pytest.raises(ClassifierError):
        LogisticClassifier().fit(x, np.arange(10))  # not 0/1
    with pytest.raises(ClassifierError):
        make_classifier("forest")
    with pytest.raises(ClassifierError):
        brier_score(np.array([0, 1]), np.array([0.5, 1.5]))
    with pytest.raises(ClassifierError):
        roc_auc(np.array([1, 1]), np.array([0.2, 0.3]))
    assert isinstance(make_classifier("logistic"), LogisticClassifier)


def _response(cov, option: str) -> np.ndarray:
    """A known per-option response probability (chemotherapy helps marker-positive tumours)."""
    stage = cov["stage"].map({"I": 0, "II": 1, "III": 2, "IV": 3}).to_numpy()
    marker = cov["marker_positive"].to_numpy()
    chemo = "chemotherapy" in option
    logit_p = 0.3 - 0.4 * stage + (0.5 if "surgery" in option else 0.0)
    logit_p = logit_p + (1.5 * marker - 0.3 if chemo else 0.0)
    return 1.0 / (1.0 + np.exp(-logit_p))


def test_option_response_model_recovers_known_per_option_probabilities() -> None:
    from oncology.outcomes import simulate
    from oncology.outcomes.classifiers import OptionResponseModel

    frame = simulate.simulate_cohort(n=4000, seed=0).frame
    rng = np.random.default_rng(1)
    p_received = np.empty(len(frame))
    for option in simulate.OPTIONS:
        mask = (frame["treatment"] == option).to_numpy()
        p_received[mask] = _response(frame[mask], option)
    frame["response"] = (rng.random(len(frame)) < p_received).astype(int)
    model = OptionResponseModel(simulate.feature_specs(), "treatment", params={"l2": 1.0})
    model.fit(frame, "response")
    new = simulate.simulate_cohort(n=500, seed=42).covariates
    errors = []
    for option in simulate.OPTIONS:
        est = model.probability_matrix(new, option)
        truth = _response(new, option)
        errors.append(np.abs(est - truth).mean())
        assert abs(est.mean() - truth.mean()) < 0.05, option
    assert np.mean(errors) < 0.06
    one = model.predict(new.iloc[[0]])
    assert set(one) == set(simulate.OPTIONS)
    assert one["chemotherapy"] == pytest.approx(
        model.probability_matrix(new.iloc[[0]], "chemotherapy")[0]
    )
    with pytest.raises(ClassifierError):
        model.predict(new.iloc[:2])
    with pytest.raises(ClassifierError):
        OptionResponseModel(simulate.feature_specs(), "treatment", kind="forest")
