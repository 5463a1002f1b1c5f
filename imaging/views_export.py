"""Research export pages: choose series of a patient and say why (patient -> imaging ->
research export), the list of my exports with their status, and the download.

Each request that touches patient data leaves its audit events: VIEW for the choice page (and
for a refused form), the service's CREATE per patient for a created export, EXPORT per patient
for a download. The list shows no patient data.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core.jobs import job_progress
from core.models import User
from imaging.models import Study
from imaging.selectors_export import (
    download_filename,
    export_choices,
    research_export_list,
    research_export_open,
)
from imaging.services.deid_keys import DeidKeyError
from imaging.services.export import (
    PURPOSE_MAX_CHARS,
    ExportNotReady,
    research_export_create,
    research_export_status,
)
from oncology.views import person_required


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class ResearchExportForm(forms.Form):
    series = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one series."},
    )
    purpose = forms.CharField(
        max_length=PURPOSE_MAX_CHARS,
        help_text="What the export is for (e.g. the study or request it serves). Recorded with "
        "the export; do not write patient details here.",
    )

    def __init__(self, *args: object, studies: list[Study], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["series"].choices = [  # type: ignore[attr-defined]
            (str(se.public_id), str(se.public_id)) for st in studies for se in st.series.all()
        ]


@person_required
@require_http_methods(["GET", "POST"])
def export_create(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    posted = request.method == "POST"
    patient, studies_qs = export_choices(user=user, patient_public_id=public_id, audit=not posted)
    studies = list(studies_qs)
    form = ResearchExportForm(request.POST if posted else None, studies=studies)
    if posted:
        if form.is_valid():
            try:
                export = research_export_create(
                    user=user,
                    series_public_ids=form.cleaned_data["series"],
                    purpose=form.cleaned_data["purpose"],
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            except DeidKeyError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"Research export {export.public_id} was queued; it appears below."
                )
                return redirect("imaging:export-list")
        # Refused: the request's one event is the page shown again.
        export_choices(user=user, patient_public_id=public_id)
    return render(
        request,
        "imaging/export_create.html",
        {"patient": patient, "studies": studies, "form": form},
    )


@person_required
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    exports = list(research_export_list(user=_user(request)))
    rows = []
    for export in exports:
        status = research_export_status(export)
        progress = job_progress(export.job) if export.job and status == "running" else None
        rows.append({"export": export, "status": status, "progress": progress})
    return render(
        request,
        "imaging/export_list.html",
        {
            "rows": rows,
            "refresh": any(r["status"] in ("queued", "running") for r in rows),
        },
    )


@person_required
@require_GET
def export_download(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    try:
        export, handle = research_export_open(user=_user(request), public_id=export_id)
    except ExportNotReady:
        messages.error(request, "That export has no file yet.")
        return redirect("imaging:export-list")
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=download_filename(export),
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response  # type: ignore[return-value]  # streamed; person_required types HttpResponse
