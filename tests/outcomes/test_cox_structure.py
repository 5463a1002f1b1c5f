"""Cox model options used by the validation and the treatment comparison: restricted cubic
splines and a structured (basis) ridge penalty; and the comparison's component penalty."""

from __future__ import annotations

import numpy as np
import pytest

from oncology.outcomes.compare import component_penalty, option_components
from oncology.outcomes.metrics import harrell_c
from oncology.outcomes.models.cox import CoxModel, rcs_basis


def test_rcs_basis_by_hand() -> None:
    # knots 0, 1, 2, 3; one term per inner knot (K - 2 = 2), divided by (3 - 0)^2:
    # term_j(v) = (v - t_j)+^3 - (v - 2)+^3 (3 - t_j) / (3 - 2) + (v - 3)+^3 (2 - t_j) / (3 - 2)
    knots = np.array([0.0, 1.0, 2.0, 3.0])
    v = np.array([-1.0, 0.5, 2.5, 4.0])
    got = rcs_basis(v, knots)
    first = [0.0, 0.125, 15.625 - 0.125 * 3, 64.0 - 8.0 * 3 + 1.0 * 2]
    second = [0.0, 0.0, 3.375 - 0.125 * 2, 27.0 - 8.0 * 2 + 1.0 * 1]
    np.testing.assert_allclose(got[:, 0], v)
    np.testing.assert_allclose(got[:, 1], np.array(first) / 9.0)
    np.testing.assert_allclose(got[:, 2], np.array(second) / 9.0)


def test_rcs_basis_is_linear_beyond_the_outer_knots() -> None:
    knots = np.array([10.0, 20.0, 35.0, 50.0])
    above = rcs_basis(np.array([60.0, 70.0, 80.0]), knots)
    below = rcs_basis(np.array([-5.0, 0.0, 5.0]), knots)
    for part in (above, below):
        np.testing.assert_allclose(np.diff(part, n=2, axis=0), 0.0, atol=1e-9)


def _u_shaped(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    lp = 0.8 * x[:, 0] ** 2 + 0.5 * x[:, 1]  # risk rises on both sides of 0 for column 0
    t = rng.exponential(np.exp(-lp))
    c = rng.exponential(2.0, n)
    return x, np.minimum(t, c), (t <= c).astype(int)


def test_splines_capture_a_u_shaped_effect_a_linear_term_misses() -> None:
    x, time, event = _u_shaped(800, 0)
    x_new, t_new, e_new = _u_shaped(800, 1)
    linear = CoxModel().fit(x, time, event)
    spline = CoxModel(splines=4).fit(x, time, event)
    assert set(spline.knots_) == {0, 1}
    c_linear = harrell_c(t_new, e_new, linear.risk(x_new))
    c_spline = harrell_c(t_new, e_new, spline.risk(x_new))
    assert c_spline > c_linear + 0.1
    surv = spline.predict_survival(x_new[:5], np.array([0.1, 0.5, 1.0]))
    assert (np.diff(surv, axis=1) <= 0).all()
    with pytest.raises(ValueError, match="knots"):
        CoxModel(splines=7)


def test_binary_and_one_hot_columns_stay_linear() -> None:
    x, time, event = _u_shaped(300, 2)
    x = np.column_stack([x, (x[:, 1] > 0).astype(float)])
    model = CoxModel(splines=3).fit(x, time, event)
    assert 2 not in model.knots_
    assert len(model.coef_) == 2 * 2 + 1  # each continuous column: itself + one spline term


def test_identity_basis_is_the_plain_model_and_coef_maps_back() -> None:
    x, time, event = _u_shaped(300, 3)
    plain = CoxModel(penalizer=0.05).fit(x, time, event)
    same = CoxModel(penalizer=np.array([0.05, 0.05]), basis=np.eye(2)).fit(x, time, event)
    np.testing.assert_allclose(same.coef_, plain.coef_, atol=1e-6)
    # basis [[1, 1], [0, 1]]: the fitted columns are x0 and x0 + x1; with no penalty the
    # coefficients in the original inputs are the plain model's
    basis = np.array([[1.0, 1.0], [0.0, 1.0]])
    unpenalised = CoxModel(penalizer=0.0).fit(x, time, event)
    mapped = CoxModel(penalizer=0.0, basis=basis).fit(x, time, event)
    np.testing.assert_allclose(mapped.coef_, unpenalised.coef_, atol=1e-5)
    np.testing.assert_allclose(mapped.risk(x), x @ unpenalised.coef_, atol=1e-5)
    with pytest.raises(ValueError, match="basis"):
        CoxModel(basis=np.eye(3)).fit(x, time, event)


def test_component_penalty_structure() -> None:
    options = ["chemotherapy", "radiotherapy", "radiotherapy+chemotherapy"]
    assert option_components(options) == [
        ["chemotherapy"],
        ["radiotherapy"],
        ["chemotherapy", "radiotherapy"],
    ]
    d = 2
    basis, penalizer = component_penalty(options, d)
    # rows: d covariates, 2 option indicators, 2 options x d products;
    # columns: d + 2 unchanged, then 2 components x d, then 2 deviations x d
    assert basis.shape == (d + 2 + 2 * d, d + 2 + 2 * d + 2 * d)
    assert len(penalizer) == basis.shape[1]
    np.testing.assert_array_equal(basis[: d + 2, : d + 2], np.eye(d + 2))
    products = basis[d + 2 :, d + 2 :]
    # components sorted: chemotherapy, radiotherapy; reference option = chemotherapy.
    # radiotherapy (row block 0): -chemo + radio + its deviation;
    # radiotherapy+chemotherapy (row block 1): radio + its deviation
    eye = np.eye(d)
    np.testing.assert_array_equal(products[:d], np.hstack([-eye, eye, eye, 0 * eye]))
    np.testing.assert_array_equal(products[d:], np.hstack([0 * eye, eye, 0 * eye, eye]))
    assert penalizer[-1] > penalizer[d + 2] > 0  # deviations shrunk harder than components


def test_a_component_every_option_shares_is_left_out_of_the_basis() -> None:
    # surgery is in both options: it never differs from the reference, so only radiotherapy
    # (and the option's own deviation) modify the covariate effects.
    options = ["surgery", "surgery+radiotherapy"]
    d = 3
    basis, penalizer = component_penalty(options, d)
    assert basis.shape == (d + 1 + d, d + 1 + d + d)  # one component block, one deviation
    assert len(penalizer) == basis.shape[1]
    products = basis[d + 1 :, d + 1 :]
    np.testing.assert_array_equal(products, np.hstack([np.eye(d), np.eye(d)]))


def test_a_comparison_of_options_sharing_a_component_fits() -> None:
    from oncology.outcomes.compare import TreatmentComparison
    from oncology.outcomes.simulate import feature_specs, simulate_cohort

    frame = simulate_cohort(4000, seed=1).frame
    frame = frame[frame["treatment"].isin(["surgery", "surgery+radiotherapy"])]
    assert frame["treatment"].value_counts().min() >= 30
    comparison = TreatmentComparison(feature_specs(), "treatment").fit(frame)
    estimates = comparison.compare(frame.head(1), 60.0)
    assert {e.option for e in estimates} == {"surgery", "surgery+radiotherapy"}
    assert all(0.0 < e.survival[-1] < 1.0 for e in estimates)
