from django.urls import path, re_path

from imaging.api import views_ingest
from imaging.api.urls_export import export_api_urlpatterns

urlpatterns = [
    path(
        "patients/<uuid:public_id>/dicom/",
        views_ingest.DicomUploadView.as_view(),
        name="api-dicom-upload",
    ),
    path("dicomweb/studies", views_ingest.StowRsView.as_view(), name="api-dicomweb-stow"),
    re_path(
        r"^dicomweb/studies/(?P<study_uid>[0-9.]{1,64})$",
        views_ingest.StowRsStudyView.as_view(),
        name="api-dicomweb-stow-study",
    ),
    *export_api_urlpatterns,
]
