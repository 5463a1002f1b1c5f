"""The validation protocol and the researchers' command-line tool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncology.outcomes import simulate
from oncology.outcomes.__main__ import main
from oncology.outcomes.evaluate import (
    EvaluationError,
    evaluate,
    median_follow_up,
    stratified_splits,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cohort_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = simulate.simulate_cohort(n=400, seed=11).frame
    frame.loc[::17, "tumour_size_mm"] = np.nan  # missing values are imputed automatically
    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    frame.to_csv(path, index=False)
    return path


def test_stratified_splits_keep_each_stratum_share() -> None:
    strata = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    splits = stratified_splits(strata, n_splits=3, seed=4)
    assert len(splits) == 3
    for train, test in splits:
        assert len(test) == 20
        assert set(train).isdisjoint(test)
        assert len(train) + len(test) == 100
        assert {k: int((strata[test] == k).sum()) for k in "abc"} == {"a": 10, "b": 6, "c": 4}
    assert not np.array_equal(splits[0][1], splits[1][1])
    again = stratified_splits(strata, n_splits=3, seed=4)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))


def test_median_follow_up_by_hand() -> None:
    # censoring KM: t=1 event -> 1; t=2 four at risk, one censored -> 0.75; t=3 event;
    # t=4 two at risk, one censored -> 0.375 <= 0.5, so the median follow-up is 4
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    event = np.array([1, 0, 1, 0, 0])
    assert median_follow_up(time, event) == 4.0


def test_evaluate_reports_each_split_and_their_mean(cohort_csv: Path) -> None:
    frame = pd.read_csv(cohort_csv)
    result = evaluate(frame, "time", "event", ["treatment"], "cox", n_splits=2, horizon=24.0)
    assert result["patients"] == 400
    assert result["horizon"] == 24.0
    assert [s["split"] for s in result["splits"]] == [0, 1]
    for name in ("harrell_c", "uno_c", "integrated_brier", "calibration_error"):
        values = [s[name] for s in result["splits"]]
        assert result["mean"][name] == pytest.approx(np.mean(values))
    assert 0.6 < result["mean"]["harrell_c"] <= 1.0
    assert 0.0 < result["mean"]["integrated_brier"] < 0.25
    names = {f["name"] for f in result["features"]}
    assert names == set(frame.columns) - {"time", "event"}


def test_evaluate_refuses_bad_cohorts() -> None:
    frame = simulate.simulate_cohort(n=60, seed=1).frame
    with pytest.raises(EvaluationError, match="column 'days' is not in the cohort"):
        evaluate(frame, "days", "event")
    bad = frame.assign(event=frame["event"] * 2)
    with pytest.raises(EvaluationError, match="0 \\(censored\\) or 1"):
        evaluate(bad, "time", "event")
    with pytest.raises(EvaluationError, match="non-negative"):
        evaluate(frame.assign(time=-frame["time"]), "time", "event")
    with pytest.raises(EvaluationError, match="unknown model"):
        evaluate(frame, "time", "event", model_kind="svm")
    with pytest.raises(EvaluationError, match="at least 20 patients"):
        evaluate(frame.head(10), "time", "event")


def test_cli_prints_json(cohort_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", str(cohort_csv), "--time", "time", "--event", "event"]
    code = main([*argv, "--treatment", "treatment", "--model", "xgb", "--splits", "2"])
    out = capsys.readouterr()
    assert code == 0
    result = json.loads(out.out)
    assert result["model"] == "xgb"
    assert len(result["splits"]) == 2
    assert result["horizon_source"].startswith("median follow-up")
    assert result["mean"]["harrell_c"] > 0.6


def test_cli_splines_reach_the_cox_model(cohort_csv: Path, capsys) -> None:
    argv = ["evaluate", str(cohort_csv), "--time", "time", "--event", "event", "--splits", "1"]
    assert main([*argv, "--splines", "4"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model_params"] == {"splines": 4}
    plain = evaluate(pd.read_csv(cohort_csv), "time", "event", n_splits=1)
    # the simulated log hazard is linear in every column: splines change the fit, not much C
    assert result["splits"][0]["harrell_c"] != plain["splits"][0]["harrell_c"]
    assert abs(result["mean"]["harrell_c"] - plain["mean"]["harrell_c"]) < 0.02
    assert main([*argv, "--model", "xgb", "--splines", "4"]) == 2
    assert "cox only" in capsys.readouterr().err


def test_cli_bad_column_is_one_clear_line(cohort_csv: Path, capsys) -> None:
    code = main(["evaluate", str(cohort_csv), "--time", "months", "--event", "event"])
    out = capsys.readouterr()
    assert code == 2
    assert out.out == ""
    assert out.err.strip() == "error: column 'months' is not in the cohort"
    code = main(["evaluate", "/nonexistent.csv", "--time", "t", "--event", "e"])
    assert code == 2
    assert "cannot read /nonexistent.csv" in capsys.readouterr().err


def test_python_dash_m_entry_point(cohort_csv: Path) -> None:
    proc = subprocess.run(  # noqa: S603 (fixed argv)
        [
            sys.executable,
            "-m",
            "oncology.outcomes",
            "evaluate",
            str(cohort_csv),
            "--time",
            "time",
            "--event",
            "event",
            "--splits",
            "1",
            "--horizon",
            "12",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["horizon"] == 12.0


def test_km_reference_curve_matches_lifelines() -> None:
    from lifelines import KaplanMeierFitter

    from oncology.outcomes.evaluate import _km_curve

    frame = simulate.simulate_cohort(n=300, seed=5).frame
    grid = np.linspace(0.0, 80.0, 41)
    km = KaplanMeierFitter().fit(frame["time"], frame["event"])
    expected = km.survival_function_at_times(grid).to_numpy()
    np.testing.assert_allclose(_km_curve(frame["time"], frame["event"], grid), expected)


def test_evaluate_reports_the_kaplan_meier_reference_brier(cohort_csv: Path) -> None:
    frame = pd.read_csv(cohort_csv)
    result = evaluate(frame, "time", "event", ["treatment"], "cox", n_splits=1, horizon=24.0)
    split = result["splits"][0]
    # the covariates carry information: the model beats the covariate-free reference
    assert split["integrated_brier"] < split["integrated_brier_km"] < 0.25


def test_cli_runs_the_tuned_model_and_reports_calibration_noise(cohort_csv: Path, capsys) -> None:
    argv = ["evaluate", str(cohort_csv), "--time", "time", "--event", "event", "--splits", "1"]
    assert main([*argv, "--model", "cox_tuned"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "cox_tuned"
    split = result["splits"][0]
    assert split["harrell_c"] > 0.6
    # 80 test patients, one group: the Greenwood noise of one Kaplan–Meier S(h) is several %
    assert 0.02 < split["calibration_noise"] < 0.1
