from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", include("core.urls")),
    path("imports/", include("oncology.urls_import")),
    path("boards/", include("oncology.urls_board")),
    path("outcome-models/", include("oncology.urls_outcomes")),
    path("lesion-models/", include("imaging.urls_lesion_models")),
    path("help/", include("oncology.urls_help")),
    path("", include("genomics.urls")),
    path("", include("imaging.urls")),
    path("", include("oncology.urls")),
    path("api/v1/", include("oncology.api.urls")),
    path("api/v1/", include("genomics.api.urls")),
    path("api/v1/", include("imaging.api.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP blocks inline scripts.
    path(
        "api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"
    ),
    path("admin/", admin.site.urls),
]

# A lost database connection answers 503 with Retry-After instead of 500 (core/db_unavailable.py).
handler500 = "core.db_unavailable.server_error"
