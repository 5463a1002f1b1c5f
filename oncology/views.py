"""Server-rendered pages of the clinical record.

Every page reads patients through oncology.selectors (access rule + audit event) and writes
through oncology.services.records (validation + audit event), so each request that touches
patient data leaves exactly one audit event: VIEW/LIST for a page or a rejected form, the
service's CREATE/UPDATE/DELETE for an accepted one.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.audit import audit_record
from core.models import AuditAction, User
from oncology import catalogues, record_page, selectors
from oncology.forms import (
    SECTIONS,
    PatientCreateForm,
    PatientForm,
    apply_errors,
    validation_error_dict,
)
from oncology.models import RECORD_SECTIONS, Patient
from oncology.services import records

PAGE_SIZE = 25

View = Callable[..., HttpResponse]


def person_required(view: View) -> View:
    """Signed-in people only: integration clients (hospital systems) use the API, not pages."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_integration_client:  # type: ignore[union-attr]
            raise PermissionDenied("Integration clients use the API.")
        return view(request, *args, **kwargs)

    return wrapped


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _today() -> dt.date:
    return timezone.localdate()


def _audit_view(
    request: HttpRequest, patient: Patient, object_type: str, object_id: object = ""
) -> None:
    """The one event of a form page shown (empty, or again with its errors)."""
    audit_record(
        actor=_user(request),
        action=AuditAction.VIEW,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )


def _section(section: str) -> Any:
    if section not in SECTIONS:
        raise Http404("No such section")
    return SECTIONS[section]


def _model_name(section: str) -> str:
    return RECORD_SECTIONS[section]._meta.model_name or section


def _patient_url(patient: Patient, anchor: str = "") -> str:
    url = reverse("oncology:patient-detail", kwargs={"public_id": patient.public_id})
    return f"{url}#{anchor}" if anchor else url


# ---------------------------------------------------------------------------------------------
# Patients
# ---------------------------------------------------------------------------------------------


# The search term (a name or MRN) is posted and kept in the session, never put in the URL,
# where it would reach browser history and access logs.
_SEARCH_KEY = "patient_search"


@person_required
@require_http_methods(["GET", "POST"])
def patient_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        request.session[_SEARCH_KEY] = request.POST.get("q", "").strip()[:100]
        return redirect("oncology:patient-list")
    user = _user(request)
    search = request.session.get(_SEARCH_KEY, "")
    patients = selectors.patient_list(user=user, search=search)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    prefetch_related_objects(rows, "diagnoses")
    today = _today()
    entries = []
    for patient in rows:
        primary = record_page.primary_diagnosis(list(patient.diagnoses.all()))
        entries.append(
            {
                "patient": patient,
                "age": record_page.patient_age(patient, today),
                "primary": primary,
                "primary_label": record_page.diagnosis_label(primary),
                "stage": record_page.stage_of(primary),
            }
        )
    return render(
        request,
        "oncology/patient_list.html",
        {"page": page, "entries": entries, "search": search, "can_edit": user.can_edit_record},
    )


@person_required
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.can_edit_record:
        raise PermissionDenied
    form = PatientCreateForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "care_team"}
        try:
            patient = records.patient_create(
                user=user, care_team=form.cleaned_data["care_team"], values=values
            )
        except ValidationError as exc:
            apply_errors(form, validation_error_dict(exc))
        else:
            messages.success(request, "Patient created.")
            return redirect(_patient_url(patient))
    # No patient exists yet, so showing this form reads no patient data and writes no event.
    return render(
        request,
        "oncology/patient_form.html",
        {"form": form, "patient": None, "title": "New patient"},
    )


@person_required
@require_GET
def patient_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    user = _user(request)
    patient = selectors.patient_get(user=user, public_id=public_id)
    # One query per section whatever the record's size: the page's cost stays flat.
    prefetch_related_objects([patient], "care_teams", *RECORD_SECTIONS)
    today = _today()
    ecog = record_page.latest_ecog(patient)
    bmi = record_page.latest_bmi(patient)
    primary = record_page.primary_diagnosis(list(patient.diagnoses.all()))
    return render(
        request,
        "oncology/patient_detail.html",
        {
            "patient": patient,
            "age": record_page.patient_age(patient, today),
            "ecog": ecog,
            "bmi": bmi,
            "charlson": record_page.charlson(patient, today),
            "primary": primary,
            "primary_label": record_page.diagnosis_label(primary),
            "stage": record_page.stage_of(primary),
            "sections": record_page.section_tables(patient, SECTIONS),
            "timeline": record_page.timeline(patient),
            "can_edit": user.can_edit_record,
        },
    )


@person_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    user = _user(request)
    patient = selectors.patient_get_for_write(user=user, public_id=public_id)
    # The form works on a copy: ModelForm validation writes posted values onto its instance,
    # and the service compares them with the stored ones.
    form = PatientForm(request.POST or None, instance=copy.copy(patient))
    if request.method == "POST" and form.is_valid():
        try:
            records.patient_update(user=user, patient=patient, values=form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, validation_error_dict(exc))
        else:
            messages.success(request, "Patient details saved.")
            return redirect(_patient_url(patient))
    _audit_view(request, patient, "patient", patient.public_id)
    return render(
        request,
        "oncology/patient_form.html",
        {"form": form, "patient": patient, "title": "Edit patient details"},
    )


# ---------------------------------------------------------------------------------------------
# Record sections: one generic view set driven by forms.SECTIONS
# ---------------------------------------------------------------------------------------------


def _section_form_page(
    request: HttpRequest, public_id: str, section: str, pk: int | None
) -> HttpResponse:
    user = _user(request)
    spec = _section(section)
    patient = selectors.patient_get_for_write(user=user, public_id=public_id)
    record = records.record_get(patient=patient, section=section, pk=pk) if pk else None
    form = spec.form(request.POST or None, instance=copy.copy(record), patient=patient)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            if record is None:
                records.record_create(user=user, patient=patient, section=section, values=values)
            else:
                records.record_update(
                    user=user, patient=patient, section=section, record=record, values=values
                )
        except ValidationError as exc:
            apply_errors(form, validation_error_dict(exc))
        else:
            messages.success(request, f"{spec.singular.capitalize()} saved.")
            for warning in records.record_warnings(section=section, values=values):
                messages.warning(request, f"Please check: {warning}")
            return redirect(_patient_url(patient, section))
    _audit_view(request, patient, _model_name(section), pk or "")
    return render(
        request,
        "oncology/section_form.html",
        {
            "form": form,
            "patient": patient,
            "spec": spec,
            "section": section,
            "record": record,
            "title": f"{'Edit' if record else 'Add'} {spec.singular}",
        },
    )


@person_required
@require_http_methods(["GET", "POST"])
def record_create(request: HttpRequest, public_id: str, section: str) -> HttpResponse:
    return _section_form_page(request, public_id, section, None)


@person_required
@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, public_id: str, section: str, pk: int) -> HttpResponse:
    return _section_form_page(request, public_id, section, pk)


@person_required
@require_http_methods(["GET", "POST"])
def record_delete(request: HttpRequest, public_id: str, section: str, pk: int) -> HttpResponse:
    """GET asks for confirmation; only POST deletes."""
    user = _user(request)
    spec = _section(section)
    patient = selectors.patient_get_for_write(user=user, public_id=public_id)
    record = records.record_get(patient=patient, section=section, pk=pk)
    if request.method == "POST":
        records.record_delete(user=user, patient=patient, section=section, record=record)
        messages.success(request, f"{spec.singular.capitalize()} deleted.")
        return redirect(_patient_url(patient, section))
    _audit_view(request, patient, _model_name(section), pk)
    return render(
        request,
        "oncology/section_confirm_delete.html",
        {
            "patient": patient,
            "spec": spec,
            "section": section,
            "record": record,
            "summary": record_page.record_summary(record, spec),
        },
    )


# ---------------------------------------------------------------------------------------------
# Form helpers without patient data
# ---------------------------------------------------------------------------------------------


@person_required
@require_GET
def tnm_options(request: HttpRequest) -> JsonResponse:
    """Valid T/N/M categories for a topography and, given T, N and M, the derived stage group.

    Reference data only (no patient data), so no audit event.
    """
    site = request.GET.get("site", "")[:6]
    morphology = request.GET.get("morphology", "")[:7]
    t, n, m = (request.GET.get(axis, "")[:8] for axis in ("t", "n", "m"))
    stage = catalogues.derive_stage(site, t, n, m, morphology) if t and n and m else ""
    return JsonResponse({"categories": catalogues.tnm_categories(site, morphology), "stage": stage})
