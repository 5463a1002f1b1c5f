"""The lesion-model pages' figure: the calibration of a malignancy model's validation (pooled
test rows of the splits, by probability bin) as plotly figure JSON, drawn by the outcome pages'
static/js/model-calibration.js. Aggregates only."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from oncology.figures_outcomes import COLOURS, INK, _as_json, _diagonal, _layout


def lesion_calibration_figure(calibration: list[dict[str, Any]]) -> dict[str, Any] | None:
    points = [
        p
        for p in calibration
        if p.get("mean_predicted") is not None and p.get("observed") is not None
    ]
    if not points:
        return None
    figure = go.Figure(
        data=[
            _diagonal(),
            go.Scatter(
                x=[float(p["mean_predicted"]) for p in points],
                y=[float(p["observed"]) for p in points],
                mode="markers+lines",
                name="Probability bin (held-out lesions of every split)",
                text=[f"{p['bin']}: {p['n']} lesions" for p in points],
                hovertemplate="%{text}: predicted %{x:.1%}, observed %{y:.1%}<extra></extra>",
                marker={
                    "size": [max(8, min(24, 6 + int(p["n"]) ** 0.5)) for p in points],
                    "color": COLOURS[0],
                    "line": {"color": INK, "width": 1},
                },
                line={"color": COLOURS[0], "width": 1},
            ),
        ],
        layout=_layout("Mean predicted probability of malignancy", "Observed malignant fraction"),
    )
    return _as_json(figure)
