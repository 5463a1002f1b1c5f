"""DICOM studies of a patient as stored: study -> series -> instance, and the queue of studies
that arrived for no known patient.

An instance's bytes live in Django's default storage under imaging/<institution id>/<uuid>.dcm
(no PHI in the name); the rows index them. An instance is unique by SOP Instance UID: a resend
is a duplicate and changes nothing. Instances of an unmatched study are held (stored the same
way) with their queue entry and indexed when a data manager names the patient.
"""

from __future__ import annotations

import uuid

from django.db import models


class Study(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.CASCADE, related_name="imaging_studies"
    )
    institution = models.ForeignKey(
        "oncology.Institution", on_delete=models.PROTECT, related_name="imaging_studies"
    )
    study_instance_uid = models.CharField(max_length=64)
    study_date = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    modalities = models.JSONField(default=list, blank=True)
    accession_number = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-study_date", "-id"]
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "study_instance_uid"], name="study_uid_unique"
            )
        ]

    def __str__(self) -> str:
        return f"study {self.public_id}"


class Series(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64, unique=True)
    modality = models.CharField(max_length=16)
    description = models.CharField(max_length=200, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    # Objects without a pixel volume of their own (structure sets, segmentations, reports).
    NON_IMAGE_MODALITIES = frozenset(
        {"RTSTRUCT", "SEG", "SR", "PR", "KO", "RTPLAN", "RTDOSE", "DOC"}
    )

    class Meta:
        ordering = ["series_number", "id"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"series {self.public_id}"

    @property
    def is_viewable(self) -> bool:
        return self.modality not in self.NON_IMAGE_MODALITIES


class InstanceFields(models.Model):
    """What an instance and a held instance share: the file and the header fields we index."""

    sop_instance_uid = models.CharField(max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    storage_name = models.CharField(max_length=200)  # default_storage name
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    transfer_syntax = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    frames = models.PositiveIntegerField(default=1)
    image_position = models.JSONField(null=True, blank=True)  # (0020,0032), mm
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Instance(InstanceFields):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")

    class Meta:
        ordering = ["instance_number", "id"]

    def __str__(self) -> str:
        return f"instance {self.pk}"


class UnmatchedStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class UnmatchedStudy(models.Model):
    """A study whose PatientID matched no patient of the institution.

    dicom_patient_id is the PatientID tag as sent: PHI, shown only to the institution's data
    managers, never in a URL, a log line or an audit event.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(
        "oncology.Institution", on_delete=models.PROTECT, related_name="unmatched_studies"
    )
    study_instance_uid = models.CharField(max_length=64)
    dicom_patient_id = models.CharField(max_length=64)
    study_date = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    modalities = models.JSONField(default=list, blank=True)
    received_count = models.PositiveIntegerField(default=0)
    first_received_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(auto_now=True)
    status = models.CharField(
        max_length=10, choices=UnmatchedStatus.choices, default=UnmatchedStatus.OPEN
    )
    resolved_patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_received_at", "-id"]
        verbose_name_plural = "unmatched studies"
        constraints = [
            # One open entry per study of an institution; a resolved one may be followed by a
            # new entry if the study is sent again for a patient still unknown.
            models.UniqueConstraint(
                fields=["institution", "study_instance_uid"],
                condition=models.Q(status="open"),
                name="unmatchedstudy_open_unique",
            )
        ]

    def __str__(self) -> str:
        return f"unmatched study {self.public_id}"


class HeldInstance(InstanceFields):
    """An instance of an unmatched study, stored and waiting for its patient. The series
    fields are kept so that resolving can build the series rows."""

    unmatched = models.ForeignKey(
        UnmatchedStudy, on_delete=models.CASCADE, related_name="held_instances"
    )
    series_instance_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16)
    series_description = models.CharField(max_length=200, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"held instance {self.pk}"


class MaskKind(models.TextChoices):
    NIFTI = "nifti", "Imported NIfTI"
    DRAWN = "drawn", "Drawn"
    SEED = "seed", "Semi-automatic (seed point)"
    SCREENING = "screening", "Confirmed screening finding"


class Mask(models.Model):
    """A mask we store on a series' voxel grid: imported from NIfTI, drawn in the viewer or grown
    from a seed point. RTSTRUCT and SEG masks are not rows: they are read from their instances.

    The voxels live in default storage (no PHI in the name) as a compressed boolean array of the
    series volume's shape; `sha256` is of those voxels, so an edit gives new content and new
    radiomics inputs. A semi-automatic mask stays marked as such (`kind`), and `edited` says a
    person changed it by hand afterwards.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="stored_masks")
    label = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=MaskKind.choices)
    storage_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    volume_key = models.CharField(max_length=64)  # imaging.viewer.volume_cache_key of the grid
    voxel_count = models.PositiveBigIntegerField(default=0)
    parameters = models.JSONField(default=dict, blank=True)  # e.g. seed, window, thresholds
    edited = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label", "id"]

    def __str__(self) -> str:
        return f"mask {self.public_id}"


class RadiomicsBatch(models.Model):
    """A cohort extraction: one RadiomicsRun per (series, mask) of the chosen patients, each its
    own job so that the batch fans out over the workers."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(
        "oncology.Institution", on_delete=models.PROTECT, related_name="radiomics_batches"
    )
    preset = models.CharField(max_length=40, blank=True)
    settings = models.JSONField(default=dict)
    settings_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "radiomics batches"

    def __str__(self) -> str:
        return f"radiomics batch {self.public_id}"


class RadiomicsRun(models.Model):
    """IBSI features of one (series, mask, settings). `input_key` hashes the inputs' content
    (the series' instances, the mask source, the settings and the engine version): the same
    inputs return this row instead of computing again."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "oncology.Patient", on_delete=models.CASCADE, related_name="radiomics_runs"
    )
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="radiomics_runs")
    mask_id = models.CharField(max_length=40)  # the viewer's mask id, or a stored Mask's hex id
    mask_label = models.CharField(max_length=200)
    mask_sha256 = models.CharField(max_length=64, blank=True)
    preset = models.CharField(max_length=40, blank=True)
    settings = models.JSONField(default=dict)
    settings_hash = models.CharField(max_length=64)
    input_key = models.CharField(max_length=64, unique=True)
    job = models.ForeignKey(
        "core.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    batch = models.ForeignKey(
        RadiomicsBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    features = models.JSONField(default=list, blank=True)  # [{feature, ibsi_code, value}]
    provenance = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"radiomics run {self.public_id}"


class DeidentificationKey(models.Model):
    """The institution's secret for de-identification: UID replacements (HMAC), the per-patient
    date offset and pseudonym derive from it, so a re-sent or re-exported study maps to the same
    identifiers. Created on first use; never shown, logged or exported.
    """

    institution = models.OneToOneField(
        "oncology.Institution", on_delete=models.PROTECT, related_name="deidentification_key"
    )
    sealed_key = models.TextField()  # see imaging/services/deid_keys.py for the format
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"de-identification key of institution {self.institution_id}"


class ResearchExport(models.Model):
    """A de-identified copy of chosen series for research or sharing outside the care team: a
    zip built by a job and kept in storage for its requester; instances with (or likely to have)
    burned-in annotation are quarantined, not exported."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(
        "oncology.Institution", on_delete=models.PROTECT, related_name="research_exports"
    )
    requested_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    series = models.ManyToManyField(Series, related_name="+")
    purpose = models.CharField(max_length=200)
    job = models.ForeignKey(
        "core.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    storage_name = models.CharField(max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)  # counts: exported, quarantined, ...
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"research export {self.public_id}"


from imaging.models_screening import (  # noqa: E402, F401
    Finding,
    LesionModel,
    LesionPrediction,
    ScreeningBatch,
    ScreeningRun,
)
