from django.urls import path

from core import views_audit

app_name = "audit"
urlpatterns = [
    path("", views_audit.audit_trail, name="trail"),
]
