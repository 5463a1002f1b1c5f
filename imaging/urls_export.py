"""Routes of the research export, included by imaging/urls.py (namespace "imaging")."""

from __future__ import annotations

from django.urls import path

from imaging import views_export

export_urlpatterns = [
    path(
        "patients/<uuid:public_id>/imaging/export/",
        views_export.export_create,
        name="export-create",
    ),
    path("imaging/exports/", views_export.export_list, name="export-list"),
    path(
        "imaging/exports/<uuid:export_id>/download/",
        views_export.export_download,
        name="export-download",
    ),
]
