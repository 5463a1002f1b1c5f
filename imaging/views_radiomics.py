"""Radiomics pages: a patient's runs (status, progress, request form), one run's features,
CSV downloads, and cohort batches (docs/radiomics-jobs.md). Thin: access and audit are the
selectors' and services' business."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.models import User
from imaging.models import RadiomicsRun, Series
from imaging.selectors_radiomics import (
    batch_patients,
    can_request_batches,
    patient_series_get,
    radiomics_batch_get,
    radiomics_batch_list,
    radiomics_run_get,
    radiomics_run_list,
)
from imaging.services.radiomics import (
    REQUESTABLE_PRESETS,
    RadiomicsRequestError,
    batch_counts,
    batch_plans,
    batch_summary,
    radiomics_batch_create,
    radiomics_csv,
    radiomics_run_request,
    run_progress,
    run_status,
    series_radiomics_masks,
)
from oncology.models import Patient
from oncology.selectors import patient_get_for_write
from oncology.views import person_required

REFRESH_SECONDS = 5
MAX_BATCH_RESEARCH_IDS = 5000


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _row(run: RadiomicsRun) -> dict[str, Any]:
    status = run_status(run)
    progress = run_progress(run) if status == "running" else None
    percent = None
    if progress and progress.get("total"):
        percent = round(100 * int(progress.get("done", 0)) / int(progress["total"]))
    error = run.job.error if status == "failed" and run.job is not None else ""
    return {"run": run, "status": status, "progress": progress, "percent": percent, "error": error}


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _targets(patient: Patient) -> list[dict[str, Any]]:
    """(series, mask) choices of the patient's image series, for the request form."""
    targets = []
    series_qs = Series.objects.filter(study__patient=patient).select_related("study")
    for series in series_qs.order_by("-study__study_date", "series_number", "pk"):
        for mask in series_radiomics_masks(series):
            targets.append(
                {
                    "value": f"{series.public_id}:{mask.id}",
                    "series": series,
                    "mask": mask,
                }
            )
    return targets


@person_required
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        return _request_run(request, public_id)
    patient, runs = radiomics_run_list(user=user, patient_public_id=public_id)
    rows = [_row(r) for r in runs]
    context = {
        "patient": patient,
        "rows": rows,
        "targets": _targets(patient) if user.can_edit_record else [],
        "presets": REQUESTABLE_PRESETS,
        "can_edit": user.can_edit_record,
        "can_batch": can_request_batches(user),
        "refresh": REFRESH_SECONDS
        if any(r["status"] in ("queued", "running") for r in rows)
        else None,
    }
    return render(request, "imaging/radiomics_list.html", context)


def _request_run(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    patient = patient_get_for_write(user=user, public_id=public_id)
    page = reverse("imaging:radiomics", kwargs={"public_id": patient.public_id})
    series_id, _, mask_id = request.POST.get("target", "").partition(":")
    try:
        series_uuid = uuid.UUID(series_id)
    except ValueError:
        messages.error(request, "Choose a series and a mask.")
        return redirect(page)
    series = patient_series_get(patient=patient, series_public_id=series_uuid)
    try:
        result = radiomics_run_request(
            actor=user,
            patient=patient,
            series=series,
            mask_id=mask_id,
            preset=request.POST.get("preset", ""),
            retry=request.POST.get("retry") == "1",
        )
    except RadiomicsRequestError as exc:
        messages.error(request, str(exc))
        return redirect(page)
    if result.created:
        messages.success(request, "Extraction queued.")
    elif result.retried:
        messages.success(request, "Extraction queued again.")
    else:
        messages.info(request, "These inputs were extracted before: showing the stored run.")
    return redirect(page)


@person_required
@require_GET
def run_detail(request: HttpRequest, public_id: uuid.UUID, run_id: uuid.UUID) -> HttpResponse:
    run = radiomics_run_get(user=_user(request), patient_public_id=public_id, run_public_id=run_id)
    row = _row(run)
    context = {
        "patient": run.patient,
        "row": row,
        **row,
        "refresh": REFRESH_SECONDS if row["status"] in ("queued", "running") else None,
        "settings_items": sorted(run.settings.items()),
        "provenance": run.provenance,
    }
    return render(request, "imaging/radiomics_run.html", context)


@person_required
@require_GET
def run_csv(request: HttpRequest, public_id: uuid.UUID, run_id: uuid.UUID) -> HttpResponse:
    run = radiomics_run_get(
        user=_user(request), patient_public_id=public_id, run_public_id=run_id, export=True
    )
    return _csv(radiomics_csv([run]), f"radiomics-{run.public_id}.csv")


# --- batches -------------------------------------------------------------------------------

_RESEARCH_ID_SPLIT = re.compile(r"[\s,;]+")


@person_required
@require_http_methods(["GET", "POST"])
def batch_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_request_batches(user):
        raise PermissionDenied("Only oncologists and data managers run cohort extractions.")
    if request.method == "POST":
        return _create_batch(request)
    shown = list(radiomics_batch_list(user=user)[:100])
    counts = batch_counts(shown)
    plans = batch_plans(shown)
    batches = [{"batch": b, "counts": counts[b.pk], "plan": plans[b.pk]} for b in shown]
    context = {"batches": batches, "presets": REQUESTABLE_PRESETS}
    return render(request, "imaging/radiomics_batches.html", context)


def _create_batch(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    page = reverse("imaging:radiomics-batches")
    preset = request.POST.get("preset", "")
    if preset not in REQUESTABLE_PRESETS:
        messages.error(request, "Choose a preset.")
        return redirect(page)
    research_ids = [t for t in _RESEARCH_ID_SPLIT.split(request.POST.get("research_ids", "")) if t]
    if len(research_ids) > MAX_BATCH_RESEARCH_IDS:
        messages.error(request, f"At most {MAX_BATCH_RESEARCH_IDS} research ids a batch.")
        return redirect(page)
    patients = batch_patients(user=user)
    if research_ids:
        patients = patients.filter(research_id__in=research_ids)
    institution = user.institution
    if institution is None:  # batch_patients refuses this already
        raise PermissionDenied("This account belongs to no institution.")
    batch = radiomics_batch_create(
        actor=user,
        institution=institution,
        patients=patients,
        preset=preset,
        modality=request.POST.get("modality", "").strip().upper()[:16],
        mask_label=request.POST.get("mask_label", "")[:64],
    )
    messages.success(request, "Batch started: its runs are being planned.")
    return redirect(reverse("imaging:radiomics-batch", kwargs={"batch_id": batch.public_id}))


@person_required
@require_GET
def batch_detail(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    batch, runs = radiomics_batch_get(user=_user(request), batch_public_id=batch_id)
    rows = [_row(r) for r in runs]
    counts = batch_summary(runs)
    plan = batch_plans([batch])[batch.pk]
    planning = plan["status"] in ("queued", "running")
    context = {
        "batch": batch,
        "rows": rows,
        "counts": counts,
        "plan": plan,
        "planning": planning,
        "refresh": REFRESH_SECONDS if planning or counts["queued"] or counts["running"] else None,
    }
    return render(request, "imaging/radiomics_batch.html", context)


@person_required
@require_GET
def batch_csv(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    batch, runs = radiomics_batch_get(user=_user(request), batch_public_id=batch_id, export=True)
    return _csv(radiomics_csv(runs), f"radiomics-batch-{batch.public_id}.csv")
