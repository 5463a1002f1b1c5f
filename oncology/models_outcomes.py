"""The outcome-model registry and the predictions made with it (docs/outcomes-registry.md).

An ``OutcomeModel`` row is one trained, versioned treatment comparison
(``oncology.outcomes.compare.TreatmentComparison``) with its provenance: feature
specification, training source and data hash, a de-identified training snapshot, the fitted
artifact and its sha256, validation metrics and a model card. A ``Prediction`` is one use of a
model for one patient: the inputs it saw (and their hash) and the per-option output.
Status changes go through ``oncology.services.outcome_models`` (the allowed transitions live
there), never through ``save()``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class OutcomeModelKind(models.TextChoices):
    COX = "cox", "Cox proportional hazards"
    XGB = "xgb", "Gradient-boosted Cox (xgboost)"
    NEURAL = "neural", "Neural Cox (DeepSurv-style)"


class OutcomeModelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    VALIDATED = "validated", "Validated"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class OutcomeModel(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.SlugField(max_length=80)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=OutcomeModelKind.choices)
    target = models.CharField(max_length=80, default="overall survival")
    time_unit = models.CharField(max_length=10)  # "days" | "months" | "years"
    status = models.CharField(
        max_length=10, choices=OutcomeModelStatus.choices, default=OutcomeModelStatus.DRAFT
    )
    treatment_column = models.CharField(max_length=60, default="treatment")
    options = models.JSONField(default=list)  # the treatment options the model compares
    feature_spec = models.JSONField(default=list)  # FeatureSpec.as_dict() rows
    training_source = models.CharField(max_length=80)  # "simulated" | a public cohort name
    training_params = models.JSONField(default=dict)  # seed, patients, splits, library versions
    training_data_sha256 = models.CharField(max_length=64)
    training_snapshot = models.FileField(upload_to="outcome-models/snapshots/", max_length=255)
    artifact = models.FileField(upload_to="outcome-models/artifacts/", max_length=255)
    artifact_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)
    calibration = models.JSONField(default=list)
    model_card = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="outcome_model_name_version"),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(status="active"),
                name="outcome_model_one_active_per_name",
            ),
        ]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.status})"


class Prediction(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.CASCADE, related_name="predictions"
    )
    model = models.ForeignKey(OutcomeModel, on_delete=models.PROTECT, related_name="predictions")
    inputs = models.JSONField(default=dict)
    inputs_sha256 = models.CharField(max_length=64)
    output = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    label = models.CharField(max_length=20, default="associational")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"prediction {self.public_id}"
