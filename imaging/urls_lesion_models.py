"""Routes of the lesion-model registry pages (imaging/views_lesion_models.py), included by
config/urls.py under ``lesion-models/`` (namespace "lesion_models")."""

from __future__ import annotations

from django.urls import path

from imaging import views_lesion_models

app_name = "lesion_models"
urlpatterns = [
    path("", views_lesion_models.model_list, name="list"),
    path("<slug:name>/<int:version>/", views_lesion_models.model_detail, name="detail"),
    path(
        "<slug:name>/<int:version>/status/",
        views_lesion_models.model_status_change,
        name="status",
    ),
]
