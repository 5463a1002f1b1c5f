"""Imaging pages (namespace "imaging"). The viewer's routes are added beside these."""

from django.urls import path

from imaging import views_ingest
from imaging.urls_export import export_urlpatterns
from imaging.urls_viewer import viewer_urlpatterns

app_name = "imaging"
urlpatterns = [
    path("patients/<uuid:public_id>/imaging/", views_ingest.study_list, name="study-list"),
    path("patients/<uuid:public_id>/imaging/upload/", views_ingest.upload, name="ingest-upload"),
    path("imaging/unmatched/", views_ingest.queue_list, name="queue"),
    path("imaging/unmatched/<uuid:entry_id>/", views_ingest.queue_resolve, name="queue-resolve"),
    *viewer_urlpatterns,
    *export_urlpatterns,
]
