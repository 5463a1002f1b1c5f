"""Routes of the outcome-model registry pages (oncology/views_outcomes.py), included by
config/urls.py under ``outcome-models/`` (namespace "outcome_models")."""

from __future__ import annotations

from django.urls import path

from oncology import views_outcomes

app_name = "outcome_models"
urlpatterns = [
    path("", views_outcomes.model_list, name="list"),
    path("<slug:name>/<int:version>/", views_outcomes.model_detail, name="detail"),
    path(
        "<slug:name>/<int:version>/status/",
        views_outcomes.model_status_change,
        name="status",
    ),
]
