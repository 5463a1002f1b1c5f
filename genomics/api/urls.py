from django.urls import path

from genomics.api import views

urlpatterns = [
    path(
        "patients/<uuid:public_id>/genomic-reports/",
        views.GenomicReportListCreateView.as_view(),
        name="api-genomic-report-list",
    ),
    path(
        "patients/<uuid:public_id>/genomic-reports/<uuid:report_id>/",
        views.GenomicReportDetailView.as_view(),
        name="api-genomic-report-detail",
    ),
]
