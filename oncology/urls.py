from django.urls import path

from oncology import views

app_name = "oncology"
urlpatterns = [
    path("patients/", views.patient_list, name="patient-list"),
]
