"""Feature specification and encoder: fitted on training rows only, hand-checked encodings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncology.outcomes import simulate
from oncology.outcomes.features import FeatureEncoder, FeatureError, FeatureSpec, infer_specs


def _train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [40.0, 50.0, 60.0, np.nan],
            "stage": ["II", "I", "II", None],
            "marker": [1, 0, 1, 1],
        }
    )


SPECS = [
    FeatureSpec("age", "clinical", "numeric", "indicator"),
    FeatureSpec("stage", "clinical", "categorical", "category"),
    FeatureSpec("marker", "genomics", "binary", "mode"),
]


def test_encoding_by_hand() -> None:
    enc = FeatureEncoder(SPECS).fit(_train())
    assert enc.columns_ == ["age", "age__missing", "stage=I", "stage=missing", "marker"]
    # age: median of 40, 50, 60 = 50 fills the gap; filled values 40, 50, 60, 50
    mean = 50.0
    std = float(np.std([40.0, 50.0, 60.0, 50.0]))
    x = enc.transform(
        pd.DataFrame({"age": [70.0, None], "stage": ["I", None], "marker": [0, None]})
    )
    np.testing.assert_allclose(
        x,
        [
            [(70.0 - mean) / std, 0.0, 1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 1.0, 1.0],  # missing marker takes the training mode (1)
        ],
    )


def test_standardisation_uses_training_rows_only() -> None:
    enc = FeatureEncoder([FeatureSpec("age")]).fit(pd.DataFrame({"age": [1.0, 3.0]}))
    # A test frame with a different distribution is scaled with the TRAINING mean 2 and sd 1.
    got = enc.transform(pd.DataFrame({"age": [100.0, 102.0]}))
    np.testing.assert_allclose(got[:, 0], [98.0, 100.0])


def test_unseen_category_is_reported_and_encoded_as_reference() -> None:
    enc = FeatureEncoder(SPECS).fit(_train())
    test = pd.DataFrame({"age": [50.0], "stage": ["IV"], "marker": [1]})
    assert enc.unseen_levels(test) == {"stage": ["IV"]}
    np.testing.assert_allclose(enc.transform(test)[0, 2:4], [0.0, 0.0])


def test_reject_policy_and_bad_input_are_clear_errors() -> None:
    enc = FeatureEncoder([FeatureSpec("age", missing="reject")])
    with pytest.raises(FeatureError, match="age: missing values are not allowed"):
        enc.fit(pd.DataFrame({"age": [1.0, None]}))
    with pytest.raises(FeatureError, match="missing feature columns: age"):
        enc.fit(pd.DataFrame({"other": [1.0]}))
    with pytest.raises(FeatureError, match="expected numbers"):
        FeatureEncoder([FeatureSpec("age")]).fit(pd.DataFrame({"age": ["old"]}))
    with pytest.raises(FeatureError, match="binary feature takes 0 or 1"):
        FeatureEncoder([FeatureSpec("m", kind="binary", missing="mode")]).fit(
            pd.DataFrame({"m": [0, 2]})
        )
    with pytest.raises(FeatureError, match="not fitted"):
        FeatureEncoder([FeatureSpec("age")]).transform(pd.DataFrame({"age": [1.0]}))
    with pytest.raises(FeatureError, match="source must be one of"):
        FeatureSpec("x", source="imaging")  # type: ignore[arg-type]
    with pytest.raises(FeatureError, match="categorical features take"):
        FeatureSpec("x", kind="categorical", missing="median")


def test_infer_specs_types_columns() -> None:
    frame = pd.DataFrame(
        {"t": [1.0, 2.0], "e": [1, 0], "age": [50.0, None], "flag": [0, 1], "arm": ["a", "b"]}
    )
    specs = {s.name: (s.kind, s.missing) for s in infer_specs(frame, exclude=["t", "e"])}
    assert specs == {
        "age": ("numeric", "indicator"),
        "flag": ("binary", "mode"),
        "arm": ("categorical", "category"),
    }


def test_simulated_cohort_specs_encode_without_missing_values() -> None:
    cohort = simulate.simulate_cohort(n=50, seed=0)
    enc = FeatureEncoder(simulate.feature_specs())
    x = enc.fit_transform(cohort.frame)
    assert x.shape == (50, len(enc.columns_))
    assert np.isfinite(x).all()
    assert {s.source for s in enc.specs} == {"clinical", "radiomics", "genomics"}


def test_log1p_transform_for_skewed_counts() -> None:
    nodes = [0.0] * 20 + [1.0, 2.0, 3.0, 40.0]
    specs = infer_specs(pd.DataFrame({"nodes": nodes, "age": np.linspace(30, 80, 24)}))
    assert [(s.name, s.transform) for s in specs] == [("nodes", "log1p"), ("age", "none")]
    enc = FeatureEncoder([FeatureSpec("n", transform="log1p")])
    enc.fit(pd.DataFrame({"n": [0.0, np.e - 1.0]}))  # log1p -> 0 and 1: mean 0.5, sd 0.5
    got = enc.transform(pd.DataFrame({"n": [np.e**2 - 1.0]}))
    np.testing.assert_allclose(got[:, 0], [(2.0 - 0.5) / 0.5])
    with pytest.raises(FeatureError, match="log1p needs non-negative"):
        enc.transform(pd.DataFrame({"n": [-3.0]}))
    with pytest.raises(FeatureError, match="numeric features only"):
        FeatureSpec("m", kind="binary", missing="mode", transform="log1p")
