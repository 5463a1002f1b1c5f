"""Imaging pages (namespace "imaging"). The viewer's routes are added beside these."""

from django.urls import path

from imaging import views_ingest, views_radiomics, views_screening
from imaging.urls_export import export_urlpatterns
from imaging.urls_viewer import viewer_urlpatterns

app_name = "imaging"
urlpatterns = [
    path("patients/<uuid:public_id>/imaging/", views_ingest.study_list, name="study-list"),
    path("patients/<uuid:public_id>/imaging/upload/", views_ingest.upload, name="ingest-upload"),
    path("imaging/unmatched/", views_ingest.queue_list, name="queue"),
    path("imaging/unmatched/<uuid:entry_id>/", views_ingest.queue_resolve, name="queue-resolve"),
    *viewer_urlpatterns,
    # Radiomics (docs/radiomics-jobs.md)
    path("patients/<uuid:public_id>/radiomics/", views_radiomics.run_list, name="radiomics"),
    path(
        "patients/<uuid:public_id>/radiomics/<uuid:run_id>/",
        views_radiomics.run_detail,
        name="radiomics-run",
    ),
    path(
        "patients/<uuid:public_id>/radiomics/<uuid:run_id>/csv",
        views_radiomics.run_csv,
        name="radiomics-run-csv",
    ),
    path("radiomics/batches/", views_radiomics.batch_list, name="radiomics-batches"),
    path(
        "radiomics/batches/<uuid:batch_id>/", views_radiomics.batch_detail, name="radiomics-batch"
    ),
    path(
        "radiomics/batches/<uuid:batch_id>/csv",
        views_radiomics.batch_csv,
        name="radiomics-batch-csv",
    ),
    *export_urlpatterns,
    # Lung screening (docs/screening.md)
    path("screening/", views_screening.worklist_page, name="screening"),
    path(
        "screening/batches/<uuid:batch_id>/",
        views_screening.batch_page,
        name="screening-batch",
    ),
    path("screening/runs/<uuid:run_id>/", views_screening.run_page, name="screening-run"),
    path(
        "screening/findings/<uuid:finding_id>/review/",
        views_screening.finding_review_page,
        name="screening-finding-review",
    ),
    path(
        "screening/findings/<uuid:finding_id>/malignancy/",
        views_screening.finding_malignancy,
        name="screening-finding-malignancy",
    ),
    path(
        "patients/<uuid:public_id>/imaging/series/<uuid:series_id>/findings.json",
        views_screening.viewer_findings,
        name="viewer-findings",
    ),
]
