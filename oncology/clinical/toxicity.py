"""A subset of NCI CTCAE v5.0 (27 Nov 2017) terms with the grades each term defines.

Not every term runs 1-5: CTCAE marks undefined grades with "-". Laboratory terms of the
"Investigations" class stop at grade 4 (no death grade); symptoms graded on activities of daily
living such as fatigue, nausea or arthralgia stop at 3; alopecia and dysgeusia at 2; febrile
neutropenia and anaphylaxis start at 3, sepsis at 4 and lung infection at 2.

Keys are stable (stored in Toxicity.term), snake_case, British spelling; `label` is the CTCAE
term as published.
"""

from __future__ import annotations

from dataclasses import dataclass

from oncology.clinical.issues import Issue


@dataclass(frozen=True)
class CtcaeTerm:
    label: str
    soc: str  # MedDRA system organ class, as CTCAE groups the term
    min_grade: int = 1
    max_grade: int = 5

    @property
    def grades(self) -> range:
        return range(self.min_grade, self.max_grade + 1)


_BLOOD = "Blood and lymphatic system disorders"
_INV = "Investigations"
_GI = "Gastrointestinal disorders"
_GEN = "General disorders and administration site conditions"
_SKIN = "Skin and subcutaneous tissue disorders"
_NERV = "Nervous system disorders"
_RESP = "Respiratory, thoracic and mediastinal disorders"
_ENDO = "Endocrine disorders"
_META = "Metabolism and nutrition disorders"
_VASC = "Vascular disorders"
_CARD = "Cardiac disorders"
_IMM = "Immune system disorders"
_INF = "Infections and infestations"
_MSK = "Musculoskeletal and connective tissue disorders"
_INJ = "Injury, poisoning and procedural complications"
_EAR = "Ear and labyrinth disorders"
_REN = "Renal and urinary disorders"
_PSY = "Psychiatric disorders"

CTCAE_TERMS: dict[str, CtcaeTerm] = {
    # Blood and laboratory
    "anaemia": CtcaeTerm("Anemia", _BLOOD),
    "febrile_neutropenia": CtcaeTerm("Febrile neutropenia", _BLOOD, min_grade=3),
    "neutropenia": CtcaeTerm("Neutrophil count decreased", _INV, max_grade=4),
    "thrombocytopenia": CtcaeTerm("Platelet count decreased", _INV, max_grade=4),
    "leukopenia": CtcaeTerm("White blood cell decreased", _INV, max_grade=4),
    "lymphopenia": CtcaeTerm("Lymphocyte count decreased", _INV, max_grade=4),
    "alt_increased": CtcaeTerm("Alanine aminotransferase increased", _INV, max_grade=4),
    "ast_increased": CtcaeTerm("Aspartate aminotransferase increased", _INV, max_grade=4),
    "bilirubin_increased": CtcaeTerm("Blood bilirubin increased", _INV, max_grade=4),
    "creatinine_increased": CtcaeTerm("Creatinine increased", _INV, max_grade=4),
    "weight_loss": CtcaeTerm("Weight loss", _INV, max_grade=3),
    # Gastrointestinal
    "nausea": CtcaeTerm("Nausea", _GI, max_grade=3),
    "vomiting": CtcaeTerm("Vomiting", _GI),
    "diarrhoea": CtcaeTerm("Diarrhea", _GI),
    "constipation": CtcaeTerm("Constipation", _GI),
    "oral_mucositis": CtcaeTerm("Mucositis oral", _GI),
    "oesophagitis": CtcaeTerm("Esophagitis", _GI),
    "dysphagia": CtcaeTerm("Dysphagia", _GI),
    "colitis": CtcaeTerm("Colitis", _GI),
    "proctitis": CtcaeTerm("Proctitis", _GI),
    "dry_mouth": CtcaeTerm("Dry mouth", _GI, max_grade=3),
    "anorexia": CtcaeTerm("Anorexia", _META),
    # General
    "fatigue": CtcaeTerm("Fatigue", _GEN, max_grade=3),
    "fever": CtcaeTerm("Fever", _GEN),
    # Skin
    "alopecia": CtcaeTerm("Alopecia", _SKIN, max_grade=2),
    "rash_maculopapular": CtcaeTerm("Rash maculo-papular", _SKIN, max_grade=3),
    "rash_acneiform": CtcaeTerm("Rash acneiform", _SKIN),
    "hand_foot_syndrome": CtcaeTerm("Palmar-plantar erythrodysesthesia syndrome", _SKIN, 1, 3),
    "pruritus": CtcaeTerm("Pruritus", _SKIN, max_grade=3),
    "skin_hyperpigmentation": CtcaeTerm("Skin hyperpigmentation", _SKIN, max_grade=2),
    "radiation_dermatitis": CtcaeTerm("Dermatitis radiation", _INJ),
    # Nervous system, senses
    # CTCAE v5.0 defines grades 1-3 only (v4.03 had a grade 4); motor neuropathy keeps 1-5.
    "peripheral_sensory_neuropathy": CtcaeTerm("Peripheral sensory neuropathy", _NERV, max_grade=3),
    "peripheral_motor_neuropathy": CtcaeTerm("Peripheral motor neuropathy", _NERV),
    "dysgeusia": CtcaeTerm("Dysgeusia", _NERV, max_grade=2),
    "headache": CtcaeTerm("Headache", _NERV, max_grade=3),
    "hearing_impaired": CtcaeTerm("Hearing impaired", _EAR, max_grade=4),
    "tinnitus": CtcaeTerm("Tinnitus", _EAR, max_grade=3),
    "insomnia": CtcaeTerm("Insomnia", _PSY, max_grade=3),
    # Respiratory
    "pneumonitis": CtcaeTerm("Pneumonitis", _RESP),
    "dyspnoea": CtcaeTerm("Dyspnea", _RESP),
    "cough": CtcaeTerm("Cough", _RESP, max_grade=3),
    # Endocrine and metabolic (immune-related adverse events among them)
    "hypothyroidism": CtcaeTerm("Hypothyroidism", _ENDO),
    "hyperthyroidism": CtcaeTerm("Hyperthyroidism", _ENDO),
    "adrenal_insufficiency": CtcaeTerm("Adrenal insufficiency", _ENDO),
    "hyperglycaemia": CtcaeTerm("Hyperglycemia", _META),
    "hypokalaemia": CtcaeTerm("Hypokalemia", _META),
    "hyponatraemia": CtcaeTerm("Hyponatremia", _META),
    "hypomagnesaemia": CtcaeTerm("Hypomagnesemia", _META),
    "hypercalcaemia": CtcaeTerm("Hypercalcemia", _META),
    # Cardiovascular
    "hypertension": CtcaeTerm("Hypertension", _VASC),
    "thromboembolic_event": CtcaeTerm("Thromboembolic event", _VASC),
    "heart_failure": CtcaeTerm("Heart failure", _CARD),
    "myocarditis": CtcaeTerm("Myocarditis", _CARD),
    # Immune, infection
    "infusion_related_reaction": CtcaeTerm("Infusion related reaction", _INJ),
    "anaphylaxis": CtcaeTerm("Anaphylaxis", _IMM, min_grade=3),
    "sepsis": CtcaeTerm("Sepsis", _INF, min_grade=4),
    "lung_infection": CtcaeTerm("Lung infection", _INF, min_grade=2),
    # Musculoskeletal, renal
    "arthralgia": CtcaeTerm("Arthralgia", _MSK, max_grade=3),
    "myalgia": CtcaeTerm("Myalgia", _MSK, max_grade=3),
    "cystitis_noninfective": CtcaeTerm("Cystitis noninfective", _REN),
}


def validate_toxicity(term: str | None, grade: object) -> list[Issue]:
    """Issues on "term" and "grade" of one Toxicity record."""
    if not term:
        return []
    spec = CTCAE_TERMS.get(term)
    if spec is None:
        return [Issue("term", f"unknown CTCAE term '{term}'")]
    if grade is None or grade == "":
        return []
    if not isinstance(grade, int) or isinstance(grade, bool) or grade not in spec.grades:
        return [
            Issue(
                "grade",
                f"{spec.label} is graded {spec.min_grade}-{spec.max_grade} in CTCAE v5.0",
            )
        ]
    return []
