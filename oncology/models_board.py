"""Tumour boards: meetings, the cases they discuss and the decisions they record (docs/board.md).

A ``Meeting`` belongs to one institution and lists ``BoardCase`` rows, each one patient with the
question the board is asked. A ``BoardDecision`` is one version of the board's answer for a case:
the plan chosen, the rationale, any dissent and who was there, linked to the exact prediction
the board saw (model version and inputs hash are copied onto the row so they survive on their
own). A signed decision never changes: an amendment is a new version that points at the one it
supersedes. The database enforces that (``oncology.board_guard``: UPDATE and DELETE of a signed
row raise); the services in ``oncology.services.board`` are the only writers.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    HELD = "held", "Held"
    CANCELLED = "cancelled", "Cancelled"


class Meeting(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(
        "oncology.Institution", on_delete=models.PROTECT, related_name="meetings"
    )
    title = models.CharField(max_length=200)  # e.g. "Thoracic oncology tumour board"
    scheduled_for = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED
    )
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="board_meetings", blank=True
    )
    # People without an account (visiting specialists, nurses): names and roles, one per line.
    guest_attendees = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        indexes = [models.Index(fields=["institution", "scheduled_for"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.scheduled_for:%Y-%m-%d})"


class CaseStatus(models.TextChoices):
    PENDING = "pending", "Awaiting discussion"
    DECIDED = "decided", "Decision signed"
    DEFERRED = "deferred", "Deferred"
    WITHDRAWN = "withdrawn", "Withdrawn"


class BoardCase(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="cases")
    patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.PROTECT, related_name="board_cases"
    )
    question = models.TextField()  # the question the board is asked
    presenter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    position = models.PositiveIntegerField(default=0)  # order on the meeting's list
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["meeting", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "patient"], name="board_case_once_a_meeting")
        ]

    def __str__(self) -> str:
        return f"case {self.public_id}"


class DecisionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"


class BoardDecision(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(BoardCase, on_delete=models.PROTECT, related_name="decisions")
    version = models.PositiveIntegerField()
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    status = models.CharField(
        max_length=10, choices=DecisionStatus.choices, default=DecisionStatus.DRAFT
    )
    # The plan: a treatment option key the model compared (e.g. "surgery+chemotherapy") or
    # "other", with the plan in words either way.
    chosen_option = models.CharField(max_length=80)
    plan = models.TextField()
    rationale = models.TextField()
    dissent = models.TextField(blank=True)
    amendment_reason = models.TextField(blank=True)  # required from version 2 on
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="board_decisions", blank=True
    )
    guest_attendees = models.TextField(blank=True)
    # What the board saw: the prediction, and copies of its provenance.
    prediction = models.ForeignKey(
        "oncology.Prediction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="board_decisions",
    )
    model_name = models.CharField(max_length=80, blank=True)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    inputs_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["case", "version"], name="board_decision_version"),
            models.CheckConstraint(
                condition=models.Q(status="draft")
                | (models.Q(signed_by__isnull=False) & models.Q(signed_at__isnull=False)),
                name="board_decision_signed_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"decision {self.public_id} v{self.version} ({self.status})"
