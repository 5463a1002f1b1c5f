"""The benign/malignant classifier on the Wisconsin diagnostic breast data that scikit-learn
ships. Published figures for this dataset: logistic regression ROC AUC about 0.99 and accuracy
about 0.95-0.97 under cross-validation (e.g. Street et al. 1993 report 97 % accuracy with a
linear classifier), so AUC >= 0.98 is the bar. Metrics are checked on hand-computed cases and
against scikit-learn; contributions against the model's own logit via scikit-learn/xgboost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from imaging.lesions import malignancy as m
from imaging.lesions import table as t


@pytest.fixture(scope="module")
def wisconsin() -> t.LesionTable:
    return t.wisconsin()


def test_wisconsin_table(wisconsin: t.LesionTable) -> None:
    assert wisconsin.features.shape == (569, 30)
    assert int(wisconsin.labels.sum()) == 212  # malignant, recoded from sklearn's 0
    assert "mean_radius" in wisconsin.feature_names
    # malignant masses are larger: the recoding points the right way
    radius = wisconsin.features["mean_radius"].to_numpy()
    assert radius[wisconsin.labels == 1].mean() > radius[wisconsin.labels == 0].mean() + 3


def test_logistic_validation_matches_published_figures(wisconsin: t.LesionTable) -> None:
    report = m.validate(wisconsin, "logistic", splits=5, seed=0, bootstrap=50)
    mean = report["mean"]
    assert mean["auc"] >= 0.98
    assert mean["brier"] <= 0.05
    assert mean["sensitivity"] >= 0.9
    assert mean["specificity"] >= 0.95
    assert mean["calibration_error"] <= 0.08
    low, high = report["interval"]["auc"]
    assert low <= mean["auc"] <= high
    assert len(report["splits"]) == 5
    # every split's test set: 20 % of each class (42 malignant + 71 benign)
    assert sum(r["n"] for r in report["calibration"]) == 5 * (42 + 71)


def test_xgboost_validation(wisconsin: t.LesionTable) -> None:
    report = m.validate(wisconsin, "xgboost", splits=5, seed=0, bootstrap=20)
    assert report["mean"]["auc"] >= 0.97
    assert report["mean"]["brier"] <= 0.06


def test_metrics_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.95, 0.35, 0.55, 0.15, 0.05])
    r = m.binary_metrics(y, p, 0.5)
    assert r["auc"] == pytest.approx(5 / 6)
    assert r["brier"] == pytest.approx(brier_score_loss(y, p))
    assert r["sensitivity"] == 0.5
    assert r["specificity"] == pytest.approx(2 / 3)
    # bins: 0.0-0.1 {0.05:0}, 0.1-0.2 {0.15:0}, 0.3-0.4 {0.35:1}, 0.5-0.6 {0.55:0},
    # 0.9-1.0 {0.95:1}: (0.05 + 0.15 + 0.65 + 0.55 + 0.05) / 5 = 0.29
    assert r["calibration_error"] == pytest.approx(0.29)


def test_contributions_add_up_to_the_logit(wisconsin: t.LesionTable) -> None:
    for algorithm in ("logistic", "xgboost"):
        model = m.train(wisconsin, algorithm, replicates=0)
        row = wisconsin.features.iloc[7].to_dict()
        assert model.main_ is not None
        x = model._matrix(row)
        contrib, base = model.main_.contributions(x)
        p = model.predict_proba(row)[0]
        assert contrib.sum() + base == pytest.approx(np.log(p / (1 - p)), abs=1e-3)


def test_explain_one_lesion(wisconsin: t.LesionTable) -> None:
    model = m.train(wisconsin, "logistic", replicates=20)
    benign = wisconsin.features[wisconsin.labels == 0].iloc[0].to_dict()
    out = model.explain(benign)
    assert out["call"] == "benign"
    assert out["probability"] < 0.5
    low, high = out["interval"]
    assert low <= high
    assert 0.0 <= low
    assert high <= 1.0
    assert len(out["drivers"]) == 5
    assert out["warnings"] == []
    huge = {**benign, "mean_radius": 1000.0}
    assert "outside the training range: mean_radius" in model.explain(huge)["warnings"][0]
    with pytest.raises(m.MalignancyError, match="missing: mean_texture"):
        model.explain({k: v for k, v in benign.items() if k != "mean_texture"})
    with pytest.raises(m.MalignancyError, match="not finite numbers: mean_area"):
        model.explain({**benign, "mean_area": "large"})
    with pytest.raises(m.MalignancyError, match="unknown algorithm"):
        m.train(wisconsin, "forest")
    with pytest.raises(m.MalignancyError, match="threshold"):
        m.train(wisconsin, "logistic", threshold=1.0)


def test_auc_agrees_with_sklearn_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = rng.random(200)
    assert m.binary_metrics(y, p, 0.5)["auc"] == pytest.approx(roc_auc_score(y, p))


def _csv(n_malignant: int = 12, n_benign: int = 15) -> str:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "research_id": [f"R{i}" for i in range(n_malignant + n_benign)],
            "diagnosis": ["M"] * n_malignant + ["B"] * n_benign,
            "diameter_mm": np.r_[rng.normal(20, 3, n_malignant), rng.normal(8, 2, n_benign)],
            "mean_hu": rng.normal(30, 10, n_malignant + n_benign),
        }
    )
    return frame.to_csv(index=False)


def test_site_csv_table() -> None:
    table = t.from_csv(_csv(), label="diagnosis")
    assert table.feature_names == ["diameter_mm", "mean_hu"]  # research_id ignored
    assert table.labels.tolist() == [1] * 12 + [0] * 15
    model = m.train(table, "logistic", replicates=0)
    assert model.predict_proba({"diameter_mm": 25.0, "mean_hu": 30.0})[0] > 0.9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_csv().replace("diagnosis", "dx"), "no label column 'diagnosis'"),
        (_csv().replace(",M,", ",maybe,", 1), "values other than"),
        (_csv(5, 15), "at least 10 malignant and 10 benign"),
        (_csv().replace(",B,", ",B,,", 0).replace("\nR3,M,", "\nR3,M,x"), "non-numeric"),
        ("", "not a readable CSV"),
    ],
)
def test_bad_site_csv_is_named(text: str, message: str) -> None:
    with pytest.raises(t.TableError, match=message):
        t.from_csv(text, label="diagnosis")
