"""scripts/lesion_validation.py replaces only its own marked part of docs/validation.md
(hand-written documents), and its rendering states the dataset's scope."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lesion_validation", ROOT / "scripts" / "lesion_validation.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replaces_only_its_part() -> None:
    s = _script()
    doc = (
        "# Validation\nouter text\n"
        "<!-- begin screening-froc -->\nFROC\n<!-- end screening-froc -->\n"
        "<!-- begin lesion-models -->\nold figures\n<!-- end lesion-models -->\ntail text\n"
    )
    out = s.replace_section(doc, "new figures\n")
    assert out == (
        "# Validation\nouter text\n"
        "<!-- begin screening-froc -->\nFROC\n<!-- end screening-froc -->\n"
        "<!-- begin lesion-models -->\nnew figures\n<!-- end lesion-models -->\ntail text\n"
    )


def test_appends_when_absent_and_refuses_a_broken_marker() -> None:
    s = _script()
    assert s.replace_section("# Validation", "x") == (
        "# Validation\n\n<!-- begin lesion-models -->\nx\n<!-- end lesion-models -->\n"
    )
    with pytest.raises(ValueError, match="no matching"):
        s.replace_section("<!-- begin lesion-models -->\nhalf", "x")


def test_render_says_not_lung_ct() -> None:
    s = _script()
    metrics = {k: 0.5 for k in s.METRIC_NAMES}
    report = {
        "protocol": "p",
        "mean": metrics,
        "sd": metrics,
        "interval": {k: [0.4, 0.6] for k in s.METRIC_NAMES},
    }
    fp = {
        "report": {
            "auc": 0.97,
            "auc_spheres_vs_tubes": 0.99,
            "brier": 0.05,
            "sensitivity": 0.9,
            "specificity": 0.9,
            "false_positives_removed_at_95_sensitivity": 0.8,
        },
        "by_kind": {"nodule": 0.9},
        "train": 10,
        "epochs": 1,
        "seconds": 1.0,
    }
    text = s.render({"logistic": report, "xgboost": report}, fp, 2.0)
    assert "**not lung CT**" in text
    assert "goal AUC >= 0.98: logistic 0.500, NOT met" in text
    assert "| ROC AUC | 0.500 (0.500); 0.400 to 0.600 | 0.500 (0.500); 0.400 to 0.600 |" in text
