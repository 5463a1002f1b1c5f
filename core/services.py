"""Writes on platform objects (people and their access)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from core.models import Role, User

ADMINISTRATORS_GROUP = "Administrators"
# What an administrator manages in /admin/: people, institutions, care teams and API tokens.
# Clinical models are not registered in the admin at all (core/admin.py).
_ADMINISTERED = [
    ("core", "user"),
    ("oncology", "institution"),
    ("oncology", "careteam"),
    ("authtoken", "token"),
    ("authtoken", "tokenproxy"),
]


def administrator_access_grant(*, user: User) -> None:
    """Give an administrator the admin site, limited to people, teams and tokens."""
    if user.role != Role.ADMINISTRATOR:
        raise ValueError("only users with the administrator role get admin access")
    group, _ = Group.objects.get_or_create(name=ADMINISTRATORS_GROUP)
    models = Q()
    for app_label, model in _ADMINISTERED:
        models |= Q(content_type__app_label=app_label, content_type__model=model)
    group.permissions.set(Permission.objects.filter(models))
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(group)
