from django.urls import path
from drf_spectacular.views import SpectacularSwaggerSplitView

from oncology.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("patients/", views.PatientListCreateView.as_view(), name="api-patient-list"),
    path("patients/bulk/", views.PatientBulkUpsertView.as_view(), name="api-patient-bulk"),
    path(
        "patients/<uuid:public_id>/", views.PatientDetailView.as_view(), name="api-patient-detail"
    ),
    # Swagger UI with its start-up script served as a file rather than inline, which the
    # site's Content-Security-Policy (script-src 'self') would block. This route is matched
    # before config/urls.py's "api/v1/docs/" (SpectacularSwaggerView, inline script), which it
    # replaces; moving it there is the cleaner home.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs-ui",
    ),
]
