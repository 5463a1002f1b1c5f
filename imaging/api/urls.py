from django.urls import path, re_path

from imaging.api import views_dicomweb, views_ingest, views_radiomics, views_screening
from imaging.api.urls_dicomweb import STUDY_PATTERN, dicomweb_urlpatterns
from imaging.api.urls_export import export_api_urlpatterns

urlpatterns = [
    path(
        "patients/<uuid:public_id>/dicom/",
        views_ingest.DicomUploadView.as_view(),
        name="api-dicom-upload",
    ),
    # DICOMweb (docs/interop-dicomweb.md): one base URL for STOW-RS (POST), QIDO-RS and
    # WADO-RS (GET). The two STOW routes keep their names; their views add the GET.
    path("dicomweb/studies", views_dicomweb.StudiesView.as_view(), name="api-dicomweb-stow"),
    re_path(
        rf"^dicomweb/studies/{STUDY_PATTERN}$",
        views_dicomweb.StudyView.as_view(),
        name="api-dicomweb-stow-study",
    ),
    *dicomweb_urlpatterns,
    # Radiomics (docs/radiomics-jobs.md)
    path(
        "patients/<uuid:public_id>/imaging/series/<uuid:series_id>/radiomics/",
        views_radiomics.SeriesRadiomicsView.as_view(),
        name="api-radiomics-series",
    ),
    path(
        "patients/<uuid:public_id>/radiomics/",
        views_radiomics.RunListView.as_view(),
        name="api-radiomics-run-list",
    ),
    path(
        "patients/<uuid:public_id>/radiomics/<uuid:run_id>/",
        views_radiomics.RunDetailView.as_view(),
        name="api-radiomics-run-detail",
    ),
    path(
        "patients/<uuid:public_id>/radiomics/<uuid:run_id>/csv",
        views_radiomics.RunCsvView.as_view(),
        name="api-radiomics-run-csv",
    ),
    path(
        "radiomics/batches/",
        views_radiomics.BatchListView.as_view(),
        name="api-radiomics-batch-list",
    ),
    path(
        "radiomics/batches/<uuid:batch_id>/",
        views_radiomics.BatchDetailView.as_view(),
        name="api-radiomics-batch-detail",
    ),
    path(
        "radiomics/batches/<uuid:batch_id>/csv",
        views_radiomics.BatchCsvView.as_view(),
        name="api-radiomics-batch-csv",
    ),
    *export_api_urlpatterns,
    # Lung screening (docs/screening.md)
    path(
        "screening/batches/",
        views_screening.BatchListView.as_view(),
        name="api-screening-batch-list",
    ),
    path(
        "screening/batches/<uuid:batch_id>/",
        views_screening.BatchDetailView.as_view(),
        name="api-screening-batch-detail",
    ),
    path("screening/runs/", views_screening.WorklistView.as_view(), name="api-screening-worklist"),
    path(
        "screening/runs/<uuid:run_id>/",
        views_screening.RunDetailView.as_view(),
        name="api-screening-run-detail",
    ),
    path(
        "screening/findings/<uuid:finding_id>/review/",
        views_screening.FindingReviewView.as_view(),
        name="api-screening-finding-review",
    ),
]
