"""Lung screening and lesion characterisation (docs/screening.md).

A ``ScreeningBatch`` is one request to screen chest CTs (every new one, or a chosen list); it
fans out into one ``ScreeningRun`` per series, each its own job, so the batch spreads over the
workers. A run keeps the lung segmentation's summary and the candidates it found as
``Finding`` rows; a clinician confirms or rejects each, and a confirmed finding becomes a stored
``Mask`` (kind "screening") that radiomics can measure. The worklist is the runs ordered by their
highest candidate score.

``LesionModel`` is the registry of the lesion classifiers: the benign/malignant model over
radiomic features and the false-positive reduction model over candidate patches. It has the
same provenance and status life cycle as the outcome-model registry (draft, validated, active,
retired; one active version per name); a ``LesionPrediction`` stores one use of it with the
model version and the inputs' hash.
"""

from __future__ import annotations

import uuid

from django.db import models


class ScreeningStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ScreeningBatch(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(
        "oncology.Institution", on_delete=models.PROTECT, related_name="screening_batches"
    )
    settings = models.JSONField(default=dict)
    settings_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "screening batches"

    def __str__(self) -> str:
        return f"screening batch {self.public_id}"


class ScreeningRun(models.Model):
    """One series screened with one settings version. `input_key` hashes the series' instances
    and the settings (and the ranking model, if any): the same inputs return this row."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.CASCADE, related_name="screening_runs"
    )
    series = models.ForeignKey(
        "imaging.Series", on_delete=models.CASCADE, related_name="screening_runs"
    )
    batch = models.ForeignKey(
        ScreeningBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    job = models.ForeignKey(
        "core.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    input_key = models.CharField(max_length=64, unique=True)
    settings = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=ScreeningStatus.choices, default=ScreeningStatus.QUEUED
    )
    # "classical" until a site has an active false-positive model, then "<name> v<version>".
    ranking = models.CharField(max_length=120, default="classical")
    lungs = models.JSONField(default=dict, blank=True)  # volumes (ml) per side, warnings
    candidate_count = models.PositiveIntegerField(default=0)
    max_score = models.FloatField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"screening run {self.public_id}"


class NoduleType(models.TextChoices):
    SOLID = "solid", "Solid"
    PART_SOLID = "part_solid", "Part-solid"
    GROUND_GLASS = "ground_glass", "Ground-glass"


class FindingStatus(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"


class Finding(models.Model):
    """One nodule candidate of a screening run, awaiting a clinician's review."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    run = models.ForeignKey(ScreeningRun, on_delete=models.CASCADE, related_name="findings")
    rank = models.PositiveIntegerField()  # 1 = highest score in the run
    score = models.FloatField()  # the ranking score the worklist orders by
    classical_score = models.FloatField()
    model_probability = models.FloatField(null=True, blank=True)  # false-positive model, if used
    centre_voxel = models.JSONField()  # [slice, row, column] on the series volume
    centre_mm = models.JSONField()  # [x, y, z] in patient coordinates (LPS)
    diameter_mm = models.FloatField()
    volume_ml = models.FloatField()
    mean_hu = models.FloatField()
    nodule_type = models.CharField(max_length=12, choices=NoduleType.choices)
    sphericity = models.FloatField(null=True, blank=True)
    pleura_distance_mm = models.FloatField(null=True, blank=True)
    features = models.JSONField(default=dict, blank=True)
    # The candidate's own voxels (bit-packed npz on the series grid, like Mask) for review and
    # for the mask a confirmation creates.
    storage_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=FindingStatus.choices, default=FindingStatus.PENDING
    )
    reviewed_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    mask = models.ForeignKey(
        "imaging.Mask", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["run", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "rank"], name="finding_run_rank_unique")
        ]

    def __str__(self) -> str:
        return f"finding {self.public_id}"


class LesionModelKind(models.TextChoices):
    MALIGNANCY = "malignancy", "Benign/malignant classifier"
    NODULE_FP = "nodule_fp", "Nodule false-positive reduction"


class LesionModelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    VALIDATED = "validated", "Validated"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class LesionModel(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.SlugField(max_length=80)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=LesionModelKind.choices)
    # The institution whose findings trained it; empty for a model trained on a public dataset.
    institution = models.ForeignKey(
        "oncology.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lesion_models",
    )
    status = models.CharField(
        max_length=10, choices=LesionModelStatus.choices, default=LesionModelStatus.DRAFT
    )
    algorithm = models.CharField(max_length=40)  # e.g. "logistic", "xgboost", "torch-cnn3d"
    feature_spec = models.JSONField(default=list)
    training_source = models.CharField(max_length=80)
    training_params = models.JSONField(default=dict)
    training_data_sha256 = models.CharField(max_length=64)
    training_snapshot = models.FileField(upload_to="lesion-models/snapshots/", max_length=255)
    artifact = models.FileField(upload_to="lesion-models/artifacts/", max_length=255)
    artifact_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)
    calibration = models.JSONField(default=list)
    model_card = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="lesion_model_name_version"),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(status="active"),
                name="lesion_model_one_active_per_name",
            ),
        ]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.status})"


class LesionPrediction(models.Model):
    """One use of a lesion model on one lesion (a stored mask or a screening finding)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.CASCADE, related_name="lesion_predictions"
    )
    model = models.ForeignKey(LesionModel, on_delete=models.PROTECT, related_name="predictions")
    mask = models.ForeignKey(
        "imaging.Mask", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finding = models.ForeignKey(
        Finding, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    inputs = models.JSONField(default=dict)
    inputs_sha256 = models.CharField(max_length=64)
    probability = models.FloatField()
    output = models.JSONField(default=dict)  # interval, drivers, warnings
    created_by = models.ForeignKey(
        "core.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"lesion prediction {self.public_id}"
