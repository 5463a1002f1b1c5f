"""Charlson comorbidity index.

Weights: Charlson ME, Pompei P, Ales KL, MacKenzie CR. A new method of classifying prognostic
comorbidity in longitudinal studies: development and validation. J Chronic Dis 1987;40:373-383
(the weighted index, Table 3 of the paper). Age: Charlson M, Szatrowski TP, Peterson J, Gold J.
Validation of a combined comorbidity index. J Clin Epidemiol 1994;47:1245-1251: one point for
each decade of age from 50 (50-59 = 1, 60-69 = 2, 70-79 = 3, 80 and over = 4).

Keys are stable: they are stored in Comorbidity.condition. In a tumour-board record the cancer
under discussion is not itself a comorbidity; record `any_tumour` / `metastatic_solid_tumour`
only for another malignancy.
"""

from __future__ import annotations

from collections.abc import Iterable

CONDITIONS: dict[str, tuple[str, int]] = {
    # weight 1
    "myocardial_infarction": ("Myocardial infarction (history, not ECG change only)", 1),
    "chf": ("Congestive heart failure", 1),
    "peripheral_vascular_disease": (
        "Peripheral vascular disease (incl. aortic aneurysm >= 6 cm)",
        1,
    ),
    "cerebrovascular_disease": ("Cerebrovascular disease (CVA with mild or no residua, TIA)", 1),
    "dementia": ("Dementia", 1),
    "chronic_pulmonary_disease": ("Chronic pulmonary disease", 1),
    "connective_tissue_disease": ("Connective tissue disease", 1),
    "peptic_ulcer_disease": ("Peptic ulcer disease", 1),
    "mild_liver": (
        "Mild liver disease (chronic hepatitis or cirrhosis without portal hypertension)",
        1,
    ),
    "diabetes_uncomplicated": ("Diabetes without end-organ damage", 1),
    # weight 2
    "hemiplegia": ("Hemiplegia", 2),
    "moderate_severe_renal": ("Moderate or severe renal disease", 2),
    "diabetes_end_organ": ("Diabetes with end-organ damage", 2),
    "any_tumour": ("Any tumour without metastasis (within the last 5 years)", 2),
    "leukaemia": ("Leukaemia", 2),
    "lymphoma": ("Lymphoma", 2),
    # weight 3
    "moderate_severe_liver": ("Moderate or severe liver disease", 3),
    # weight 6
    "metastatic_solid_tumour": ("Metastatic solid tumour", 6),
    "aids": ("AIDS (not just HIV positive)", 6),
}

# The milder form is not counted when the more severe form of the same disease is present
# (standard practice in applying the 1987 index: each disease is scored once, at its worst).
_SUPERSEDED_BY: dict[str, str] = {
    "mild_liver": "moderate_severe_liver",
    "diabetes_uncomplicated": "diabetes_end_organ",
    "any_tumour": "metastatic_solid_tumour",
}


def age_points(age_years: int) -> int:
    if age_years < 0:
        raise ValueError("age must not be negative")
    return min(max((age_years - 40) // 10, 0), 4)


def charlson_index(conditions: Iterable[str], age_years: int | None = None) -> int:
    """The Charlson index of a set of condition keys, age-adjusted when `age_years` is given.

    Raises ValueError for a key that is not in CONDITIONS (validate records first)."""
    present = set(conditions)
    unknown = present - CONDITIONS.keys()
    if unknown:
        raise ValueError(f"unknown Charlson condition(s): {', '.join(sorted(unknown))}")
    score = sum(CONDITIONS[key][1] for key in present if _SUPERSEDED_BY.get(key) not in present)
    if age_years is not None:
        score += age_points(age_years)
    return score
