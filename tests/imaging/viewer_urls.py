"""Until imaging/urls.py includes the viewer's routes: the project's routes plus the viewer's."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns
from imaging.urls_viewer import viewer_urlpatterns

urlpatterns = [
    path("", include((viewer_urlpatterns, "imaging"))),
    *project_urlpatterns,
]
