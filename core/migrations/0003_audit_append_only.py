"""Make the audit table append-only at the database level (UPDATE and DELETE raise)."""

from django.db import migrations

from core import audit_guard


def forward(apps, schema_editor):
    audit_guard.install(schema_editor.execute, schema_editor.connection.vendor)


def reverse(apps, schema_editor):
    audit_guard.remove(schema_editor.execute, schema_editor.connection.vendor)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]
    operations = [migrations.RunPython(forward, reverse)]
