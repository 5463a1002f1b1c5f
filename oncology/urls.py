from django.urls import path

from oncology import views

app_name = "oncology"
urlpatterns = [
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/tnm-options/", views.tnm_options, name="tnm-options"),
    path("patients/<uuid:public_id>/", views.patient_detail, name="patient-detail"),
    path("patients/<uuid:public_id>/edit/", views.patient_edit, name="patient-edit"),
    path(
        "patients/<uuid:public_id>/<slug:section>/new/",
        views.record_create,
        name="record-create",
    ),
    path(
        "patients/<uuid:public_id>/<slug:section>/<int:pk>/edit/",
        views.record_edit,
        name="record-edit",
    ),
    path(
        "patients/<uuid:public_id>/<slug:section>/<int:pk>/delete/",
        views.record_delete,
        name="record-delete",
    ),
]
