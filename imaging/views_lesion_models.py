"""The lesion-model registry pages: every version with its status and headline metrics, and
one version's page (model card, validation metrics with intervals, calibration plot, features,
provenance, status change).

Access as for the outcome-model pages (oncology/views_outcomes.py): the registry holds no
patient data, so every signed-in person reads it; a status change is for oncologists and data
managers, a POST with CSRF through ``imaging.services.lesion_models.lesion_model_set_status``
(which enforces the transitions and writes the audit events).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.models import User
from imaging.figures_lesions import lesion_calibration_figure
from imaging.models import LesionModel
from imaging.models_screening import LesionModelStatus
from imaging.services.lesion_models import (
    TRANSITIONS,
    LesionModelError,
    lesion_model_set_status,
)
from oncology.views import person_required
from oncology.views_outcomes import STATUS_MEANINGS, _card_sections, _display, may_change_status

METRIC_MEANINGS: dict[str, tuple[str, str, bool]] = {
    "auc": (
        "ROC AUC",
        "Take one malignant and one benign lesion: how often did the malignant one get the "
        "higher probability? 0.5 is a coin toss, 1 a perfect ordering.",
        True,
    ),
    "brier": (
        "Brier score",
        "The average squared gap between the probability and what the lesion was "
        "(malignant 1, benign 0). 0 is perfect; always saying 50 % scores 0.25.",
        False,
    ),
    "calibration_error": (
        "Calibration error",
        "Lesions grouped in ten probability bins: the gap between each bin's mean probability "
        "and its malignant fraction, weighted by the bin's size.",
        False,
    ),
    "sensitivity": (
        "Sensitivity",
        "Of the malignant lesions, the share called malignant at the stated threshold.",
        True,
    ),
    "specificity": (
        "Specificity",
        "Of the benign lesions (or false-positive candidates), the share called benign.",
        True,
    ),
}


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="New status")

    def __init__(self, *args: Any, model: LesionModel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (s, LesionModelStatus(s).label) for s in TRANSITIONS[model.status]
        ]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _get(name: str, version: int) -> LesionModel:
    try:
        return LesionModel.objects.select_related("institution").get(name=name, version=version)
    except LesionModel.DoesNotExist:
        raise Http404("No such lesion model version.") from None


def _metric_rows(model: LesionModel) -> tuple[list[dict[str, Any]], list[int]]:
    metrics = model.metrics or {}
    if "mean" not in metrics:  # the false-positive model: one held-out split
        report = metrics.get("validation") or {}
        rows: list[dict[str, Any]] = [
            {
                "key": k,
                "name": name,
                "meaning": meaning,
                "better": "higher" if higher else "lower",
                "mean": report.get(k),
                "sd": None,
                "interval": None,
                "splits": [],
            }
            for k, (name, meaning, higher) in METRIC_MEANINGS.items()
            if k in report
        ]
        return rows, []
    splits = metrics.get("splits") or []
    rows = []
    for key, (name, meaning, higher) in METRIC_MEANINGS.items():
        if key not in metrics["mean"]:
            continue
        rows.append(
            {
                "key": key,
                "name": name,
                "meaning": meaning,
                "better": "higher" if higher else "lower",
                "mean": metrics["mean"].get(key),
                "sd": (metrics.get("sd") or {}).get(key) if len(splits) > 1 else None,
                "interval": (metrics.get("interval") or {}).get(key),
                "splits": [s.get(key) for s in splits],
            }
        )
    return rows, [int(s.get("split", i + 1)) for i, s in enumerate(splits)]


@person_required
@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    versions = list(LesionModel.objects.select_related("institution").order_by("name", "-version"))
    names: dict[str, list[LesionModel]] = {}
    for model in versions:
        names.setdefault(model.name, []).append(model)
    return render(
        request,
        "imaging/lesion_models/list.html",
        {"names": names, "versions": len(versions), "status_meanings": STATUS_MEANINGS},
    )


@person_required
@require_GET
def model_detail(request: HttpRequest, name: str, version: int) -> HttpResponse:
    user = _user(request)
    model = _get(name, version)
    metric_rows, split_ids = _metric_rows(model)
    params = dict(model.training_params or {})
    libraries = params.pop("libraries", {}) or {}
    can_change = may_change_status(user) and bool(TRANSITIONS[model.status])
    metrics = model.metrics or {}
    return render(
        request,
        "imaging/lesion_models/detail.html",
        {
            "model": model,
            "status_meaning": STATUS_MEANINGS.get(model.status, ""),
            "card": _card_sections(model.model_card or {}),
            "metric_rows": metric_rows,
            "split_ids": split_ids,
            "protocol": _display(
                metrics.get("protocol") or (metrics.get("validation") or {}).get("protocol")
            ),
            "threshold": metrics.get("threshold")
            or (metrics.get("validation") or {}).get("threshold"),
            "calibration_rows": model.calibration or [],
            "calibration_figure": lesion_calibration_figure(model.calibration or []),
            "features": model.feature_spec or [],
            "libraries": sorted(libraries.items()),
            "params": [(k.replace("_", " ").capitalize(), _display(v)) for k, v in params.items()],
            "status_form": StatusForm(model=model) if can_change else None,
            "may_change_status": may_change_status(user),
        },
    )


@person_required
@require_POST
def model_status_change(request: HttpRequest, name: str, version: int) -> HttpResponse:
    user = _user(request)
    if not may_change_status(user):
        raise PermissionDenied("Only oncologists and data managers change a model's status.")
    model = _get(name, version)
    form = StatusForm(request.POST, model=model)
    if not form.is_valid():
        allowed = ", ".join(TRANSITIONS[model.status]) or "none"
        messages.error(
            request, f"{model.name} v{model.version} is {model.status}; allowed: {allowed}."
        )
        return redirect("lesion_models:detail", name=model.name, version=model.version)
    try:
        model = lesion_model_set_status(model=model, status=form.cleaned_data["status"], actor=user)
    except LesionModelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{model.name} v{model.version} is now {model.status}.")
    return redirect("lesion_models:detail", name=model.name, version=model.version)
