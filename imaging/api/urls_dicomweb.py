"""DICOMweb QIDO-RS and WADO-RS routes (docs/interop-dicomweb.md), beside STOW-RS's under
/api/v1/dicomweb. UIDs are the only identifiers in these URLs (PS3.18 requires them)."""

from django.urls import re_path

from imaging.api import views_dicomweb as v

_UID = r"[0-9.]{1,64}"
_STUDY = rf"(?P<study_uid>{_UID})"
STUDY_PATTERN = _STUDY
_SERIES = rf"{_STUDY}/series/(?P<series_uid>{_UID})"
_INSTANCE = rf"{_SERIES}/instances/(?P<instance_uid>{_UID})"

dicomweb_urlpatterns = [
    re_path(r"^dicomweb/series$", v.SeriesSearchAllView.as_view(), name="api-dicomweb-series"),
    re_path(
        r"^dicomweb/instances$", v.InstanceSearchAllView.as_view(), name="api-dicomweb-instances"
    ),
    re_path(
        rf"^dicomweb/studies/{_STUDY}/metadata$",
        v.StudyMetadataView.as_view(),
        name="api-dicomweb-study-metadata",
    ),
    re_path(
        rf"^dicomweb/studies/{_STUDY}/series$",
        v.StudySeriesSearchView.as_view(),
        name="api-dicomweb-study-series",
    ),
    re_path(
        rf"^dicomweb/studies/{_STUDY}/instances$",
        v.StudyInstanceSearchView.as_view(),
        name="api-dicomweb-study-instances",
    ),
    re_path(
        rf"^dicomweb/studies/{_SERIES}$", v.SeriesView.as_view(), name="api-dicomweb-wado-series"
    ),
    re_path(
        rf"^dicomweb/studies/{_SERIES}/metadata$",
        v.SeriesMetadataView.as_view(),
        name="api-dicomweb-series-metadata",
    ),
    re_path(
        rf"^dicomweb/studies/{_SERIES}/instances$",
        v.InstanceSearchView.as_view(),
        name="api-dicomweb-series-instances",
    ),
    re_path(
        rf"^dicomweb/studies/{_INSTANCE}$",
        v.InstanceView.as_view(),
        name="api-dicomweb-wado-instance",
    ),
    re_path(
        rf"^dicomweb/studies/{_INSTANCE}/metadata$",
        v.MetadataView.as_view(),
        name="api-dicomweb-instance-metadata",
    ),
    re_path(
        rf"^dicomweb/studies/{_INSTANCE}/frames/(?P<frames>[0-9,]{{1,200}})$",
        v.FramesView.as_view(),
        name="api-dicomweb-frames",
    ),
]
