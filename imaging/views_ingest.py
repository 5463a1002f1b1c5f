"""Imaging pages: a patient's studies, the DICOM upload with its per-file result table, and
the unmatched-study queue of the institution's data managers.

Each request that touches patient data leaves exactly one audit event: LIST for the study list,
VIEW for the upload form (and for an upload that changed nothing), the ingest service's CREATE
for an upload that stored instances, LIST/VIEW for the queue and the service's CREATE for a
resolved entry.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core.audit import audit_record
from core.models import AuditAction, User
from imaging import selectors
from imaging.services.ingest import AUDIT_OBJECT, STORED
from imaging.services.queue import unmatched_study_resolve
from imaging.services.zipfiles import UploadedDicom, dicom_ingest_upload, max_upload_bytes
from oncology.models import Patient
from oncology.selectors import patient_get_for_write
from oncology.views import person_required

MAX_FILES_PER_UPLOAD = 2_000
# The MRN typed to resolve a queue entry is kept in the session, never in a URL.
_QUEUE_SEARCH_KEY = "imaging.queue.mrn"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _audit_form_view(user: User, patient: Patient) -> None:
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type=AUDIT_OBJECT,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )


@person_required
@require_GET
def study_list(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    patient, studies = selectors.study_list(user=user, patient_public_id=public_id)
    return render(
        request,
        "imaging/ingest_study_list.html",
        {"patient": patient, "studies": list(studies), "can_edit": user.can_edit_record},
    )


@person_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = _user(request)
    patient = patient_get_for_write(user=user, public_id=public_id)
    context = {
        "patient": patient,
        "max_upload_mb": max_upload_bytes() // (1024 * 1024),
        "results": None,
        "error": "",
    }
    if request.method == "POST":
        files = request.FILES.getlist("files")
        if not files:
            context["error"] = "Choose one or more DICOM files or zip archives."
        elif len(files) > MAX_FILES_PER_UPLOAD:
            context["error"] = f"At most {MAX_FILES_PER_UPLOAD} files in one upload; use a zip."
        else:
            results = dicom_ingest_upload(
                actor=user,
                institution=patient.institution,
                files=[UploadedDicom(name=f.name or "", file=f, size=f.size) for f in files],
                channel="upload",
                patient=patient,
            )
            context["results"] = results
            context["counts"] = {
                s: sum(1 for r in results if r.status == s)
                for s in ("stored", "duplicate", "unmatched", "rejected")
            }
            if not any(r.status == STORED for r in results):
                _audit_form_view(user, patient)  # nothing stored: the request's one event
            return render(request, "imaging/ingest_upload.html", context)
    _audit_form_view(user, patient)
    return render(request, "imaging/ingest_upload.html", context)


@person_required
@require_GET
def queue_list(request: HttpRequest) -> HttpResponse:
    entries = list(selectors.unmatched_list(user=_user(request)))
    return render(request, "imaging/queue_list.html", {"entries": entries})


@person_required
@require_http_methods(["GET", "POST"])
def queue_resolve(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """GET: the entry and an MRN search. POST action=search: look the MRN up (kept in the
    session, redirect). POST action=resolve: index the held instances under the found patient."""
    user = _user(request)
    if request.method == "POST" and request.POST.get("action") == "search":
        entry = selectors.unmatched_get(user=user, public_id=entry_id)
        request.session[_QUEUE_SEARCH_KEY] = {
            "entry": str(entry.public_id),
            "mrn": request.POST.get("mrn", "").strip()[:64],
        }
        return redirect("imaging:queue-resolve", entry_id=entry.public_id)
    search = request.session.get(_QUEUE_SEARCH_KEY) or {}
    mrn = search.get("mrn", "") if search.get("entry") == str(entry_id) else ""
    if request.method == "POST" and request.POST.get("action") == "resolve":
        entry = selectors.unmatched_get(user=user, public_id=entry_id, audit=False)
        patient = (
            selectors.unmatched_patient_search(user=user, entry=entry, mrn=mrn, audit=False)
            if mrn
            else None
        )
        if patient is None or str(patient.public_id) != request.POST.get("patient", ""):
            selectors.unmatched_get(user=user, public_id=entry_id)  # the request's one event
            messages.error(request, "Search for the patient by MRN first, then confirm.")
            return redirect("imaging:queue-resolve", entry_id=entry.public_id)
        try:
            unmatched_study_resolve(actor=user, entry=entry, patient=patient)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("imaging:queue-resolve", entry_id=entry.public_id)
        request.session.pop(_QUEUE_SEARCH_KEY, None)
        messages.success(request, "The study was filed under the patient.")
        return redirect("imaging:queue")
    if mrn:
        entry = selectors.unmatched_get(user=user, public_id=entry_id, audit=False)
        patient = selectors.unmatched_patient_search(user=user, entry=entry, mrn=mrn)
    else:
        entry = selectors.unmatched_get(user=user, public_id=entry_id)
        patient = None
    return render(
        request,
        "imaging/queue_resolve.html",
        {
            "entry": entry,
            "held": list(entry.held_instances.order_by("series_number", "instance_number")[:500]),
            "mrn": mrn,
            "candidate": patient,
        },
    )
