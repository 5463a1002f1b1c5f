"""The FHIR code map: every code system, code and extension URL the FHIR mapping uses, as data.

Pure data, no Django. docs/interop-fhir.md documents this table; keep the two in step.
Where a standard code is not mapped, a coding in OncoBoard's own namespace (`LOCAL`) carries
the record's value, so that nothing is lost on the way out and back.
"""

from __future__ import annotations

# --- code systems ----------------------------------------------------------------------------
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
AJCC = "http://cancerstaging.org"
V2_ID_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"

# OncoBoard's own namespace, for values no standard system carries (and the record's keys).
LOCAL = "http://oncoboard.example.org/fhir"


def local_system(name: str) -> str:
    """The local CodeSystem (or identifier system) URL named `name`."""
    return f"{LOCAL}/CodeSystem/{name}"


def local_extension(name: str) -> str:
    return f"{LOCAL}/StructureDefinition/{name}"


# Identifier systems: one per record section; the value is the item's external_id.
MRN_SYSTEM = f"{LOCAL}/id/mrn"


def identifier_system(section: str) -> str:
    return f"{LOCAL}/id/{section}"


# --- mCODE profiles (canonical URLs of STU3 and STU4, http://hl7.org/fhir/us/mcode) -----------
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"
PROFILES = {
    "patient": f"{MCODE}/mcode-cancer-patient",
    "primary_cancer": f"{MCODE}/mcode-primary-cancer-condition",
    "tnm_stage_group": f"{MCODE}/mcode-tnm-stage-group",
    "tnm_t": f"{MCODE}/mcode-tnm-primary-tumor-category",
    "tnm_n": f"{MCODE}/mcode-tnm-regional-nodes-category",
    "tnm_m": f"{MCODE}/mcode-tnm-distant-metastases-category",
    "grade": f"{MCODE}/mcode-histologic-grade",
    "tumor_marker": f"{MCODE}/mcode-tumor-marker-test",
    "ecog": f"{MCODE}/mcode-ecog-performance-status",
    "surgery": f"{MCODE}/mcode-cancer-related-surgical-procedure",
    "radiotherapy": f"{MCODE}/mcode-radiotherapy-course-summary",
    "medication_request": f"{MCODE}/mcode-cancer-related-medication-request",
    "disease_status": f"{MCODE}/mcode-cancer-disease-status",
    "genomic_variant": f"{MCODE}/mcode-genomic-variant",
    "secondary_cancer": f"{MCODE}/mcode-secondary-cancer-condition",
}
MCODE_HISTOLOGY_EXT = f"{MCODE}/mcode-histology-morphology-behavior"
MCODE_LATERALITY_EXT = f"{MCODE}/mcode-laterality-qualifier"
MCODE_INTENT_EXT = f"{MCODE}/mcode-procedure-intent"
MCODE_RELATED_PRIMARY_EXT = f"{MCODE}/mcode-related-primary-cancer-condition"
MCODE_RT_SESSIONS_EXT = f"{MCODE}/mcode-radiotherapy-sessions"  # valueUnsignedInt
# A secondary cancer condition (a distant recurrence of the record): SNOMED CT's disorder, as
# the record keeps no site of the metastasis. Import also knows one by ICD-10 C77-C79.
SECONDARY_CANCER_CODE = ("128462008", "Secondary malignant neoplastic disease")
SECONDARY_ICD10_PREFIXES = ("C77", "C78", "C79")

# --- Observation codes (LOINC) -------------------------------------------------------------------
# (diagnosis field) -> LOINC code, display
TNM_LOINC: dict[str, tuple[str, str]] = {
    "clinical_t": ("21905-5", "Primary tumor.clinical [Class] Cancer"),
    "clinical_n": ("21906-3", "Regional lymph nodes.clinical [Class] Cancer"),
    "clinical_m": ("21907-1", "Distant metastases.clinical [Class] Cancer"),
    "clinical_stage": ("21908-9", "Stage group.clinical Cancer"),
    "pathological_t": ("21899-0", "Primary tumor.pathology Cancer"),
    "pathological_n": ("21900-6", "Regional lymph nodes.pathology Cancer"),
    "pathological_m": ("21901-4", "Distant metastases.pathology Cancer"),
    "pathological_stage": ("21902-2", "Stage group.pathology Cancer"),
}
TNM_PROFILE = {
    "t": "tnm_t",
    "n": "tnm_n",
    "m": "tnm_m",
    "stage": "tnm_stage_group",
}
# Staging system: TNM 8th edition (UICC/AJCC 8th edition share the categories used here).
TNM_METHOD = (SNOMED, "897275008", "AJCC Cancer Staging Manual, 8th edition")
GRADE_LOINC = ("33732-9", "Histology grade [Identifier] in Cancer specimen")
ECOG_LOINC = ("89247-1", "ECOG Performance Status score")
SMOKING_LOINC = ("72166-2", "Tobacco smoking status")
PACK_YEARS_LOINC = ("8664-5", "Cigarettes smoked total (pack per year) - Reported")
VITAL_STATUS_LOINC = ("75186-7", "Vital status")
DISEASE_STATUS_LOINC = ("97509-4", "Cancer disease progression")
WEIGHT_LOINC = ("29463-7", "Body weight")
HEIGHT_LOINC = ("8302-2", "Body height")
TMB_LOINC = ("94076-7", "Mutations/Megabase [# Ratio] in Tumor")
MSI_LOINC = ("81695-9", "Microsatellite instability [Interpretation] in Cancer specimen")
VARIANT_LOINC = ("69548-6", "Genetic variant assessment")
GENE_STUDIED_LOINC = ("48018-6", "Gene studied [ID]")
HGVS_C_LOINC = ("48004-6", "DNA change (c.HGVS)")
HGVS_P_LOINC = ("48005-3", "Amino acid change (pHGVS)")
VAF_LOINC = ("81258-6", "Sample variant allelic frequency [NFr]")

# Labs: the record's lab codes are LOINC already (oncology/clinical/labs.py). These are the
# serum tumour markers among them, exported with the mCODE tumour-marker-test profile.
TUMOUR_MARKER_LABS = frozenset({"2039-6", "6875-9", "24108-3", "10334-1", "1834-1", "2857-1"})
# Record unit -> UCUM code, where the record's spelling is not UCUM already.
UCUM_CODE: dict[str, str] = {
    "10^9/L": "10*9/L",
    "10^3/uL": "10*3/uL",
    "mL/min/1.73m2": "mL/min/{1.73_m2}",
    "INR": "{INR}",
    "ratio": "{ratio}",
    "IU/L": "[IU]/L",
    "mEq/L": "meq/L",
}

# Biomarkers (oncology/clinical/biomarkers.py) -> LOINC, where one is mapped. Every biomarker
# also carries a local coding with the record's name, which import reads first.
BIOMARKER_LOINC: dict[str, tuple[str, str]] = {
    "ER": ("16112-5", "Estrogen receptor [Interpretation] in Tissue"),
    "PR": ("16113-3", "Progesterone receptor [Interpretation] in Tissue"),
    "HER2": ("48676-1", "HER2 [Interpretation] in Tissue"),
    "Ki-67": ("29593-1", "Ki-67 nuclear Ag [Presence] in Tissue by Immune stain"),
    "MSI": MSI_LOINC,
    "TMB": TMB_LOINC,
}

# Biomarker results -> SNOMED CT.
BIOMARKER_RESULT: dict[str, tuple[str, str]] = {
    "positive": ("10828004", "Positive"),
    "negative": ("260385009", "Negative"),
    "equivocal": ("42425007", "Equivocal"),
    "not_done": ("385660001", "Not done"),
}

# --- Patient -----------------------------------------------------------------------------------
SMOKING_STATUS: dict[str, tuple[str, str]] = {
    "never": ("266919005", "Never smoked tobacco"),
    "former": ("8517006", "Ex-smoker"),
    "current": ("77176002", "Smoker"),
    "unknown": ("266927001", "Tobacco smoking consumption unknown"),
}
VITAL_STATUS: dict[str, tuple[str, str]] = {
    "alive": ("438949009", "Alive"),
    "dead": ("419099009", "Dead"),
    "unknown": ("261665006", "Unknown"),
}

# --- Diagnosis ----------------------------------------------------------------------------------
LATERALITY: dict[str, tuple[str, str]] = {
    "left": ("7771000", "Left"),
    "right": ("24028007", "Right"),
    "bilateral": ("51440002", "Right and left"),
    "midline": ("260528009", "Median"),
    "not_applicable": ("385432009", "Not applicable"),
    "unknown": ("261665006", "Unknown"),
}

# --- Treatments ---------------------------------------------------------------------------------
INTENT: dict[str, tuple[str, str]] = {
    "curative": ("373808002", "Curative - procedure intent"),
    "neoadjuvant": ("373847000", "Neo-adjuvant - intent"),
    "adjuvant": ("373846009", "Adjuvant - intent"),
    "palliative": ("363676003", "Palliative - procedure intent"),
    "unknown": ("261665006", "Unknown"),
}
SURGERY_CATEGORY = (SNOMED, "387713003", "Surgical procedure")
RADIOTHERAPY_CODE = (SNOMED, "1217123003", "Radiotherapy course of treatment")
RADIOTHERAPY_CATEGORY = (SNOMED, "108290001", "Radiation oncology AND/OR radiotherapy")

# --- Outcomes -----------------------------------------------------------------------------------
DISEASE_STATUS: dict[str, tuple[str, str]] = {
    "ned": ("260415000", "Not detected"),
    "responding": ("268910001", "Patient's condition improved"),
    "stable": ("359746009", "Patient's condition stable"),
    "progressing": ("271299001", "Patient's condition worsened"),
    "unknown": ("709137006", "Patient condition undetermined"),
}

# Local extensions: record fields with no standard home.
EXT = {
    "margin": local_extension("resection-margin"),
    "best_response": local_extension("best-response-recist"),
    "technique": local_extension("radiotherapy-technique"),
    "total_dose": local_extension("radiotherapy-total-dose"),
    "fractions": local_extension("radiotherapy-fractions"),
    "regimen": local_extension("regimen"),
    "category": local_extension("systemic-category"),
    "cycles": local_extension("cycles"),
    "drug_index": local_extension("regimen-drug-index"),
    "ctcae_grade": local_extension("ctcae-grade"),
    "attributed_to": local_extension("attributed-to"),
}

# Local code systems.
CS = {
    "biomarker": local_system("biomarker"),
    "charlson": local_system("charlson-condition"),
    "grade": local_system("tumour-grade"),
    "disease_event": local_system("disease-event-type"),
    "disease_event_code": local_system("observation"),
    "ctcae": local_system("ctcae-term"),
}
DISEASE_EVENT_CODE = "disease-event"
