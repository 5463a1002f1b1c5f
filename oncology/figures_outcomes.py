"""The registry pages' figures as plotly figure JSON (drawn by static/js/model-calibration.js
with the locally served plotly.js): the training calibration of a model version, and the
calibration of its past predictions against what happened (the closed loop).

Figures are built with plotly's graph objects, which validate every property, then handed to
the template as plain JSON (``json_script``): no inline script, no patient value in them, only
group aggregates that ``oncology.outcomes.closed_loop`` has already thresholded.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from oncology.outcomes.closed_loop import HorizonCalibration

# plotly.js injects maplibre's stylesheet (map traces, unused here) with a <style> element,
# which the CSP refuses, unless an element with this id exists: templates/_plotly.html has it.
# tests/oncology/test_outcome_pages.py checks it against the bundle.
PLOTLY_MAPLIBRE_STYLE_ID = "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53"
INK = "#1f2933"
GRID = "#d9e2ec"
COLOURS = ("#0b6e99", "#c2410c", "#15803d")  # one per horizon (1, 2, 5 years)


def _layout(x_title: str, y_title: str) -> dict[str, Any]:
    axis = {
        "range": [0, 1.02],
        "tickformat": ".0%",
        "gridcolor": GRID,
        "zeroline": False,
        "constrain": "domain",
    }
    return {
        "xaxis": {**axis, "title": {"text": x_title}},
        "yaxis": {**axis, "title": {"text": y_title}, "scaleanchor": "x"},
        "height": 480,
        "margin": {"l": 70, "r": 20, "t": 20, "b": 60},
        "font": {"size": 15, "color": INK},
        "legend": {"orientation": "h", "y": -0.2},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
    }


def _diagonal() -> go.Scatter:
    return go.Scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        name="Perfect calibration",
        line={"color": "#7b8794", "dash": "dash", "width": 1.5},
        hoverinfo="skip",
    )


def _as_json(figure: go.Figure) -> dict[str, Any]:
    out = figure.to_plotly_json()
    # No mode bar: its buttons need per-plot style rules the CSP refuses, and the tables
    # beside each figure give the numbers.
    out["config"] = {"displaylogo": False, "displayModeBar": False, "responsive": True}
    return out


def training_calibration_figure(
    calibration: list[dict[str, Any]], *, horizon_label: str
) -> dict[str, Any] | None:
    """One point per validation split: mean predicted survival at the horizon against the
    Kaplan–Meier survival of that split's test patients. None without calibration points."""
    points = [
        p
        for p in calibration
        if p.get("mean_predicted_survival") is not None
        and p.get("kaplan_meier_survival") is not None
    ]
    if not points:
        return None
    figure = go.Figure(
        data=[
            _diagonal(),
            go.Scatter(
                x=[float(p["mean_predicted_survival"]) for p in points],
                y=[float(p["kaplan_meier_survival"]) for p in points],
                mode="markers",
                name=f"Validation split (test patients), at {horizon_label}",
                text=[f"split {p.get('split', i)}" for i, p in enumerate(points)],
                hovertemplate="%{text}: predicted %{x:.1%}, observed %{y:.1%}<extra></extra>",
                marker={"size": 12, "color": COLOURS[0], "line": {"color": INK, "width": 1}},
            ),
        ],
        layout=_layout("Mean predicted survival", "Observed survival (Kaplan–Meier)"),
    )
    return _as_json(figure)


def closed_loop_figure(horizons: list[HorizonCalibration]) -> dict[str, Any] | None:
    """Per horizon, each group with an estimate: mean predicted against observed Kaplan–Meier
    survival with its 95 % confidence interval. None when no group has one."""
    traces: list[go.Scatter] = [_diagonal()]
    for colour, horizon in zip(COLOURS, horizons, strict=False):
        shown = [g for g in horizon.groups if g.observed is not None]
        if not shown:
            continue
        years = f"{horizon.years:g} year{'s' if horizon.years != 1 else ''}"
        traces.append(
            go.Scatter(
                x=[g.mean_predicted for g in shown],
                y=[g.observed.survival for g in shown],  # type: ignore[union-attr]
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [g.observed.upper - g.observed.survival for g in shown],  # type: ignore[union-attr]
                    "arrayminus": [g.observed.survival - g.observed.lower for g in shown],  # type: ignore[union-attr]
                    "color": colour,
                },
                mode="markers+lines",
                name=f"At {years}",
                text=[f"group {g.index} ({g.patients} patients)" for g in shown],
                hovertemplate=(
                    "%{text}: predicted %{x:.1%}, observed %{y:.1%}<extra>" + years + "</extra>"
                ),
                marker={"size": 11, "color": colour},
                line={"color": colour, "width": 1},
            )
        )
    if len(traces) == 1:
        return None
    figure = go.Figure(
        data=traces,
        layout=_layout("Mean predicted survival", "Observed survival, 95% CI"),
    )
    return _as_json(figure)
