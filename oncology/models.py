"""The clinical record: institutions and care teams, patients, tumours, history, treatments,
follow-up and outcomes.

Sub-records carry an optional `external_id` (the hospital system's own key), unique per patient,
so a nightly sync can resend the same payload and update in place. Validation that spans fields
or records lives in oncology/clinical/ (pure) and is applied by the services, never in save().
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models

# ---------------------------------------------------------------------------------------------
# Organisation
# ---------------------------------------------------------------------------------------------


class Institution(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class CareTeam(models.Model):
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="teams")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="care_teams", blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["institution", "code"], name="careteam_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.institution.code})"


# ---------------------------------------------------------------------------------------------
# Choices shared by several records
# ---------------------------------------------------------------------------------------------


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class VitalStatus(models.TextChoices):
    ALIVE = "alive", "Alive"
    DEAD = "dead", "Dead"
    UNKNOWN = "unknown", "Unknown"


class SmokingStatus(models.TextChoices):
    NEVER = "never", "Never smoker"
    FORMER = "former", "Former smoker"
    CURRENT = "current", "Current smoker"
    UNKNOWN = "unknown", "Unknown"


class Laterality(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BILATERAL = "bilateral", "Bilateral"
    MIDLINE = "midline", "Midline"
    NOT_APPLICABLE = "not_applicable", "Not applicable (unpaired organ)"
    UNKNOWN = "unknown", "Unknown"


class Grade(models.TextChoices):
    G1 = "G1", "G1 well differentiated"
    G2 = "G2", "G2 moderately differentiated"
    G3 = "G3", "G3 poorly differentiated"
    G4 = "G4", "G4 undifferentiated"
    GX = "GX", "GX cannot be assessed"


class Intent(models.TextChoices):
    CURATIVE = "curative", "Curative"
    NEOADJUVANT = "neoadjuvant", "Neoadjuvant"
    ADJUVANT = "adjuvant", "Adjuvant"
    PALLIATIVE = "palliative", "Palliative"
    UNKNOWN = "unknown", "Unknown"


class RecistResponse(models.TextChoices):
    CR = "CR", "Complete response"
    PR = "PR", "Partial response"
    SD = "SD", "Stable disease"
    PD = "PD", "Progressive disease"
    NE = "NE", "Not evaluable"


# ---------------------------------------------------------------------------------------------
# Patient
# ---------------------------------------------------------------------------------------------


def new_research_id() -> str:
    # Random, not derived from the MRN: a research export cannot be linked back without the
    # key table that only this database holds.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "R-" + "".join(secrets.choice(alphabet) for _ in range(10))


class Patient(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    research_id = models.CharField(max_length=16, unique=True, default=new_research_id)
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=64)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    sex = models.CharField(max_length=10, choices=Sex.choices)
    birth_date = models.DateField()
    care_teams = models.ManyToManyField(CareTeam, related_name="patients", blank=True)
    smoking_status = models.CharField(
        max_length=10, choices=SmokingStatus.choices, default=SmokingStatus.UNKNOWN
    )
    smoking_pack_years = models.FloatField(null=True, blank=True)
    vital_status = models.CharField(
        max_length=10, choices=VitalStatus.choices, default=VitalStatus.ALIVE
    )
    death_date = models.DateField(null=True, blank=True)
    last_contact_date = models.DateField(null=True, blank=True)
    is_synthetic = models.BooleanField(
        default=False, help_text="Generated demo data, not a real person."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["institution", "mrn"], name="patient_mrn_unique")
        ]
        indexes = [models.Index(fields=["institution", "family_name", "given_name"])]

    def __str__(self) -> str:
        return self.research_id


class PatientRecordModel(models.Model):
    """Fields every sub-record of a patient has."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.pk}"


def _external_id_unique(name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["patient", "external_id"],
        condition=models.Q(external_id__isnull=False),
        name=f"{name}_external_id_unique",
    )


# ---------------------------------------------------------------------------------------------
# Diagnosis and tumour
# ---------------------------------------------------------------------------------------------


class Diagnosis(PatientRecordModel):
    """A primary tumour: ICD-O-3 topography and morphology, TNM 8th edition staging."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="diagnoses")
    primary_site = models.CharField("ICD-O-3 topography", max_length=6)  # e.g. C34.1
    morphology = models.CharField("ICD-O-3 morphology", max_length=7)  # e.g. 8140/3
    laterality = models.CharField(
        max_length=16, choices=Laterality.choices, default=Laterality.UNKNOWN
    )
    diagnosis_date = models.DateField()
    grade = models.CharField(max_length=2, choices=Grade.choices, blank=True)
    clinical_t = models.CharField("cT", max_length=8, blank=True)
    clinical_n = models.CharField("cN", max_length=8, blank=True)
    clinical_m = models.CharField("cM", max_length=8, blank=True)
    clinical_stage = models.CharField("clinical stage group", max_length=8, blank=True)
    pathological_t = models.CharField("pT", max_length=8, blank=True)
    pathological_n = models.CharField("pN", max_length=8, blank=True)
    pathological_m = models.CharField("pM", max_length=8, blank=True)
    pathological_stage = models.CharField("pathological stage group", max_length=8, blank=True)

    class Meta:
        constraints = [_external_id_unique("diagnosis")]
        ordering = ["diagnosis_date", "id"]
        verbose_name_plural = "diagnoses"


class BiomarkerResult(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    EQUIVOCAL = "equivocal", "Equivocal"
    NOT_DONE = "not_done", "Not done / failed"


class Biomarker(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="biomarkers")
    diagnosis = models.ForeignKey(
        Diagnosis, on_delete=models.CASCADE, null=True, blank=True, related_name="biomarkers"
    )
    name = models.CharField(max_length=30)  # a key of oncology.clinical.biomarkers.BIOMARKERS
    result = models.CharField(max_length=10, choices=BiomarkerResult.choices)
    value = models.FloatField(null=True, blank=True)
    test_date = models.DateField()

    class Meta:
        constraints = [_external_id_unique("biomarker")]
        ordering = ["test_date", "id"]


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


class PerformanceStatus(PatientRecordModel):
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="performance_statuses"
    )
    assessed_on = models.DateField()
    ecog = models.PositiveSmallIntegerField("ECOG")

    class Meta:
        constraints = [_external_id_unique("performance")]
        ordering = ["assessed_on", "id"]
        verbose_name_plural = "performance statuses"


class Comorbidity(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="comorbidities")
    condition = models.CharField(max_length=40)  # a key of oncology.clinical.charlson.CONDITIONS
    diagnosed_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            _external_id_unique("comorbidity"),
            models.UniqueConstraint(fields=["patient", "condition"], name="comorbidity_once"),
        ]
        ordering = ["condition"]
        verbose_name_plural = "comorbidities"


class LabResult(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="labs")
    code = models.CharField(max_length=20)  # a key of oncology.clinical.labs.LABS (LOINC)
    value = models.FloatField()
    unit = models.CharField(max_length=20)
    collected_on = models.DateField()

    class Meta:
        constraints = [_external_id_unique("lab")]
        ordering = ["collected_on", "id"]
        indexes = [models.Index(fields=["patient", "code", "collected_on"])]


class BodyMeasurement(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="measurements")
    measured_on = models.DateField()
    weight_kg = models.FloatField(null=True, blank=True)
    height_cm = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [_external_id_unique("measurement")]
        ordering = ["measured_on", "id"]


# ---------------------------------------------------------------------------------------------
# Treatments
# ---------------------------------------------------------------------------------------------


class MarginStatus(models.TextChoices):
    R0 = "R0", "R0 no residual tumour"
    R1 = "R1", "R1 microscopic residual"
    R2 = "R2", "R2 macroscopic residual"
    RX = "RX", "RX cannot be assessed"


class Surgery(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="surgeries")
    diagnosis = models.ForeignKey(
        Diagnosis, on_delete=models.SET_NULL, null=True, blank=True, related_name="surgeries"
    )
    procedure = models.CharField(max_length=200)
    performed_on = models.DateField()
    margin_status = models.CharField(max_length=2, choices=MarginStatus.choices, blank=True)
    intent = models.CharField(max_length=12, choices=Intent.choices, default=Intent.CURATIVE)

    class Meta:
        constraints = [_external_id_unique("surgery")]
        ordering = ["performed_on", "id"]
        verbose_name_plural = "surgeries"


class RadiotherapyTechnique(models.TextChoices):
    CRT3D = "3DCRT", "3D conformal"
    IMRT = "IMRT", "IMRT"
    VMAT = "VMAT", "VMAT"
    SBRT = "SBRT", "Stereotactic body RT (SBRT/SABR)"
    SRS = "SRS", "Stereotactic radiosurgery"
    BRACHY = "BRACHY", "Brachytherapy"
    PROTON = "PROTON", "Proton therapy"
    OTHER = "OTHER", "Other"


class RadiotherapyCourse(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="radiotherapies")
    diagnosis = models.ForeignKey(
        Diagnosis, on_delete=models.SET_NULL, null=True, blank=True, related_name="radiotherapies"
    )
    target = models.CharField(max_length=200)
    total_dose_gy = models.FloatField("total dose (Gy)")
    fractions = models.PositiveSmallIntegerField()
    technique = models.CharField(max_length=8, choices=RadiotherapyTechnique.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    intent = models.CharField(max_length=12, choices=Intent.choices, default=Intent.CURATIVE)
    best_response = models.CharField(max_length=2, choices=RecistResponse.choices, blank=True)

    class Meta:
        constraints = [_external_id_unique("radiotherapy")]
        ordering = ["start_date", "id"]

    @property
    def dose_per_fraction_gy(self) -> float:
        return self.total_dose_gy / self.fractions if self.fractions else 0.0


class SystemicCategory(models.TextChoices):
    CHEMOTHERAPY = "chemotherapy", "Chemotherapy"
    TARGETED = "targeted", "Targeted therapy"
    IMMUNOTHERAPY = "immunotherapy", "Immunotherapy"
    HORMONAL = "hormonal", "Endocrine therapy"
    CHEMOIMMUNOTHERAPY = "chemoimmunotherapy", "Chemo-immunotherapy"


class SystemicTherapy(PatientRecordModel):
    """A regimen given over cycles. `drugs` is a list of {"name", "dose", "unit"} validated by
    oncology.clinical.treatments (doses per administration)."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="systemic_therapies"
    )
    diagnosis = models.ForeignKey(
        Diagnosis,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="systemic_therapies",
    )
    regimen = models.CharField(max_length=100)
    category = models.CharField(max_length=20, choices=SystemicCategory.choices)
    drugs = models.JSONField(default=list)
    cycles = models.PositiveSmallIntegerField(null=True, blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    intent = models.CharField(max_length=12, choices=Intent.choices, default=Intent.CURATIVE)
    best_response = models.CharField(max_length=2, choices=RecistResponse.choices, blank=True)

    class Meta:
        constraints = [_external_id_unique("systemic")]
        ordering = ["start_date", "id"]
        verbose_name_plural = "systemic therapies"


# ---------------------------------------------------------------------------------------------
# Follow-up and outcomes
# ---------------------------------------------------------------------------------------------


class DiseaseStatus(models.TextChoices):
    NED = "ned", "No evidence of disease"
    STABLE = "stable", "Stable disease"
    RESPONDING = "responding", "Responding"
    PROGRESSING = "progressing", "Progressing"
    UNKNOWN = "unknown", "Unknown"


class FollowUp(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="follow_ups")
    visit_date = models.DateField()
    disease_status = models.CharField(max_length=12, choices=DiseaseStatus.choices)
    ecog = models.PositiveSmallIntegerField("ECOG", null=True, blank=True)

    class Meta:
        constraints = [_external_id_unique("followup")]
        ordering = ["visit_date", "id"]


class DiseaseEventType(models.TextChoices):
    PROGRESSION = "progression", "Progression"
    LOCAL_RECURRENCE = "local_recurrence", "Local recurrence"
    REGIONAL_RECURRENCE = "regional_recurrence", "Regional recurrence"
    DISTANT_RECURRENCE = "distant_recurrence", "Distant recurrence (metastasis)"


class DiseaseEvent(PatientRecordModel):
    """Progression or recurrence: the events progression-free survival is measured to."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="disease_events")
    diagnosis = models.ForeignKey(
        Diagnosis, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    event_type = models.CharField(max_length=20, choices=DiseaseEventType.choices)
    event_date = models.DateField()

    class Meta:
        constraints = [_external_id_unique("diseaseevent")]
        ordering = ["event_date", "id"]


class Toxicity(PatientRecordModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="toxicities")
    term = models.CharField(max_length=60)  # a key of oncology.clinical.toxicity.CTCAE_TERMS
    grade = models.PositiveSmallIntegerField("CTCAE grade")
    onset_date = models.DateField()
    attributed_to = models.CharField(
        max_length=12,
        choices=[
            ("surgery", "Surgery"),
            ("radiotherapy", "Radiotherapy"),
            ("systemic", "Systemic therapy"),
            ("unknown", "Unknown"),
        ],
        default="unknown",
    )

    class Meta:
        constraints = [_external_id_unique("toxicity")]
        ordering = ["onset_date", "id"]
        verbose_name_plural = "toxicities"


# The patient's own fields that forms, the API and imports may set (identity and ownership are
# handled separately), in the order the forms present them.
PATIENT_RECORD_FIELDS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "mrn",
    "sex",
    "birth_date",
    "smoking_status",
    "smoking_pack_years",
    "vital_status",
    "death_date",
    "last_contact_date",
)

# The sub-records of a patient, in the order the record, the API and the forms present them.
# Key: the name used in API payloads and CSV/JSON imports.
RECORD_SECTIONS: dict[str, type[PatientRecordModel]] = {
    "diagnoses": Diagnosis,
    "biomarkers": Biomarker,
    "performance_statuses": PerformanceStatus,
    "comorbidities": Comorbidity,
    "labs": LabResult,
    "measurements": BodyMeasurement,
    "surgeries": Surgery,
    "radiotherapies": RadiotherapyCourse,
    "systemic_therapies": SystemicTherapy,
    "follow_ups": FollowUp,
    "disease_events": DiseaseEvent,
    "toxicities": Toxicity,
}

from oncology.models_board import BoardCase, BoardDecision, Meeting  # noqa: E402, F401
from oncology.models_outcomes import OutcomeModel, Prediction  # noqa: E402, F401
