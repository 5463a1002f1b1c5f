"""The false-positive CNN on seeded synthetic patches (imaging.lesions.synthetic): trained on
one seed's patches, it must separate nodules (spheres) from vessels (tubes), walls and noise on
patches of OTHER seeds; training is deterministic; the stored form round-trips; bad input is
named."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from imaging.lesions import fp_cnn
from imaging.lesions.synthetic import synthetic_patches


@pytest.fixture(scope="module")
def trained() -> fp_cnn.FpNetwork:
    train = synthetic_patches(240, seed=1)
    return fp_cnn.train_fp_network(train.patches, train.labels, seed=0, epochs=15)


def test_separates_spheres_from_tubes_on_held_out_seeds(trained: fp_cnn.FpNetwork) -> None:
    held = synthetic_patches(160, seed=2)
    p = trained.predict(held.patches)
    kinds = np.array(held.kinds)
    # all candidates: nodules against every false-positive kind
    assert roc_auc_score(held.labels, p) >= 0.95
    # spheres against tubes (vessels and branchings) only
    keep = np.isin(kinds, ["nodule", "vessel", "branch"])
    assert roc_auc_score(held.labels[keep], p[keep]) >= 0.95
    report = fp_cnn.classification_report(held.labels, p)
    assert report["auc"] == pytest.approx(roc_auc_score(held.labels, p), abs=1e-4)
    assert report["nodules"] + report["false_positives"] == 160


def test_stored_form_round_trips(trained: fp_cnn.FpNetwork) -> None:
    held = synthetic_patches(12, seed=3)
    again = fp_cnn.FpNetwork.from_bytes(trained.to_bytes())
    np.testing.assert_array_equal(again.predict(held.patches), trained.predict(held.patches))
    assert again.geometry == trained.geometry
    assert again.epochs == 15


def test_training_is_deterministic_for_a_seed() -> None:
    data = synthetic_patches(48, seed=4)
    a = fp_cnn.train_fp_network(data.patches, data.labels, seed=7, epochs=1, min_per_class=5)
    b = fp_cnn.train_fp_network(data.patches, data.labels, seed=7, epochs=1, min_per_class=5)
    c = fp_cnn.train_fp_network(data.patches, data.labels, seed=8, epochs=1, min_per_class=5)
    assert all(torch_equal(a.state[k], b.state[k]) for k in a.state)
    assert not all(torch_equal(a.state[k], c.state[k]) for k in a.state)


def torch_equal(x: object, y: object) -> bool:
    return bool((x == y).all())  # type: ignore[operator, union-attr]


def test_classification_report_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    r = fp_cnn.classification_report(y, p, threshold=0.5)
    # pairs (pos, neg) ranked correctly: 0.9 beats all 3, 0.4 beats 0.2 and 0.1 -> 5/6
    assert r["auc"] == pytest.approx(5 / 6, abs=1e-4)
    # Brier: (0.01 + 0.36 + 0.36 + 0.04 + 0.01) / 5 = 0.156
    assert r["brier"] == pytest.approx(0.156, abs=1e-4)
    assert r["sensitivity"] == 0.5
    assert r["specificity"] == pytest.approx(2 / 3, abs=1e-4)
    # keeping 95 % of 2 nodules keeps both: cut-off 0.4; negatives below it: 0.2 and 0.1
    assert r["cutoff_at_95_sensitivity"] == 0.4
    assert r["false_positives_removed_at_95_sensitivity"] == pytest.approx(2 / 3, abs=1e-4)


def test_bad_input_is_named() -> None:
    data = synthetic_patches(10, seed=5)
    with pytest.raises(fp_cnn.FpModelError, match="at least 20 nodules"):
        fp_cnn.train_fp_network(data.patches, data.labels)
    with pytest.raises(fp_cnn.FpModelError, match="one label per patch"):
        fp_cnn.train_fp_network(data.patches, data.labels[:-1], min_per_class=1)
    with pytest.raises(fp_cnn.FpModelError, match="labels must be 1"):
        fp_cnn.train_fp_network(data.patches, np.full(10, 2), min_per_class=1)
    with pytest.raises(fp_cnn.FpModelError, match="shape"):
        fp_cnn.train_fp_network(data.patches[:, :16], data.labels, min_per_class=1)
    bad = data.patches.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(fp_cnn.FpModelError, match="finite"):
        fp_cnn.train_fp_network(bad, data.labels, min_per_class=1)
    with pytest.raises(fp_cnn.FpModelError, match="cannot be read"):
        fp_cnn.FpNetwork.from_bytes(b"not a network")
