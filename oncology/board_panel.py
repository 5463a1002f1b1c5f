"""The outcomes panel of the tumour-board case page: a stored prediction as a board reads it.

``outcomes_panel_context`` turns one stored ``Prediction`` (its ``output`` as
``oncology.services.outcome_predictions`` writes it) into what the template
``oncology/board/_outcomes_panel.html`` shows: one row per treatment option with 1-, 2- and
5-year survival, restricted mean survival to 5 years and response probability, each with its
95% interval when the bands hold one; the difference of every option from a reference option;
the drivers in words; the model card summary; the applicability warning; caveats; and a plotly
figure of every option's survival curve with its band. Everything is formatted here, once, so
the page, the page's script (which only swaps pre-formatted text when the reference changes)
and the PDF case report (``oncology.board_report``) show the same numbers.

An interval the output does not hold is shown as "not estimated", never left out; an option
the model cannot judge for this patient (``applicable: false``) stays in the table, greyed,
with the reason, and its curve is not drawn. No database writes: the caller reads the
prediction through the access-checked, audited selectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oncology.models_outcomes import Prediction
from oncology.services.outcome_models import UNIT_PER_YEAR
from oncology.services.outcome_predictions import LABEL_TEXT, bands_shown

# Okabe & Ito's colour-blind-safe palette, darkest first (yellow left out: too pale on white),
# paired with a dash pattern so the curves stay apart in greyscale and on a washed-out projector.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid")
METRICS = ("survival_1y", "survival_2y", "survival_5y", "rmst")
YEARS = {"survival_1y": 1, "survival_2y": 2, "survival_5y": 5}
NOT_ESTIMATED = "not estimated"
MODEL_PAGE = "/outcome-models/{name}/{version}/"  # the model's page (registry pages)

# What each number means, in plain words: shown next to every column header.
EXPLANATIONS = {
    "survival": (
        "The estimated share of patients like this one alive at that time after starting "
        "this option (e.g. 80% means about 80 of 100 such patients). An estimate from past "
        "patients, not a promise for this patient."
    ),
    "rmst": (
        "Restricted mean survival to 5 years: the average time alive during the first 5 "
        "years, in months (at most 60). It sums the whole curve up to 5 years into one number; "
        "a difference of 3 months means patients like this one lived on average 3 months "
        "longer within those 5 years."
    ),
    "response": (
        "The estimated probability that the tumour responds to this option, by the model's "
        "definition of response shown with the number."
    ),
    "interval": (
        "The 95% interval (in brackets) is the range of values consistent with the training "
        "data, from refitting the model on resampled patients (bootstrap). It shows the "
        "model's statistical uncertainty only: not bias from confounding, not how different "
        "this patient is. 'not estimated' means no interval was computed."
    ),
    "difference": (
        "The option's number minus the reference option's number: survival in percentage "
        "points, restricted mean survival in months. An interval that includes 0 means the "
        "data cannot tell the two options apart for this patient."
    ),
    "drivers": (
        "The patient characteristics that move this option's estimate most, compared with "
        "the average training patient given the same option. They explain the model, not "
        "the biology."
    ),
}

CAVEATS = (
    LABEL_TEXT,
    "Patients in the training data were not assigned to options at random. The model adjusts "
    "for the characteristics it was given; anything else that drove the choice of treatment "
    "(unmeasured confounding) can bias the comparison in either direction.",
    "The intervals cover the model's statistical uncertainty only; a model that is wrong "
    "for this kind of patient can be confidently wrong.",
    "The tumour board decides, with what the model does not see: the patient's wishes, "
    "frailty, the full history and the evidence from trials.",
)


@dataclass(frozen=True)
class Estimate:
    """One number with its interval, formatted for the table ('82% (76% to 88%)')."""

    value: float | None
    lower: float | None = None
    upper: float | None = None
    text: str = NOT_ESTIMATED
    interval: str = NOT_ESTIMATED

    @property
    def estimated(self) -> bool:
        return self.value is not None


@dataclass
class OptionRow:
    key: str
    series: int  # index into PALETTE / DASHES (CSS classes series-0 ... series-6)
    applicable: bool
    not_applicable_reason: str
    colour: str
    dash: str
    training_patients: int | None
    estimates: dict[str, Estimate]  # METRICS + "response"
    response_definition: str
    drivers: list[str]
    explanation_method: str
    differences: dict[str, Estimate] = field(default_factory=dict)  # vs the reference

    @property
    def survival_1y(self) -> Estimate:
        return self.estimates["survival_1y"]

    @property
    def survival_2y(self) -> Estimate:
        return self.estimates["survival_2y"]

    @property
    def survival_5y(self) -> Estimate:
        return self.estimates["survival_5y"]

    @property
    def rmst(self) -> Estimate:
        return self.estimates["rmst"]

    @property
    def response(self) -> Estimate:
        return self.estimates["response"]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        lo, hi = _finite(value[0]), _finite(value[1])
        if lo is not None and hi is not None:
            return lo, hi
    return None


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _months(value: float) -> str:
    return f"{value:.1f}"


def _signed(value: float, digits: int) -> str:
    text = f"{value:+.{digits}f}"
    return f"{0:.{digits}f}" if float(text) == 0 else text


def _estimate(
    value: float | None, interval: tuple[float, float] | None, kind: str, unit: str = ""
) -> Estimate:
    """``kind``: 'percent' (a probability), 'months', 'points' (a difference of probabilities,
    in percentage points) or 'months_diff'."""
    if value is None:
        return Estimate(None)
    formats: dict[str, Callable[[float], str]] = {
        "percent": _percent,
        "months": _months,
        "points": lambda v: _signed(100 * v, 1),
        "months_diff": lambda v: _signed(v, 1),
    }
    fmt = formats[kind]
    text = fmt(value) + unit
    if interval is None:
        return Estimate(value, text=text, interval=NOT_ESTIMATED)
    lo, hi = interval
    return Estimate(value, lo, hi, text=text, interval=f"{fmt(lo)} to {fmt(hi)}{unit}")


def _bands_state(bands: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(bands, dict):
        return {
            "status": "absent",
            "message": "No 95% intervals were computed for this prediction (bands were not "
            "requested): the numbers below are point estimates only.",
        }
    status = bands.get("status")
    if status == "done":
        return {
            "status": "done",
            "message": "",
            "level": bands.get("level"),
            "replicates": bands.get("replicates"),
            "method": bands.get("method", ""),
        }
    if status in ("queued", "running"):
        return {
            "status": status,
            "message": f"The 95% intervals are being computed ({status}); reload the page in "
            "a few minutes to see them. Until then the numbers are point estimates only.",
        }
    error = bands.get("error") or "no reason recorded"
    return {
        "status": "failed",
        "message": f"The 95% intervals could not be computed ({error}): the numbers below "
        "are point estimates only.",
    }


def _grid_interval(
    bands: dict[str, Any], option: str, times: list[float], at: float
) -> tuple[float, float] | None:
    """The pointwise curve band at ``at`` when ``at`` lies on the curve's time grid: the same
    percentile interval as the survival at that time (both are percentiles of S(at) over the
    bootstrap replicates)."""
    lower, upper = bands.get("lower", {}).get(option), bands.get("upper", {}).get(option)
    if not lower or not upper or len(lower) != len(times):
        return None
    for i, t in enumerate(times):
        if abs(t - at) <= 1e-3 * max(1.0, at):
            return _pair([lower[i], upper[i]])
    return None


def _option_intervals(
    bands: dict[str, Any] | None, option: dict[str, Any], per_year: float
) -> dict[str, tuple[float, float] | None]:
    key = option["option"]
    found: dict[str, tuple[float, float] | None] = dict.fromkeys(METRICS)
    if not isinstance(bands, dict) or bands.get("status") != "done":
        return found
    survival_at = (bands.get("survival_at") or {}).get(key) or {}
    for metric, years in YEARS.items():
        found[metric] = _pair(survival_at.get(f"{years}y")) or _grid_interval(
            bands, key, option.get("times") or [], years * per_year
        )
    rmst = _pair((bands.get("rmst") or {}).get(key))
    found["rmst"] = None if rmst is None else (rmst[0] * 12 / per_year, rmst[1] * 12 / per_year)
    return found


def _difference_intervals(
    bands: dict[str, Any] | None, per_year: float
) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
    """(a, b) -> metric -> interval of a - b, both directions."""
    found: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    if not isinstance(bands, dict) or bands.get("status") != "done":
        return found

    def put(a: str, b: str, metric: str, pair: tuple[float, float] | None) -> None:
        if pair is not None:
            found.setdefault((a, b), {})[metric] = pair
            found.setdefault((b, a), {})[metric] = (-pair[1], -pair[0])

    for row in bands.get("rmst_difference") or []:
        pair = _pair([row.get("lower"), row.get("upper")])
        if pair is not None:
            pair = (pair[0] * 12 / per_year, pair[1] * 12 / per_year)
        put(row["option"], row["versus"], "rmst", pair)
    for row in bands.get("survival_difference") or []:
        for metric, years in YEARS.items():
            put(row["option"], row["versus"], metric, _pair(row.get(f"{years}y")))
    return found


def _option_row(
    option: dict[str, Any], index: int, bands: dict[str, Any] | None, per_year: float
) -> OptionRow:
    applicable = bool(option.get("applicable", True))
    intervals = _option_intervals(bands, option, per_year) if applicable else {}
    estimates: dict[str, Estimate] = {}
    if applicable:
        for metric in YEARS:
            estimates[metric] = _estimate(_finite(option.get(metric)), intervals[metric], "percent")
        rmst = _finite(option.get("rmst"))
        estimates["rmst"] = _estimate(
            None if rmst is None else rmst * 12 / per_year, intervals["rmst"], "months"
        )
    else:
        estimates = {metric: Estimate(None) for metric in METRICS}
    response = option.get("response") if applicable else None
    definition = ""
    if isinstance(response, dict):
        lo, hi = _finite(response.get("lower")), _finite(response.get("upper"))
        interval = (lo, hi) if lo is not None and hi is not None else None
        estimates["response"] = _estimate(_finite(response.get("probability")), interval, "percent")
        definition = str(response.get("definition") or "")
    else:
        estimates["response"] = Estimate(None)
    explanation = option.get("explanation") or {}
    return OptionRow(
        key=option["option"],
        series=index % len(PALETTE),
        applicable=applicable,
        not_applicable_reason=str(option.get("not_applicable_reason") or "")
        or ("The model cannot judge this option for this patient." if not applicable else ""),
        colour=PALETTE[index % len(PALETTE)],
        dash=DASHES[index % len(DASHES)],
        training_patients=option.get("training_patients"),
        estimates=estimates,
        response_definition=definition,
        drivers=list(explanation.get("drivers") or []) if applicable else [],
        explanation_method=str(explanation.get("method") or ""),
    )


def _differences(
    rows: list[OptionRow],
    reference: OptionRow,
    intervals: dict[tuple[str, str], dict[str, tuple[float, float]]],
) -> dict[str, dict[str, Estimate]]:
    """Option -> metric -> (option minus reference) for every applicable option."""
    table: dict[str, dict[str, Estimate]] = {}
    for row in rows:
        if not row.applicable:
            continue
        cells: dict[str, Estimate] = {}
        for metric in METRICS:
            a, b = row.estimates[metric].value, reference.estimates[metric].value
            if row.key == reference.key or a is None or b is None:
                cells[metric] = Estimate(None)
                continue
            pair = intervals.get((row.key, reference.key), {}).get(metric)
            if metric == "rmst":
                cells[metric] = _estimate(a - b, pair, "months_diff")
            else:
                cells[metric] = _estimate(a - b, pair, "points", " pts")
        table[row.key] = cells
    return table


def survival_figure(
    rows: list[OptionRow],
    options: list[dict[str, Any]],
    bands: dict[str, Any] | None,
    *,
    per_year: float,
) -> dict[str, Any]:
    """The plotly figure (plain JSON-able dict): per applicable option its 95% band (two
    traces, lower then upper filled to it, when the bands are done) and its curve; time in
    years (``per_year``: the model's time unit per year)."""
    done = isinstance(bands, dict) and bands.get("status") == "done"
    data: list[dict[str, Any]] = []
    for row, option in zip(rows, options, strict=True):
        if not row.applicable:
            continue
        years = [round(t / per_year, 4) for t in option.get("times") or []]
        lower = (bands or {}).get("lower", {}).get(row.key) if done else None
        upper = (bands or {}).get("upper", {}).get(row.key) if done else None
        if lower and upper and len(lower) == len(years) == len(upper):
            fill = _rgba(row.colour, 0.18)
            common = {
                "x": years,
                "type": "scatter",
                "mode": "lines",
                "line": {"width": 0, "color": row.colour},
                "legendgroup": row.key,
                "showlegend": False,
                "hoverinfo": "skip",
                "meta": {"option": row.key, "role": "band"},
            }
            data.append({**common, "y": lower, "name": f"{row.key}: 95% band (lower)"})
            data.append(
                {
                    **common,
                    "y": upper,
                    "name": f"{row.key}: 95% band",
                    "fill": "tonexty",
                    "fillcolor": fill,
                }
            )
        data.append(
            {
                "x": years,
                "y": option.get("survival") or [],
                "type": "scatter",
                "mode": "lines",
                "name": row.key,
                "legendgroup": row.key,
                "line": {"width": 3, "color": row.colour, "dash": row.dash, "shape": "hv"},
                "hovertemplate": "%{fullData.name}<br>%{x:.1f} years: %{y:.0%}<extra></extra>",
                "meta": {"option": row.key, "role": "curve"},
            }
        )
    layout = {
        "font": {"size": 16, "color": "#14202e"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "margin": {"l": 70, "r": 20, "t": 20, "b": 60},
        "height": 460,
        "xaxis": {
            "title": {"text": "Years from the start of treatment"},
            "range": [0, 5],
            "dtick": 1,
            "showgrid": True,
            "gridcolor": "#d5dbe3",
            "linecolor": "#14202e",
            "zeroline": False,
        },
        "yaxis": {
            "title": {"text": "Estimated survival"},
            "range": [0, 1.02],
            "tickformat": ".0%",
            "showgrid": True,
            "gridcolor": "#d5dbe3",
            "linecolor": "#14202e",
            "zeroline": False,
        },
        "legend": {"orientation": "h", "y": -0.2, "font": {"size": 16}},
        "hovermode": "closest",
    }
    return {"data": data, "layout": layout, "config": {"displaylogo": False, "responsive": True}}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _model_card(prediction: Prediction) -> dict[str, Any]:
    model = prediction.model
    card = model.model_card or {}
    cohort = card.get("cohort") or {}
    performance = card.get("performance") or {}
    return {
        "name": model.name,
        "version": model.version,
        "kind": model.get_kind_display(),
        "status": model.status,
        "status_display": model.get_status_display(),
        "target": model.target,
        "training_source": model.training_source,
        "simulated": model.training_source == "simulated",
        "cohort_description": cohort.get("description", ""),
        "cohort_patients": cohort.get("patients"),
        "cohort_events": cohort.get("events"),
        "intended_use": card.get("intended_use", ""),
        "harrell_c": _finite(performance.get("harrell_c")),
        "uno_c": _finite(performance.get("uno_c")),
        "integrated_brier": _finite(performance.get("integrated_brier")),
        "calibration_error": _finite(performance.get("calibration_error_at_horizon")),
        "limits": list(card.get("limits") or []),
        "url": MODEL_PAGE.format(name=model.name, version=model.version),
    }


def outcomes_panel_context(
    *, prediction: Prediction | None, user: Any, reference: str | None = None
) -> dict[str, Any]:
    """What the outcomes panel shows for ``prediction`` (None: no prediction yet). ``reference``
    names the option the differences are taken from (default and fallback: the first option
    the model can judge). ``user`` is the reader; nothing here depends on their role yet, the
    caller has already checked they may see the patient."""
    del user
    base: dict[str, Any] = {
        "explanations": EXPLANATIONS,
        "caveats": CAVEATS,
        "not_estimated": NOT_ESTIMATED,
    }
    if prediction is None:
        return {**base, "state": "none"}
    output = prediction.output or {}
    per_year = UNIT_PER_YEAR.get(str(output.get("time_unit") or prediction.model.time_unit), 1.0)
    common = {
        **base,
        "prediction_id": str(prediction.public_id),
        "created_at": prediction.created_at,
        "label": prediction.label,
        "inputs_sha256": prediction.inputs_sha256,
        "inputs": prediction.inputs,
        "warnings": list(prediction.warnings or []),
        "model": _model_card(prediction),
        "target": output.get("target") or prediction.model.target,
    }
    if output.get("abstained"):
        return {
            **common,
            "state": "abstained",
            "abstain_reason": output.get("abstain_reason")
            or "The model abstained for this patient.",
        }
    bands = bands_shown(output)
    options = list(output.get("options") or [])
    # Colours and dashes go to the options drawn, in order, so the first curve is the darkest.
    drawn = [o for o in options if o.get("applicable", True)]
    series = {o["option"]: i for i, o in enumerate(drawn)}
    rows = [_option_row(o, series.get(o["option"], 0), bands, per_year) for o in options]
    judged = [r for r in rows if r.applicable]
    by_key = {r.key: r for r in judged}
    ref = by_key.get(reference or "") or (judged[0] if judged else None)
    intervals = _difference_intervals(bands, per_year)
    differences_by_reference: dict[str, dict[str, dict[str, list[str]]]] = {}
    for candidate in judged:
        table = _differences(rows, candidate, intervals)
        differences_by_reference[candidate.key] = {
            option: {m: [cell.text, cell.interval] for m, cell in cells.items()}
            for option, cells in table.items()
        }
        if ref is not None and candidate.key == ref.key:
            for row in judged:
                row.differences = table[row.key]
    definitions = {r.response_definition for r in judged if r.response.estimated}
    figure = survival_figure(rows, options, bands, per_year=per_year)
    return {
        **common,
        "state": "ready" if judged else ("nothing_judged" if rows else "empty"),
        "options": rows,
        "not_drawn": [r for r in rows if not r.applicable],
        # One definition of response for every option (the usual case) is said once.
        "response_definition": definitions.pop() if len(definitions) == 1 else "",
        "reference": ref.key if ref else "",
        "bands": _bands_state(bands),
        "figure": figure,
        # What the page's script needs to switch the reference without a round trip.
        "script_data": {
            "reference": ref.key if ref else "",
            "metrics": list(METRICS),
            "differences": differences_by_reference,
            "not_estimated": NOT_ESTIMATED,
        },
        "similar_patients": list(output.get("similar_patients") or []),
        "time_unit": output.get("time_unit"),
    }
