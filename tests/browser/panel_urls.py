"""The site's URLs plus one test-only page that shows the outcomes panel of a prediction, for
tests/browser/test_outcomes_panel.py (set as ROOT_URLCONF by that test only; the board's case
page, which includes the same panel, is tested by its own journey)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.template import Context, RequestContext, Template
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from oncology.board_panel import outcomes_panel_context
from oncology.models import Prediction

PAGE = Template(
    "{% extends 'base.html' %}{% block content %}"
    "{% include 'oncology/board/_outcomes_panel.html' %}{% endblock %}"
)


def panel_page(request: HttpRequest, prediction_id: uuid.UUID) -> HttpResponse:
    # Test-only: no access check (the test signs in as the patient's care team anyway).
    prediction = Prediction.objects.select_related("model").get(public_id=prediction_id)
    panel = outcomes_panel_context(
        prediction=prediction, user=request.user, reference=request.GET.get("reference")
    )
    context: Context = RequestContext(request, {"panel": panel})
    return HttpResponse(PAGE.render(context))


urlpatterns = [
    *site_urlpatterns,
    path("test-only/outcomes-panel/<uuid:prediction_id>/", panel_page, name="test-outcomes-panel"),
]
