"""Routes of the series viewer, included by imaging/urls.py (namespace "imaging")."""

from __future__ import annotations

from django.urls import path

from imaging import views_fusion, views_masks, views_viewer

_SERIES = "patients/<uuid:public_id>/imaging/series/<uuid:series_id>/"

viewer_urlpatterns = [
    path(_SERIES, views_viewer.viewer_page, name="viewer"),
    path(f"{_SERIES}meta.json", views_viewer.viewer_metadata, name="viewer-meta"),
    path(f"{_SERIES}preview.png", views_viewer.viewer_preview, name="viewer-preview"),
    path(
        f"{_SERIES}slice/<str:axis>/<int:index>.png",
        views_viewer.viewer_slice,
        name="viewer-slice",
    ),
    path(f"{_SERIES}masks/<str:mask_id>/", views_viewer.viewer_mask, name="viewer-mask"),
    path(
        f"{_SERIES}masks/<str:mask_id>/<str:axis>/<int:index>.png",
        views_viewer.viewer_mask_slice,
        name="viewer-mask-slice",
    ),
    # Stored masks (imaging/views_masks.py): writes are POST; downloads GET.
    path(f"{_SERIES}mask-import/", views_masks.mask_import_nifti, name="viewer-mask-import"),
    path(f"{_SERIES}mask-seed/", views_masks.mask_seed, name="viewer-mask-seed"),
    path(f"{_SERIES}mask-draw/", views_masks.mask_draw, name="viewer-mask-draw"),
    path(
        f"{_SERIES}masks/<str:mask_id>/delete/",
        views_masks.mask_delete,
        name="viewer-mask-delete",
    ),
    path(
        f"{_SERIES}masks/<str:mask_id>/export/<str:fmt>/",
        views_masks.mask_export,
        name="viewer-mask-export",
    ),
    path(
        f"{_SERIES}mask-compare.json",
        views_masks.mask_compare_options,
        name="viewer-mask-compare-options",
    ),
    path(
        f"{_SERIES}masks/<str:mask_id>/change/<uuid:other_series_id>/<str:other_mask_id>/",
        views_masks.mask_change,
        name="viewer-mask-change",
    ),
    # Fused display (imaging/views_fusion.py): another series of the patient on this one.
    path(f"{_SERIES}fusion/", views_fusion.fusion_candidates, name="viewer-fusion"),
    path(
        f"{_SERIES}fusion/<uuid:moving_id>/",
        views_fusion.fusion_status,
        name="viewer-fusion-status",
    ),
    path(
        f"{_SERIES}fusion/<uuid:moving_id>/<str:axis>/<int:index>.png",
        views_fusion.fusion_slice,
        name="viewer-fusion-slice",
    ),
]
