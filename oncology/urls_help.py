from django.urls import path

from oncology import views_help

app_name = "help"
urlpatterns = [
    path("outcome-models/", views_help.outcome_models, name="outcome-models"),
]
