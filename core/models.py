"""Users and roles, the append-only audit trail, and the background-job table."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    ONCOLOGIST = "oncologist", "Oncologist"
    DATA_MANAGER = "data_manager", "Data manager"
    ADMINISTRATOR = "administrator", "Administrator"
    INTEGRATION = "integration", "Integration client (hospital system)"


class User(AbstractUser):
    """A person, or a hospital system's integration client (token auth only, no password)."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CLINICIAN)
    institution = models.ForeignKey(
        "oncology.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text="Home institution; integration clients are scoped to it.",
    )

    @property
    def is_integration_client(self) -> bool:
        return self.role == Role.INTEGRATION

    @property
    def can_edit_record(self) -> bool:
        return self.role in {Role.CLINICIAN, Role.ONCOLOGIST, Role.DATA_MANAGER, Role.INTEGRATION}

    @property
    def can_import_cohorts(self) -> bool:
        # Administrators manage people and teams, not clinical data (least privilege).
        return self.role == Role.DATA_MANAGER

    @property
    def can_export_research(self) -> bool:
        # A de-identified export leaves the care team's control: oncologists and data managers.
        return self.role in {Role.ONCOLOGIST, Role.DATA_MANAGER}

    @property
    def can_browse_audit(self) -> bool:
        return self.role == Role.ADMINISTRATOR or self.is_superuser


class AuditAction(models.TextChoices):
    VIEW = "view", "Viewed"
    LIST = "list", "Listed"
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    SYNC_UNCHANGED = "sync_unchanged", "Synced, no change"
    EXPORT = "export", "Exported"
    IMPORT = "import", "Imported"


class AuditEvent(models.Model):
    """One access to patient data. Holds identifiers only, never clinical or personal values.

    Append-only: the migration installs database triggers that refuse UPDATE and DELETE, so not
    even a bug or an administrator's shell can rewrite history.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    institution_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    channel = models.CharField(max_length=10, default="web")  # web, api, job, command
    detail = models.JSONField(default=dict, blank=True)  # counts and field names only

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """A unit of background work. The row, not the broker, is the truth about its state."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=60, db_index=True)
    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
