from django.urls import path

from genomics import views

app_name = "genomics"
urlpatterns = [
    path("patients/<uuid:public_id>/genomics/", views.report_list, name="report-list"),
    path("patients/<uuid:public_id>/genomics/new/", views.report_create, name="report-create"),
    path(
        "patients/<uuid:public_id>/genomics/<uuid:report_id>/",
        views.report_detail,
        name="report-detail",
    ),
]
