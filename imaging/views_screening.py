"""Lung-screening pages: the worklist (runs by highest candidate score, batch progress, the
form that starts a batch), a batch's runs, one run's findings with confirm/reject, and the
findings layer the viewer draws (docs/screening.md). Thin: access and audit are the selectors'
and services' business."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.models import User
from imaging.models import Finding, LesionPrediction, ScreeningRun, Series
from imaging.selectors_screening import (
    can_request_screening,
    can_review,
    finding_get_for_review,
    run_findings,
    screening_batch_get,
    screening_batch_list,
    screening_patients,
    screening_run_get,
    series_findings,
    worklist,
)
from imaging.services.screening import (
    ScreeningRequestError,
    batch_counts,
    institution_ranking,
    pending_counts,
    ranking_note,
    run_error,
    run_progress,
    run_state,
    screening_batch_create,
)
from imaging.services.screening_review import finding_review
from imaging.views_viewer import _series_for_image
from oncology.views import person_required

REFRESH_SECONDS = 5
MAX_RESEARCH_IDS = 5000
_SPLIT = re.compile(r"[\s,;]+")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _row(run: ScreeningRun, pending: int | None = None) -> dict[str, Any]:
    state = run_state(run)
    progress = run_progress(run) if state == "running" else None
    percent = None
    if progress and progress.get("total"):
        percent = round(100 * int(progress.get("done", 0)) / int(progress["total"]))
    return {
        "run": run,
        "status": state,
        "progress": progress,
        "percent": percent,
        "error": run_error(run) if state == "failed" else "",
        "pending": pending,
        "ranking_note": ranking_note(run),
    }


def viewer_url(finding: Finding) -> str:
    run = finding.run
    url = reverse(
        "imaging:viewer",
        kwargs={"public_id": run.patient.public_id, "series_id": run.series.public_id},
    )
    return f"{url}?finding={finding.public_id}"


@person_required
@require_http_methods(["GET", "POST"])
def worklist_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        return _create_batch(request)
    runs = worklist(user=user, status=request.GET.get("status", "")[:10])
    pending = pending_counts(runs)
    rows = [_row(r, pending[r.pk]) for r in runs]
    batches = list(screening_batch_list(user=user)[:10])
    counts = batch_counts(batches)
    context = {
        "rows": rows,
        "batches": [{"batch": b, "counts": counts[b.pk]} for b in batches],
        "can_request": can_request_screening(user),
        "ranking": institution_ranking(user.institution),
        "refresh": REFRESH_SECONDS
        if any(r["status"] in ("queued", "running") for r in rows)
        else None,
    }
    return render(request, "imaging/screening_worklist.html", context)


def _create_batch(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    page = reverse("imaging:screening")
    research_ids = [t for t in _SPLIT.split(request.POST.get("research_ids", "")) if t]
    if len(research_ids) > MAX_RESEARCH_IDS:
        messages.error(request, f"At most {MAX_RESEARCH_IDS} research ids a batch.")
        return redirect(page)
    patients = screening_patients(user=user)
    if research_ids:
        patients = patients.filter(research_id__in=research_ids)
    institution = user.institution
    if institution is None:  # screening_patients refuses this already
        raise PermissionDenied("This account belongs to no institution.")
    result = screening_batch_create(actor=user, institution=institution, patients=patients)
    messages.success(
        request,
        f"Screening started: {len(result.queued)} series queued, "
        f"{len(result.already)} screened before with these settings.",
    )
    return redirect(reverse("imaging:screening-batch", kwargs={"batch_id": result.batch.public_id}))


@person_required
@require_GET
def batch_page(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    batch, runs = screening_batch_get(user=_user(request), batch_public_id=batch_id)
    pending = pending_counts(runs)
    rows = [_row(r, pending[r.pk]) for r in runs]
    counts = dict.fromkeys(("queued", "running", "done", "failed"), 0)
    for row in rows:
        counts[row["status"]] += 1
    total = len(rows)
    context = {
        "batch": batch,
        "rows": rows,
        "counts": counts,
        "total": total,
        "percent": round(100 * (counts["done"] + counts["failed"]) / total) if total else 100,
        "refresh": REFRESH_SECONDS if counts["queued"] or counts["running"] else None,
    }
    return render(request, "imaging/screening_batch.html", context)


@person_required
@require_GET
def run_page(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    run = screening_run_get(user=user, run_public_id=run_id)
    row = _row(run)
    findings = run_findings(run)
    from imaging.services import lesion_models

    malignancy = {
        p.finding_id: p
        for p in LesionPrediction.objects.filter(finding__in=findings, model__kind="malignancy")
        .select_related("model")
        .order_by("created_at", "id")
    }  # the latest per finding wins
    context = {
        "patient": run.patient,
        "row": row,
        **row,
        "findings": [
            {"finding": f, "viewer_url": viewer_url(f), "malignancy": malignancy.get(f.pk)}
            for f in findings
        ],
        "malignancy_model": lesion_models.finding_malignancy_model(run.patient.institution),
        "can_review": can_review(user),
        "volumes": (run.lungs or {}).get("volumes_ml") or {},
        "warnings": list((run.lungs or {}).get("warnings") or [])
        + list((run.lungs or {}).get("volume_warnings") or []),
        "refresh": REFRESH_SECONDS if row["status"] in ("queued", "running") else None,
    }
    return render(request, "imaging/screening_run.html", context)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@person_required
@require_POST
def finding_review_page(request: HttpRequest, finding_id: uuid.UUID) -> HttpResponse:
    """POST decision=confirm|reject. JSON for the viewer (Accept: application/json), else a
    redirect back to the run page (or a same-site `next`)."""
    user = _user(request)
    finding = finding_get_for_review(user=user, finding_public_id=finding_id)
    decision = request.POST.get("decision", "")
    try:
        result = finding_review(actor=user, finding=finding, decision=decision)
    except ScreeningRequestError as exc:
        if _wants_json(request):
            return JsonResponse({"error": str(exc)}, status=422)
        messages.error(request, str(exc))
    else:
        if _wants_json(request):
            return JsonResponse(_finding_json(result.finding, can_review=True))
        word = "confirmed" if result.finding.status == "confirmed" else "rejected"
        if result.changed:
            messages.success(request, f"Finding #{result.finding.rank} {word}.")
        else:
            messages.info(request, f"Finding #{result.finding.rank} was already {word}.")
    fallback = reverse("imaging:screening-run", kwargs={"run_id": finding.run.public_id})
    target = request.POST.get("next", "")
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = fallback
    return redirect(target)


@person_required
@require_POST
def finding_malignancy(request: HttpRequest, finding_id: uuid.UUID) -> HttpResponse:
    """POST: the finding's malignancy probability from the site's active CT malignancy model
    (imaging/services/lesion_models.py, which stores and audits the prediction)."""
    from imaging.services import lesion_models

    user = _user(request)
    finding = finding_get_for_review(user=user, finding_public_id=finding_id)
    try:
        prediction = lesion_models.predict_finding_malignancy(finding=finding, actor=user)
    except lesion_models.LesionModelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Finding #{finding.rank}: malignancy probability {prediction.probability:.2f} "
            f"({prediction.model.name} v{prediction.model.version}).",
        )
    return redirect(reverse("imaging:screening-run", kwargs={"run_id": finding.run.public_id}))


def _finding_json(finding: Finding, *, can_review: bool) -> dict[str, Any]:
    return {
        "id": str(finding.public_id),
        "rank": finding.rank,
        "score": finding.score,
        "centre_voxel": finding.centre_voxel,
        "diameter_mm": finding.diameter_mm,
        "nodule_type": finding.nodule_type,
        "nodule_type_label": finding.get_nodule_type_display(),
        "mean_hu": finding.mean_hu,
        "status": finding.status,
        "review_url": reverse("imaging:screening-finding-review", args=[finding.public_id])
        if can_review
        else None,
    }


@person_required
@require_GET
def viewer_findings(
    request: HttpRequest, public_id: uuid.UUID, series_id: uuid.UUID
) -> HttpResponse:
    """The viewer's findings layer: the series' latest finished screening and its findings.
    Access-checked and audited like the viewer's other image requests (one VIEW event on the
    series outside an open viewing)."""
    _, series = _series_for_image(request, public_id, series_id, "findings")
    return JsonResponse(_findings_payload(_user(request), series))


def _findings_payload(user: User, series: Series) -> dict[str, Any]:
    run, findings = series_findings(series=series)
    allowed = can_review(user)
    if run is None:
        return {"run": None, "findings": [], "can_review": allowed}
    return {
        "run": {
            "id": str(run.public_id),
            "url": reverse("imaging:screening-run", kwargs={"run_id": run.public_id}),
            "ranking": run.ranking,
            "ranking_note": ranking_note(run),
        },
        "findings": [_finding_json(f, can_review=allowed) for f in findings],
        "can_review": allowed,
    }
