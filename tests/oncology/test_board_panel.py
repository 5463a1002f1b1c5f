"""The board's outcomes panel: a real tiny model's prediction as the board reads it."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.template.loader import render_to_string

from oncology.board_panel import NOT_ESTIMATED, PALETTE, outcomes_panel_context
from oncology.models import Comorbidity, OutcomeModel, PerformanceStatus, Prediction
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from oncology.services.outcome_predictions import prediction_create
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _demo_like(world: World) -> None:
    # 60 at a stage IB diagnosis, ECOG 1, one Charlson point: inside the simulated cohort.
    PerformanceStatus.objects.create(patient=world.patient, assessed_on=dt.date(2021, 3, 1), ecog=1)
    Comorbidity.objects.create(patient=world.patient, condition="diabetes_uncomplicated")


def _predict(world: World, *, bands: bool = True, replicates: int = 10) -> Prediction:
    # 800 simulated patients: the smallest seed-0 cohort with >= 30 patients in every option.
    model = outcome_model_train(
        source="simulated",
        kind="cox",
        name="panel-cox",
        patients=800,
        splits=1,
        band_replicates=replicates,
    )
    outcome_model_set_status(model=model, status="validated")
    outcome_model_set_status(model=model, status="active")
    _demo_like(world)
    return prediction_create(
        user=world.member, patient_public_id=world.patient.public_id, bands=bands
    )


def _percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


def _html(panel: dict[str, Any]) -> str:
    return render_to_string("oncology/board/_outcomes_panel.html", {"panel": panel})


def _interval_expected(bands: dict[str, Any], option: dict[str, Any], label: str, at: float):
    """Where the output holds survival intervals (``survival_at``) those; otherwise the curve's
    band at that time (the grid is monthly)."""
    stored = bands.get("survival_at", {}).get(option["option"], {}).get(label)
    if stored:
        return tuple(stored)
    i = option["times"].index(at)
    return bands["lower"][option["option"]][i], bands["upper"][option["option"]][i]


def test_the_table_shows_the_predictions_own_numbers_with_their_intervals(world: World) -> None:
    prediction = _predict(world)
    out = prediction.output
    panel = outcomes_panel_context(prediction=prediction, user=world.member)
    assert panel["state"] == "ready"
    assert [r.key for r in panel["options"]] == [o["option"] for o in out["options"]]
    bands = out["bands"]
    assert bands["status"] == "done"
    judged = [o for o in out["options"] if o.get("applicable", True)]
    assert len(judged) >= 2
    rows = {r.key: r for r in panel["options"]}
    for option in judged:
        row = rows[option["option"]]
        for metric, label, month in (
            ("survival_1y", "1y", 12.0),
            ("survival_2y", "2y", 24.0),
            ("survival_5y", "5y", 60.0),
        ):
            cell = row.estimates[metric]
            assert cell.value == option[metric]
            assert abs(_percent(cell.text) - option[metric]) <= 0.005  # shown to a whole percent
            assert (cell.lower, cell.upper) == _interval_expected(bands, option, label, month)
            assert cell.interval == f"{100 * cell.lower:.0f}% to {100 * cell.upper:.0f}%"
        assert row.rmst.value == pytest.approx(option["rmst"])  # months already
        assert row.rmst.text == f"{option['rmst']:.1f}"
        lo, hi = bands["rmst"][row.key]
        assert row.rmst.interval == f"{lo:.1f} to {hi:.1f}"
        response = option.get("response")
        if response:
            assert row.response.text == f"{100 * response['probability']:.0f}%"
            assert row.response_definition == response["definition"]
        else:
            assert row.response.text == NOT_ESTIMATED
        assert row.drivers == option["explanation"]["drivers"]
    # Differences from the first option the model can judge, with the bands' intervals.
    first, second = rows[judged[0]["option"]], rows[judged[1]["option"]]
    assert panel["reference"] == first.key
    diff = second.differences["rmst"]
    assert diff.value == pytest.approx(second.rmst.value - first.rmst.value)
    pair = next(
        d for d in bands["rmst_difference"] if {d["option"], d["versus"]} == {first.key, second.key}
    )
    sign = 1 if pair["option"] == second.key else -1
    expected = sorted([sign * pair["lower"], sign * pair["upper"]])
    assert (diff.lower, diff.upper) == pytest.approx(tuple(expected))
    survival_pairs = [
        d
        for d in bands.get("survival_difference", [])
        if (d["option"], d["versus"]) == (second.key, first.key)
    ]
    if survival_pairs:
        lo5, hi5 = survival_pairs[0]["5y"]
        assert (
            second.differences["survival_5y"].lower,
            second.differences["survival_5y"].upper,
        ) == (
            pytest.approx(lo5),
            pytest.approx(hi5),
        )
    else:  # no interval for survival differences in this output: said, not hidden
        assert second.differences["survival_5y"].interval == NOT_ESTIMATED
    html = _html(panel)
    assert first.survival_5y.text in html
    assert first.survival_5y.interval in html
    assert "What does restricted mean survival to 5 years mean?" in html
    assert "Associational evidence, not an instruction" in html
    assert f"/outcome-models/{prediction.model.name}/{prediction.model.version}/" in html


def test_the_figure_has_one_curve_and_one_band_per_option_in_years(world: World) -> None:
    prediction = _predict(world)
    panel = outcomes_panel_context(prediction=prediction, user=world.member)
    figure = panel["figure"]
    json.dumps(figure)  # plain JSON
    curves = [t for t in figure["data"] if t["meta"]["role"] == "curve"]
    bands = [t for t in figure["data"] if t["meta"]["role"] == "band"]
    options = [o for o in prediction.output["options"] if o.get("applicable", True)]
    assert [c["name"] for c in curves] == [o["option"] for o in options]
    assert len(bands) == 2 * len(options)
    assert curves[0]["x"][-1] == 5.0  # 60 months
    assert curves[0]["y"] == options[0]["survival"]
    assert {c["line"]["color"] for c in curves} <= set(PALETTE)
    assert len({c["line"]["dash"] for c in curves}) == len(curves)  # apart without colour


def test_the_reference_option_is_chosen_server_side(world: World) -> None:
    prediction = _predict(world, replicates=0, bands=False)
    options = [o for o in prediction.output["options"] if o.get("applicable", True)]
    ref = options[2]["option"]
    panel = outcomes_panel_context(prediction=prediction, user=world.member, reference=ref)
    assert panel["reference"] == ref
    rows = {r.key: r for r in panel["options"]}
    assert rows[ref].differences["survival_5y"].value is None  # the reference itself
    other = options[0]
    expected = other["survival_5y"] - options[2]["survival_5y"]
    assert rows[other["option"]].differences["survival_5y"].value == pytest.approx(expected)
    assert rows[other["option"]].differences["survival_5y"].text == f"{100 * expected:+.1f} pts"
    # The script switches references from the same pre-formatted text.
    script = panel["script_data"]["differences"]
    assert script[ref][other["option"]]["survival_5y"][0] == f"{100 * expected:+.1f} pts"
    # An unknown reference falls back to the first option the model can judge.
    fallback = outcomes_panel_context(prediction=prediction, user=world.member, reference="x")
    assert fallback["reference"] == options[0]["option"]
    # Bands not requested: said above the table, every interval "not estimated".
    assert panel["bands"]["status"] == "absent"
    assert rows[ref].survival_1y.interval == NOT_ESTIMATED
    html = _html(panel)
    assert f'<option value="{ref}" selected>' in html
    assert "point estimates only" in html
    assert f"Each option minus <span data-reference-name>{ref}</span>" in html


def test_an_abstained_prediction_shows_why_and_no_numbers(world: World) -> None:
    world.patient.birth_date = dt.date(1891, 1, 1)  # 130 at diagnosis; trained on 30-90
    world.patient.save()
    prediction = _predict(world)
    assert prediction.output["abstained"] is True
    panel = outcomes_panel_context(prediction=prediction, user=world.member)
    assert panel["state"] == "abstained"
    assert "outside the applicability domain" in panel["abstain_reason"]
    html = _html(panel)
    assert "No estimate for this patient" in html
    assert "No survival or response numbers are shown" in html
    assert "outcomes-figure-data" not in html
    assert not re.search(r"\d+%", html.split("The model</h3>")[0])  # no percentages


def test_options_the_model_cannot_judge_stay_in_the_table_greyed_and_undrawn(
    world: World,
) -> None:
    prediction = _predict(world)
    # The output shape the service adds for per-option applicability, response and survival
    # intervals (docs/outcomes-panel.md): set on a copy of this real prediction's output.
    output = copy.deepcopy(prediction.output)
    judged, unjudged = output["options"][0], output["options"][1]
    unjudged["applicable"] = False
    unjudged["not_applicable_reason"] = "Too few training patients like this one had surgery."
    judged["applicable"] = True
    judged["response"] = {
        "probability": 0.42,
        "lower": 0.31,
        "upper": 0.55,
        "definition": "complete or partial response (RECIST 1.1)",
    }
    output["bands"]["survival_at"] = {judged["option"]: {"1y": [0.9, 0.95], "5y": [0.6, 0.7]}}
    prediction.output = output
    panel = outcomes_panel_context(prediction=prediction, user=world.member)
    rows = {r.key: r for r in panel["options"]}
    assert rows[unjudged["option"]].applicable is False
    assert [r.key for r in panel["not_drawn"]] == [unjudged["option"]]
    curves = [t["name"] for t in panel["figure"]["data"] if t["meta"]["role"] == "curve"]
    assert unjudged["option"] not in curves
    assert judged["option"] in curves
    assert unjudged["option"] not in {t["meta"]["option"] for t in panel["figure"]["data"]}
    row = rows[judged["option"]]
    assert (row.response.text, row.response.interval) == ("42%", "31% to 55%")
    assert row.response_definition == "complete or partial response (RECIST 1.1)"
    assert row.survival_1y.interval == "90% to 95%"  # from survival_at, not the curve band
    assert (row.survival_5y.lower, row.survival_5y.upper) == (0.6, 0.7)
    # Not-judged options are not offered as the reference and get no difference row.
    assert unjudged["option"] not in panel["script_data"]["differences"]
    html = _html(panel)
    assert 'data-applicable="false"' in html
    assert "Too few training patients like this one had surgery." in html
    assert (
        f"Not drawn</strong> (the model cannot judge them for this patient): {unjudged['option']}"
        in html
    )


def test_bands_still_being_computed_are_reported_not_hidden(world: World) -> None:
    prediction = _predict(world, replicates=0, bands=True)  # no ensemble: a band job
    assert prediction.output["bands"]["status"] == "queued"
    panel = outcomes_panel_context(prediction=prediction, user=world.member)
    assert panel["bands"]["status"] == "queued"
    assert "being computed" in _html(panel)
    assert all(r.survival_5y.interval == NOT_ESTIMATED for r in panel["options"])
    # A band job that is gone reads as failed, with the reason.
    prediction.output["bands"]["job"] = "00000000-0000-0000-0000-000000000000"
    failed = outcomes_panel_context(prediction=prediction, user=world.member)
    assert failed["bands"]["status"] == "failed"
    assert "The band job no longer exists." in _html(failed)


def test_no_prediction_yet_is_a_state_of_its_own(world: World) -> None:
    panel = outcomes_panel_context(prediction=None, user=world.member)
    assert panel["state"] == "none"
    html = _html(panel)
    assert "No prediction has been made for this patient yet" in html
    assert "Read with care" in html


def test_a_prediction_without_options_says_so(world: World) -> None:
    # Stored before per-option output existed (the access matrix stores such a row).
    model = OutcomeModel.objects.create(
        name="bare",
        version=1,
        kind="cox",
        time_unit="months",
        training_source="simulated",
        training_data_sha256="0" * 64,
        artifact_sha256="0" * 64,
    )
    prediction = Prediction.objects.create(
        patient=world.patient,
        model=model,
        inputs_sha256="0" * 64,
        output={"time_unit": "months", "horizon": 60.0, "options": [], "bands": None},
    )
    panel = outcomes_panel_context(prediction=prediction, user=world.member)
    assert panel["state"] == "empty"
    html = _html(panel)
    assert "This prediction holds no per-option estimates." in html
    assert 'id="outcomes-table"' not in html
