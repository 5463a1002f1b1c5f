from django.urls import path, re_path

from oncology.api import fhir, outcomes, views
from oncology.services.fhir_rest import SEARCHABLE

_FHIR_TYPES = "|".join(SEARCHABLE)

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("patients/", views.PatientListCreateView.as_view(), name="api-patient-list"),
    path("patients/lookup/", views.PatientLookupView.as_view(), name="api-patient-lookup"),
    path("patients/bulk/", views.PatientBulkUpsertView.as_view(), name="api-patient-bulk"),
    path(
        "patients/<uuid:public_id>/", views.PatientDetailView.as_view(), name="api-patient-detail"
    ),
    path(
        "patients/<uuid:public_id>/predictions/",
        outcomes.PredictionListCreateView.as_view(),
        name="api-prediction-list",
    ),
    path(
        "patients/<uuid:public_id>/predictions/<uuid:prediction_id>/",
        outcomes.PredictionDetailView.as_view(),
        name="api-prediction-detail",
    ),
    path("outcome-models/", outcomes.OutcomeModelListView.as_view(), name="api-outcome-model-list"),
    path(
        "outcome-models/<uuid:model_id>/",
        outcomes.OutcomeModelDetailView.as_view(),
        name="api-outcome-model-detail",
    ),
    # FHIR R4 (mCODE): docs/interop-fhir.md
    path("fhir/", fhir.FhirImportView.as_view(), name="api-fhir-import"),
    path(
        "fhir/Patient/<uuid:public_id>/$everything",
        fhir.FhirPatientEverythingView.as_view(),
        name="api-fhir-patient-everything",
    ),
    path("fhir/metadata", fhir.FhirMetadataView.as_view(), name="api-fhir-metadata"),
    path(
        "fhir/Patient/_search", fhir.FhirPatientSearchView.as_view(), name="api-fhir-patient-search"
    ),
    re_path(
        rf"^fhir/(?P<resource_type>{_FHIR_TYPES})$",
        fhir.FhirSearchView.as_view(),
        name="api-fhir-search",
    ),
    re_path(
        rf"^fhir/(?P<resource_type>{_FHIR_TYPES})/(?P<resource_id>[A-Za-z0-9\-.]{{1,64}})$",
        fhir.FhirReadView.as_view(),
        name="api-fhir-read",
    ),
]
