from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.models import AuditEvent


@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    """Administrators browse the trail. Events hold ids only, so this page shows no PHI."""
    if not request.user.can_browse_audit:  # type: ignore[union-attr]
        raise PermissionDenied
    events = AuditEvent.objects.select_related("actor").order_by("-id")
    filters = {}
    for param, lookup in (
        ("actor", "actor_username"),
        ("action", "action"),
        ("object_type", "object_type"),
        ("patient", "patient_id"),
        ("request", "request_id"),
    ):
        value = request.GET.get(param, "").strip()
        if value:
            if lookup == "patient_id" and not value.isdigit():
                continue
            events = events.filter(**{lookup: value})
            filters[param] = value
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "core/audit_trail.html", {"page": page, "filters": filters})
