"""Per-prediction explanations against hand computations and each method's own identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xgboost as xgb
from sklearn.neighbors import NearestNeighbors
from torch import nn

from oncology.outcomes import simulate
from oncology.outcomes.compare import TreatmentComparison
from oncology.outcomes.explain import (
    OPTION_FEATURE,
    Explainer,
    ExplanationError,
    column_features,
    contributions,
)
from oncology.outcomes.models.neural import NeuralCoxModel


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    frame = simulate.simulate_cohort(n=900, seed=3).frame
    frame.insert(0, "research_id", [f"R{i:04d}" for i in range(len(frame))])
    return frame


def _specs():
    return simulate.feature_specs()


@pytest.fixture(scope="module")
def cox(cohort) -> TreatmentComparison:
    return TreatmentComparison(_specs(), "treatment").fit(cohort)


@pytest.fixture(scope="module")
def patient() -> pd.DataFrame:
    p = simulate.simulate_cohort(n=5, seed=11).covariates.iloc[[0]].copy()
    p[["age", "stage", "ecog"]] = [78.0, "IV", 2]
    return p


def test_cox_contributions_are_beta_times_centred_value(cox, cohort, patient) -> None:
    option = "surgery"
    exp = Explainer(cox, id_col="research_id").explain(patient, option)
    # hand computation from lifelines' coefficients on the interaction design
    params = cox.pooled_.fitter_.params_.to_numpy()
    if cox.pooled_.basis is not None:  # component penalty: lifelines fitted X @ basis
        params = cox.pooled_.basis @ params
    enc = cox.encoder_
    x_train, x = enc.transform(cohort), enc.transform(patient)
    code = cox.options_.index(option)
    design_p = cox._design(x, np.array([code]))[0]
    design_t = cox._design(x_train, np.full(len(x_train), code))
    by_column = params * (design_p - design_t.mean(axis=0))
    cols = enc.columns_
    d = len(cols)
    k = len(cox.options_)
    age = cols.index("age")
    age_cols = [age] + [d + (k - 1) + j * d + age for j in range(k - 1)]
    assert exp.contributions["age"] == pytest.approx(by_column[age_cols].sum(), abs=1e-12)
    stage_cols = [i for i, c in enumerate(cols) if c.startswith("stage=")]
    stage_all = stage_cols + [d + (k - 1) + j * d + i for j in range(k - 1) for i in stage_cols]
    assert exp.contributions["stage"] == pytest.approx(by_column[stage_all].sum(), abs=1e-12)
    # the option is the same for patient and background: no contribution
    assert OPTION_FEATURE not in exp.contributions or exp.contributions[OPTION_FEATURE] == 0
    assert exp.base + sum(exp.contributions.values()) == pytest.approx(exp.risk, abs=1e-10)
    assert exp.risk == pytest.approx(float(design_p @ params), abs=1e-10)
    assert abs(exp.residual) < 1e-10


def test_drivers_name_the_largest_effects_in_words(cox, patient) -> None:
    exp = Explainer(cox).explain(patient, "surgery", top=3)
    assert len(exp.drivers) == 3
    ranked = sorted(exp.contributions, key=lambda f: -abs(exp.contributions[f]))
    assert exp.drivers[0].startswith(ranked[0]) or ranked[0] in exp.drivers[0]
    stage = next(d for d in exp.drivers if d.startswith("stage"))  # stage IV dominates
    assert stage.startswith("stage = IV raises the predicted risk")
    ecog = [d for d in exp.drivers if " ecog " in d]
    if ecog:  # ECOG 2 against a training average near 1
        assert ecog[0].startswith("higher ecog (2, training average")


def test_xgboost_shap_sums_to_the_margin(cohort, patient) -> None:
    comp = TreatmentComparison(
        _specs(), "treatment", model_kind="xgb", model_params={"n_estimators": 60}
    ).fit(cohort)
    explainer = Explainer(comp)
    for option in ("surgery", "radiotherapy+chemotherapy"):
        exp = explainer.explain(patient, option)
        code = comp.options_.index(option)
        design = comp._design(comp.encoder_.transform(patient), np.array([code]))
        margin = comp.pooled_.booster_.predict(xgb.DMatrix(design), output_margin=True)[0]
        assert exp.risk == pytest.approx(float(margin), abs=1e-6)
        assert exp.base + sum(exp.contributions.values()) == pytest.approx(margin, abs=1e-4)
        assert set(exp.contributions) <= {s.name for s in _specs()} | {OPTION_FEATURE}


def test_integrated_gradients_equal_the_exact_answer_for_a_linear_network() -> None:
    model = NeuralCoxModel()
    net = nn.Sequential(nn.Linear(3, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight[:] = torch.tensor([[0.5, -2.0, 1.5]], dtype=torch.float64)
    model.net_ = net
    background = np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 0.0]])
    x = np.array([3.0, 0.0, 1.0])
    c = contributions(model, x, background, steps=16)
    mean = background.mean(axis=0)
    np.testing.assert_allclose(c.values, np.array([0.5, -2.0, 1.5]) * (x - mean), atol=1e-12)
    assert abs(c.residual) < 1e-12


def test_integrated_gradients_are_complete_for_the_trained_network(cohort, patient) -> None:
    comp = TreatmentComparison(
        _specs(), "treatment", model_kind="neural", model_params={"epochs": 30}
    ).fit(cohort)
    exp = Explainer(comp, steps=256).explain(patient, "chemotherapy")
    spread = abs(exp.risk - exp.base)
    assert abs(exp.residual) < 0.01 * max(spread, 0.1)
    assert exp.method.startswith("integrated gradients")


def test_per_option_models_are_explained_against_their_own_patients(cohort, patient) -> None:
    comp = TreatmentComparison(_specs(), "treatment", method="per_option").fit(cohort)
    exp = Explainer(comp).explain(patient, "surgery")
    model = comp.models_["surgery"]
    own = comp.encoder_.transform(cohort[cohort["treatment"] == "surgery"])
    x = comp.encoder_.transform(patient)[0]
    assert exp.base == pytest.approx(float(own.mean(axis=0) @ model.coef_), abs=1e-10)
    assert exp.base + sum(exp.contributions.values()) == pytest.approx(
        float(x @ model.coef_), abs=1e-10
    )


def test_similar_patients_match_a_nearest_neighbour_search(cox, cohort, patient) -> None:
    explainer = Explainer(cox, id_col="research_id")
    found = explainer.similar_patients(patient, k=5)
    x_train = cox.encoder_.transform(cohort)
    nn_search = NearestNeighbors(n_neighbors=5).fit(x_train)
    dist, idx = nn_search.kneighbors(cox.encoder_.transform(patient))
    assert [p.research_id for p in found] == [f"R{i:04d}" for i in idx[0]]
    np.testing.assert_allclose([p.distance for p in found], dist[0], rtol=1e-9)
    first = cohort.iloc[idx[0][0]]
    assert found[0].time == first["time"]
    assert found[0].event == bool(first["event"])
    assert found[0].option == first["treatment"]
    assert set(found[0].as_dict()) == {"research_id", "distance", "time", "event", "option"}


def test_bad_requests_are_rejected(cox, patient) -> None:
    explainer = Explainer(cox)
    with pytest.raises(ExplanationError):
        explainer.explain(patient, "magic")
    with pytest.raises(ExplanationError):
        explainer.similar_patients(patient, k=0)
    with pytest.raises(ExplanationError):
        Explainer(cox, id_col="no_such_column")
    with pytest.raises(ExplanationError):
        contributions(object(), np.zeros(3), np.zeros((2, 3)))
    assert len(column_features(cox.encoder_)) == len(cox.encoder_.columns_)
