"""Administration of people and integration clients. No patient data is reachable from here:
clinical models are deliberately not registered, because the admin would bypass the care-team
access checks and the audit trail."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from core.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "role", "institution", "is_active", "last_login")
    list_filter = ("role", "institution", "is_active")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Clinical role", {"fields": ("role", "institution")}),
    )
    add_fieldsets = (
        *(DjangoUserAdmin.add_fieldsets or ()),
        ("Clinical role", {"fields": ("role", "institution")}),
    )
