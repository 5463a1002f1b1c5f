"""Routes of the research export API, included by imaging/api/urls.py (under /api/v1/)."""

from __future__ import annotations

from django.urls import path

from imaging.api import views_export

export_api_urlpatterns = [
    path(
        "imaging/exports/",
        views_export.ResearchExportListView.as_view(),
        name="api-research-export-list",
    ),
    path(
        "imaging/exports/<uuid:export_id>/",
        views_export.ResearchExportDetailView.as_view(),
        name="api-research-export-detail",
    ),
    path(
        "imaging/exports/<uuid:export_id>/download",
        views_export.ResearchExportDownloadView.as_view(),
        name="api-research-export-download",
    ),
]
