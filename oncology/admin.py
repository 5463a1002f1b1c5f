"""Institutions and care teams are administered here; patients and their record are not (see
core/admin.py for why)."""

from django.contrib import admin

from oncology.models import CareTeam, Institution


class CareTeamInline(admin.TabularInline):
    model = CareTeam
    extra = 0
    fields = ("code", "name")


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    inlines = [CareTeamInline]


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "institution")
    list_filter = ("institution",)
    filter_horizontal = ("members",)
