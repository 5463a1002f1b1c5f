"""Tumour-board pages (namespace "board"), included from config/urls.py under boards/."""

from django.urls import path

from oncology import views_board

app_name = "board"
_CASE = "cases/<uuid:case_id>/"
_DECISION = f"{_CASE}decisions/<uuid:decision_id>/"

urlpatterns = [
    path("", views_board.meeting_list, name="meeting-list"),
    path("new/", views_board.meeting_create, name="meeting-create"),
    path("<uuid:meeting_id>/", views_board.meeting_detail, name="meeting-detail"),
    path("<uuid:meeting_id>/edit/", views_board.meeting_edit, name="meeting-edit"),
    path("<uuid:meeting_id>/cases/new/", views_board.case_add, name="case-add"),
    path(_CASE, views_board.case_detail, name="case-detail"),
    path(f"{_CASE}move/", views_board.case_move, name="case-move"),
    path(f"{_CASE}withdraw/", views_board.case_withdraw, name="case-withdraw"),
    path(f"{_CASE}predict/", views_board.case_predict, name="case-predict"),
    path(f"{_CASE}decision/", views_board.decision_save, name="decision-save"),
    path(f"{_CASE}report.pdf", views_board.case_report, name="case-report"),
    path(f"{_DECISION}sign/", views_board.decision_sign, name="decision-sign"),
    path(f"{_DECISION}amend/", views_board.decision_amend, name="decision-amend"),
]
