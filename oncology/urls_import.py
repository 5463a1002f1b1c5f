from django.urls import path

from oncology import views_import

app_name = "imports"
urlpatterns = [
    path("", views_import.import_list, name="list"),
    path("confirm/", views_import.import_confirm, name="confirm"),
    path("<uuid:public_id>/", views_import.import_status, name="status"),
]
