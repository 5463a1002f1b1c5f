"""Cohort CSV import pages: upload and dry-run preview, confirm, job status.

Data managers and administrators (User.can_import_cohorts) import into their own institution;
every other role gets 403, and an import of another institution is a 404. The preview runs the
real upsert and rolls it back, so these pages write nothing but the job row; the job's writes
leave the audit events (one per patient record, by the sync service).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.models import JobStatus, User
from oncology.imports.cohort_csv import COLUMNS, REQUIRED_COLUMNS
from oncology.services import imports

_PREVIEW_SIGNING_SALT = "oncology.cohort-import.upload"
_PREVIEW_MAX_AGE = 24 * 3600
STATUS_REFRESH_SECONDS = 3


class CohortUploadForm(forms.Form):
    file = forms.FileField(
        label="Cohort CSV file",
        help_text="UTF-8 CSV, one row per patient, in the documented cohort format.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


_LABELS = {
    # status: (dry run, applied)
    "created": ("Would create", "Created"),
    "updated": ("Would update", "Updated"),
    "unchanged": ("Unchanged", "Unchanged"),
    "error": ("Error", "Error"),
}


def _labelled(summary: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """The summary with display labels added (a copy: Job.result stays as stored)."""
    which = 0 if dry_run else 1
    rows = [{**row, "label": _LABELS[row["status"]][which]} for row in summary.get("rows", [])]
    counts = [
        {"status": status, "label": _LABELS[status][which], "count": n}
        for status, n in summary.get("counts", {}).items()
    ]
    return {**summary, "rows": rows, "labelled_counts": counts}


def _importer(request: HttpRequest) -> tuple[User, Any]:
    user: User = request.user  # type: ignore[assignment]
    return user, imports.cohort_import_check_actor(actor=user)


def _list_context(user: User, form: CohortUploadForm) -> dict[str, Any]:
    return {
        "form": form,
        "jobs": imports.cohort_import_jobs(actor=user),
        "required_columns": REQUIRED_COLUMNS,
        "columns": [c.name for c in COLUMNS],
        "max_rows": imports.max_rows(),
        "max_mb": imports.max_bytes() // (1024 * 1024),
    }


@login_required
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    """GET: the upload form and recent imports. POST: store the file and show the dry run."""
    user, institution = _importer(request)
    form = (
        CohortUploadForm(request.POST, request.FILES)
        if request.method == "POST"
        else CohortUploadForm()
    )
    if form.is_bound and form.is_valid():
        try:
            upload = imports.cohort_upload_store(file=form.cleaned_data["file"])
            preview = imports.cohort_import_preview(
                actor=user, institution=institution, upload=upload
            )
        except imports.ImportRefused as exc:
            form.add_error("file", str(exc))
        else:
            # Only a clean dry run gets a token: without one, nothing can be confirmed.
            can_confirm = not preview["file_errors"] and preview["counts"]["error"] == 0
            token = (
                signing.dumps(
                    {**upload.as_dict(), "user": user.pk, "institution": institution.pk},
                    salt=_PREVIEW_SIGNING_SALT,
                )
                if can_confirm
                else None
            )
            if not can_confirm:
                imports.cohort_upload_discard(upload=upload)  # it can never be confirmed
            return render(
                request,
                "oncology/import_preview.html",
                {
                    "preview": _labelled(preview, dry_run=True),
                    "token": token,
                    "can_confirm": can_confirm,
                },
            )
    return render(request, "oncology/import_list.html", _list_context(user, form))


@login_required
@require_POST
def import_confirm(request: HttpRequest) -> HttpResponse:
    """Start (or find) the import job of a previewed upload."""
    user, institution = _importer(request)
    try:
        data = signing.loads(
            request.POST.get("token", ""), salt=_PREVIEW_SIGNING_SALT, max_age=_PREVIEW_MAX_AGE
        )
        if data["user"] != user.pk or data["institution"] != institution.pk:
            raise PermissionDenied("This upload belongs to another user.")
        upload = imports.StoredUpload.from_dict(data)
    except (signing.BadSignature, KeyError, TypeError, ValueError, imports.ImportRefused):
        messages.error(request, "That preview has expired or is not valid; upload the file again.")
        return redirect("imports:list")
    job, created = imports.cohort_import_start(actor=user, institution=institution, upload=upload)
    if not created:
        messages.info(request, "This file was already imported by you; showing that import.")
    return redirect("imports:status", public_id=job.public_id)


@login_required
@require_http_methods(["GET"])
def import_status(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user, _ = _importer(request)
    job = imports.cohort_import_job_get(actor=user, public_id=public_id)
    if job is None:
        raise Http404("No such import")
    finished = job.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}
    response = render(
        request,
        "oncology/import_status.html",
        {
            "job": job,
            "finished": finished,
            "summary": _labelled(job.result or {}, dry_run=False),
            "refresh_seconds": STATUS_REFRESH_SECONDS,
        },
    )
    if not finished:
        # The browser reloads the page by itself: no script, nothing for the CSP to allow.
        response["Refresh"] = str(STATUS_REFRESH_SECONDS)
    return response
