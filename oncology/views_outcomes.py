"""The outcome-model registry pages: every version with its status and headline metrics, and one
version's page (model card, metrics in plain words, training calibration, features, provenance,
status change, and the calibration of its past predictions against what happened).

Access: the registry holds no patient data, so every signed-in person reads it (integration
clients use the API). A status change is for oncologists and data managers
(``may_change_status``); it is a POST with CSRF, goes through
``oncology.services.outcome_models.outcome_model_set_status`` (which enforces the allowed
transitions) and leaves one UPDATE audit event. The closed-loop section reads the outcomes of
the institution's patients through ``oncology.selectors_outcomes`` (aggregates only, one LIST
event, not for administrators).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.audit import audit_record
from core.models import AuditAction, Role, User
from oncology.figures_outcomes import (
    closed_loop_figure,
    training_calibration_figure,
)
from oncology.models_outcomes import OutcomeModel, OutcomeModelStatus
from oncology.outcomes.closed_loop import (
    MIN_GROUP,
    HorizonCalibration,
    calibrate_past_predictions,
)
from oncology.selectors_outcomes import (
    RECEIVED_WINDOW_AFTER_DAYS,
    RECEIVED_WINDOW_BEFORE_DAYS,
    SYSTEMIC_AS_CHEMOTHERAPY,
    outcome_model_closed_loop_rows,
    outcome_model_version_get,
    outcome_model_versions,
)
from oncology.services.outcome_models import (
    TRANSITIONS,
    UNIT_PER_YEAR,
    OutcomeModelError,
    outcome_model_set_status,
)
from oncology.views import person_required

AUDIT_OBJECT = "outcome_model"
# Who may move a version between draft, validated, active and retired: activating a model
# changes what every tumour board sees, a clinical governance decision (oncologists), and
# validation is the work of those who check models against data (data managers).
# Administrators manage people and teams, not clinical content (least privilege).
STATUS_CHANGE_ROLES = frozenset({Role.ONCOLOGIST, Role.DATA_MANAGER})

# metric key -> (name, what it means in plain words, higher is better?)
METRIC_MEANINGS: dict[str, tuple[str, str, bool]] = {
    "harrell_c": (
        "Harrell's C (concordance)",
        "Take two patients: how often did the one who died first get the higher predicted "
        "risk? 0.5 is a coin toss, 1 a perfect ordering; 0.65-0.75 is usual for clinical "
        "survival models.",
        True,
    ),
    "uno_c": (
        "Uno's C",
        "The same question, weighted so that it does not depend on how long patients were "
        "followed (pairs counted up to the end of follow-up).",
        True,
    ),
    "integrated_brier": (
        "Integrated Brier score",
        "The average squared gap between the predicted chance of being alive and what happened "
        "(alive 1, dead 0), over the follow-up. 0 is perfect; always predicting 50 % scores "
        "0.25.",
        False,
    ),
    "brier_at_horizon": (
        "Brier score at the horizon",
        "The same squared gap, at the horizon only.",
        False,
    ),
    "calibration_error": (
        "Calibration error at the horizon",
        "Patients grouped by predicted survival at the horizon: the average gap between a "
        "group's mean prediction and the survival actually observed (Kaplan–Meier). 0.05 means "
        "predictions are off by 5 percentage points on average.",
        False,
    ),
}

CARD_ORDER = ("intended_use", "model", "cohort", "performance", "response", "limits")
LABELS = {
    "intended_use": "Intended use",
    "harrell_c": "Harrell's C",
    "uno_c": "Uno's C",
    "integrated_brier": "Integrated Brier score",
    "calibration_error_at_horizon": "Calibration error at the horizon",
    "auc": "AUC",
    "time_unit": "Time unit",
}
STATUS_MEANINGS: dict[str, str] = {
    OutcomeModelStatus.DRAFT: "trained, not yet reviewed; not used for predictions",
    OutcomeModelStatus.VALIDATED: "reviewed and accepted; not used for predictions yet",
    OutcomeModelStatus.ACTIVE: "the version predictions use (one per model name)",
    OutcomeModelStatus.RETIRED: "no longer used; kept so past predictions stay traceable",
}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def may_change_status(user: User) -> bool:
    return user.role in STATUS_CHANGE_ROLES


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="New status")

    def __init__(self, *args: Any, model: OutcomeModel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (s, OutcomeModelStatus(s).label) for s in TRANSITIONS[model.status]
        ]


def _label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def _display(value: Any) -> str:
    """A card or parameter value in words: numbers rounded, lists joined, dicts as key: value."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "; ".join(f"{_label(str(k))}: {_display(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_display(v) for v in value) or "—"
    return str(value)


def _card_sections(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field of the model card, the usual ones first, each as text, items or rows."""
    keys = [k for k in CARD_ORDER if k in card] + [k for k in card if k not in CARD_ORDER]
    sections = []
    for key in keys:
        value = card[key]
        section: dict[str, Any] = {"key": key, "title": _label(key)}
        if isinstance(value, dict):
            section["rows"] = [(_label(str(k)), _display(v)) for k, v in value.items()]
        elif isinstance(value, list):
            section["entries"] = [_display(v) for v in value]
        else:
            section["paragraph"] = _display(value)
        sections.append(section)
    return sections


def _horizon_label(model: OutcomeModel, horizon: Any) -> str:
    if horizon is None:
        return "the horizon"
    per_year = UNIT_PER_YEAR.get(model.time_unit)
    text = f"{float(horizon):g} {model.time_unit}"
    if per_year and model.time_unit != "years":
        text += f" ({float(horizon) / per_year:.3g} years)"
    return text


def _split_count(metrics: dict[str, Any]) -> int:
    protocol = metrics.get("protocol") or {}
    return int(protocol.get("splits") or len(metrics.get("splits") or []) or 0)


def _metric_rows(model: OutcomeModel) -> tuple[list[dict[str, Any]], list[int]]:
    metrics = model.metrics or {}
    mean, sd = metrics.get("mean") or {}, metrics.get("sd") or {}
    splits = metrics.get("splits") or []
    keys = [k for k in METRIC_MEANINGS if k in mean] + [k for k in mean if k not in METRIC_MEANINGS]
    rows = []
    for key in keys:
        name, meaning, higher = METRIC_MEANINGS.get(key, (_label(key), "", True))
        rows.append(
            {
                "key": key,
                "name": name,
                "meaning": meaning,
                "better": "higher" if higher else "lower",
                "mean": mean.get(key),
                # one split has no spread: its SD (0) would read as a certainty
                "sd": sd.get(key) if _split_count(metrics) > 1 else None,
                "splits": [s.get(key) for s in splits],
            }
        )
    return rows, [int(s.get("split", i)) for i, s in enumerate(splits)]


def _calibration_rows(model: OutcomeModel) -> list[dict[str, Any]]:
    rows = []
    for point in model.calibration or []:
        predicted = point.get("mean_predicted_survival")
        observed = point.get("kaplan_meier_survival")
        rows.append(
            {
                "split": point.get("split"),
                "predicted": predicted,
                "observed": observed,
                "gap": None if predicted is None or observed is None else predicted - observed,
            }
        )
    return rows


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _horizon_rows(horizon: HorizonCalibration) -> dict[str, Any]:
    groups = []
    for g in horizon.groups:
        observed = g.observed
        groups.append(
            {
                "index": g.index,
                "patients": g.patients,
                "range": f"{_percent(g.predicted_low)} to {_percent(g.predicted_high)}",
                "predicted": _percent(g.mean_predicted),
                "observed": _percent(observed.survival) if observed else None,
                "ci": f"{_percent(observed.lower)} to {_percent(observed.upper)}"
                if observed
                else None,
                "deaths": g.deaths_by_horizon,
                "gap": f"{100 * (g.mean_predicted - observed.survival):+.0f} points"
                if observed
                else None,
            }
        )
    error = horizon.mean_absolute_error
    return {
        "years": horizon.years,
        "label": f"{horizon.years:g} year{'s' if horizon.years != 1 else ''}",
        "patients": horizon.patients,
        "status": horizon.status,
        "groups": groups,
        "error": None if error is None else f"{100 * error:.1f} percentage points",
    }


def _closed_loop(user: User, model: OutcomeModel) -> dict[str, Any] | None:
    gathered = outcome_model_closed_loop_rows(user=user, model=model)
    if gathered is None:
        return None
    horizons = calibrate_past_predictions(gathered.rows)
    return {
        "gathered": gathered,
        "horizons": [_horizon_rows(h) for h in horizons],
        "figure": closed_loop_figure(horizons),
        "any_estimate": any(h.status in ("ok", "partial") for h in horizons),
    }


@person_required
@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    versions = list(outcome_model_versions())
    names: dict[str, list[OutcomeModel]] = {}
    for model in versions:
        names.setdefault(model.name, []).append(model)
    return render(
        request,
        "oncology/outcomes/model_list.html",
        {"names": names, "versions": len(versions), "status_meanings": STATUS_MEANINGS},
    )


@person_required
@require_GET
def model_detail(request: HttpRequest, name: str, version: int) -> HttpResponse:
    user = _user(request)
    model = outcome_model_version_get(name=name, version=version)
    metric_rows, split_ids = _metric_rows(model)
    horizon_label = _horizon_label(model, (model.metrics or {}).get("horizon"))
    params = dict(model.training_params or {})
    libraries = params.pop("libraries", {}) or {}
    can_change = may_change_status(user) and bool(TRANSITIONS[model.status])
    return render(
        request,
        "oncology/outcomes/model_detail.html",
        {
            "model": model,
            "status_meaning": STATUS_MEANINGS.get(model.status, ""),
            "card": _card_sections(model.model_card or {}),
            "metric_rows": metric_rows,
            "split_ids": split_ids,
            "show_sd": _split_count(model.metrics or {}) > 1,
            "horizon_label": horizon_label,
            "horizon_source": (model.metrics or {}).get("horizon_source", ""),
            "protocol": _display((model.metrics or {}).get("protocol")),
            "response_metrics": [
                (_label(str(k)), _display(v))
                for k, v in ((model.metrics or {}).get("response") or {}).items()
            ],
            "calibration_rows": _calibration_rows(model),
            "calibration_figure": training_calibration_figure(
                model.calibration or [], horizon_label=horizon_label
            ),
            "features": model.feature_spec or [],
            "libraries": sorted(libraries.items()),
            "params": [(_label(k), _display(v)) for k, v in params.items()],
            "status_form": StatusForm(model=model) if can_change else None,
            "may_change_status": may_change_status(user),
            "closed_loop": _closed_loop(user, model),
            "min_group": MIN_GROUP,
            "window_before": RECEIVED_WINDOW_BEFORE_DAYS,
            "window_after": RECEIVED_WINDOW_AFTER_DAYS,
            "systemic_as_chemotherapy": ", ".join(SYSTEMIC_AS_CHEMOTHERAPY),
        },
    )


@person_required
@require_POST
def model_status_change(request: HttpRequest, name: str, version: int) -> HttpResponse:
    user = _user(request)
    if not may_change_status(user):
        raise PermissionDenied("Only oncologists and data managers change a model's status.")
    model = outcome_model_version_get(name=name, version=version)
    form = StatusForm(request.POST, model=model)
    if not form.is_valid():
        allowed = ", ".join(TRANSITIONS[model.status]) or "none"
        messages.error(
            request, f"{model.name} v{model.version} is {model.status}; allowed: {allowed}."
        )
        return redirect("outcome_models:detail", name=model.name, version=model.version)
    before, status = model.status, form.cleaned_data["status"]
    # Activating retires the name's active version in the same transaction: audit it too.
    displaced = (
        list(outcome_model_versions().filter(name=model.name, status=OutcomeModelStatus.ACTIVE))
        if status == OutcomeModelStatus.ACTIVE
        else []
    )
    try:
        with transaction.atomic():
            model = outcome_model_set_status(model=model, status=status)
            for changed, result in [
                (model, f"{before} -> {model.status}"),
                *[(d, "active -> retired") for d in displaced if d.pk != model.pk],
            ]:
                audit_record(
                    actor=user,
                    action=AuditAction.UPDATE,
                    object_type=AUDIT_OBJECT,
                    object_id=changed.public_id,
                    detail={"fields": ["status"], "result": result},
                )
    except OutcomeModelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{model.name} v{model.version} is now {model.status}.")
    return redirect("outcome_models:detail", name=model.name, version=model.version)
