"""The systemic regimens the demo cohort receives, with their standard doses and the
toxicities each commonly causes (radiotherapy schedules: radiotherapy.py).

Doses are the labelled / guideline doses of the regimens (NCCN and ESMO guidelines, the SmPCs,
and the pivotal trials named beside each), written per administration and converted to the
patient's own dose by doses.py: body-surface area (Mosteller), weight, or the Calvert formula
for carboplatin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Drug:
    name: str
    dose: float
    basis: str  # "mg/m2", "mg/kg", "AUC" or "mg" (flat)


@dataclass(frozen=True)
class Toxicity:
    term: str  # a key of oncology.clinical.toxicity.CTCAE_TERMS
    any_grade: float  # probability of the toxicity at all
    severe: float  # probability that it is grade 3-4, given that it occurs


@dataclass(frozen=True)
class Regimen:
    name: str
    category: str  # SystemicCategory value
    drugs: Sequence[Drug]
    cycle_days: int
    cycles: int | None  # None: until progression (or for `max_days`)
    response_rate: float  # objective response (CR + PR) in measurable disease
    toxicities: Sequence[Toxicity] = field(default_factory=tuple)
    max_days: int | None = None  # for continuous oral / endocrine therapy


_NEUTROPENIA = Toxicity("neutropenia", 0.45, 0.45)
_ANAEMIA = Toxicity("anaemia", 0.45, 0.08)
_NAUSEA = Toxicity("nausea", 0.40, 0.05)
_FATIGUE = Toxicity("fatigue", 0.50, 0.06)
_NEUROPATHY = Toxicity("peripheral_sensory_neuropathy", 0.35, 0.07)
_DIARRHOEA = Toxicity("diarrhoea", 0.30, 0.12)
_PPE = Toxicity("hand_foot_syndrome", 0.35, 0.10)
_FEBRILE = Toxicity("febrile_neutropenia", 0.08, 1.0)
_PNEUMONITIS_IO = Toxicity("pneumonitis", 0.05, 0.35)
_COLITIS_IO = Toxicity("colitis", 0.04, 0.50)
_HYPOTHYROID = Toxicity("hypothyroidism", 0.10, 0.02)
_RASH = Toxicity("rash_maculopapular", 0.15, 0.08)
_ACNEIFORM = Toxicity("rash_acneiform", 0.60, 0.10)
_HYPERTENSION = Toxicity("hypertension", 0.25, 0.30)
_ALOPECIA = Toxicity("alopecia", 0.50, 0.0)
_PLATELETS = Toxicity("thrombocytopenia", 0.25, 0.25)
_ARTHRALGIA = Toxicity("arthralgia", 0.30, 0.03)
_AST = Toxicity("ast_increased", 0.15, 0.20)

_CHEMO = (_NEUTROPENIA, _ANAEMIA, _NAUSEA, _FATIGUE, _FEBRILE)
_IO = (_PNEUMONITIS_IO, _COLITIS_IO, _HYPOTHYROID, _RASH, _FATIGUE)


def _r(
    name: str,
    category: str,
    drugs: Sequence[Drug],
    cycle_days: int,
    cycles: int | None,
    response_rate: float,
    toxicities: Sequence[Toxicity] = (),
    max_days: int | None = None,
) -> Regimen:
    return Regimen(
        name, category, tuple(drugs), cycle_days, cycles, response_rate, tuple(toxicities), max_days
    )


_5FU = (Drug("fluorouracil", 400, "mg/m2"), Drug("fluorouracil", 2400, "mg/m2"))

REGIMENS: dict[str, Regimen] = {
    # --- lung -------------------------------------------------------------------------------
    # Adjuvant cisplatin-vinorelbine (ANITA, JBR.10): cisplatin 80 mg/m2 d1, vinorelbine
    # 30 mg/m2 d1 and d8, every 21 days for 4 cycles.
    "cis_vinorelbine": _r(
        "Cisplatin + vinorelbine",
        "chemotherapy",
        [Drug("cisplatin", 80, "mg/m2"), Drug("vinorelbine", 30, "mg/m2")],
        21,
        4,
        0.30,
        (*_CHEMO, _NEUROPATHY),
    ),
    # Concurrent chemoradiotherapy (RTOG 0617 arm): weekly carboplatin AUC 2 + paclitaxel 45 mg/m2.
    "carbo_pac_weekly_crt": _r(
        "Carboplatin + paclitaxel weekly (concurrent with RT)",
        "chemotherapy",
        [Drug("carboplatin", 2, "AUC"), Drug("paclitaxel", 45, "mg/m2")],
        7,
        6,
        0.60,
        (_NEUTROPENIA, _ANAEMIA, _FATIGUE, _NAUSEA),
    ),
    # PACIFIC: durvalumab consolidation 1500 mg every 4 weeks for up to 12 months.
    "durvalumab": _r(
        "Durvalumab consolidation",
        "immunotherapy",
        [Drug("durvalumab", 1500, "mg")],
        28,
        12,
        0.28,
        _IO,
    ),
    # CheckMate 816: nivolumab 360 mg + platinum doublet every 3 weeks x3 before surgery.
    "nivo_carbo_pac_neoadj": _r(
        "Nivolumab + carboplatin + paclitaxel (neoadjuvant)",
        "chemoimmunotherapy",
        [
            Drug("nivolumab", 360, "mg"),
            Drug("carboplatin", 5, "AUC"),
            Drug("paclitaxel", 175, "mg/m2"),
        ],
        21,
        3,
        0.54,
        (*_CHEMO, _NEUROPATHY, *_IO[:2]),
    ),
    # FLAURA: osimertinib 80 mg once daily (ADAURA: adjuvant, 3 years).
    "osimertinib": _r(
        "Osimertinib",
        "targeted",
        [Drug("osimertinib", 80, "mg")],
        28,
        None,
        0.80,
        (_DIARRHOEA, _ACNEIFORM, Toxicity("oral_mucositis", 0.20, 0.02)),
    ),
    "osimertinib_adjuvant": _r(
        "Osimertinib (adjuvant)",
        "targeted",
        [Drug("osimertinib", 80, "mg")],
        28,
        39,
        0.0,
        (_DIARRHOEA, _ACNEIFORM),
    ),
    # ALEX: alectinib 600 mg twice daily.
    "alectinib": _r(
        "Alectinib",
        "targeted",
        [Drug("alectinib", 600, "mg")],
        28,
        None,
        0.83,
        (Toxicity("constipation", 0.30, 0.01), _AST, Toxicity("myalgia", 0.20, 0.01)),
    ),
    # KEYNOTE-024: pembrolizumab 200 mg every 3 weeks, up to 35 cycles (2 years).
    "pembrolizumab_lung": _r(
        "Pembrolizumab",
        "immunotherapy",
        [Drug("pembrolizumab", 200, "mg")],
        21,
        None,
        0.45,
        _IO,
    ),
    # KEYNOTE-189: carboplatin AUC 5 + pemetrexed 500 mg/m2 + pembrolizumab 200 mg, q3w,
    # then pemetrexed + pembrolizumab maintenance.
    "carbo_pem_pembro": _r(
        "Carboplatin + pemetrexed + pembrolizumab",
        "chemoimmunotherapy",
        [
            Drug("carboplatin", 5, "AUC"),
            Drug("pemetrexed", 500, "mg/m2"),
            Drug("pembrolizumab", 200, "mg"),
        ],
        21,
        None,
        0.48,
        (*_CHEMO, *_IO[:3]),
    ),
    # KEYNOTE-407: carboplatin AUC 6 + paclitaxel 200 mg/m2 + pembrolizumab 200 mg, q3w.
    "carbo_pac_pembro": _r(
        "Carboplatin + paclitaxel + pembrolizumab",
        "chemoimmunotherapy",
        [
            Drug("carboplatin", 6, "AUC"),
            Drug("paclitaxel", 200, "mg/m2"),
            Drug("pembrolizumab", 200, "mg"),
        ],
        21,
        None,
        0.58,
        (*_CHEMO, _NEUROPATHY, _ALOPECIA, *_IO[:3]),
    ),
    # Carboplatin AUC 5 + gemcitabine 1000 mg/m2 d1, d8, q3w x4 (performance status 2).
    "carbo_gem": _r(
        "Carboplatin + gemcitabine",
        "chemotherapy",
        [Drug("carboplatin", 5, "AUC"), Drug("gemcitabine", 1000, "mg/m2")],
        21,
        4,
        0.28,
        (*_CHEMO, _PLATELETS),
    ),
    # Second line: docetaxel 75 mg/m2 q3w.
    "docetaxel": _r(
        "Docetaxel",
        "chemotherapy",
        [Drug("docetaxel", 75, "mg/m2")],
        21,
        None,
        0.12,
        (*_CHEMO, _ALOPECIA, _NEUROPATHY),
    ),
    # Limited-stage SCLC: cisplatin 75 mg/m2 d1 + etoposide 100 mg/m2 d1-3, q3w x4 (CONVERT).
    "cis_etoposide": _r(
        "Cisplatin + etoposide",
        "chemotherapy",
        [Drug("cisplatin", 75, "mg/m2"), Drug("etoposide", 100, "mg/m2")],
        21,
        4,
        0.78,
        (*_CHEMO, _ALOPECIA),
    ),
    # IMpower133: carboplatin AUC 5 + etoposide 100 mg/m2 d1-3 + atezolizumab 1200 mg q3w x4,
    # then atezolizumab maintenance.
    "carbo_etop_atezo": _r(
        "Carboplatin + etoposide + atezolizumab",
        "chemoimmunotherapy",
        [
            Drug("carboplatin", 5, "AUC"),
            Drug("etoposide", 100, "mg/m2"),
            Drug("atezolizumab", 1200, "mg"),
        ],
        21,
        None,
        0.60,
        (*_CHEMO, _ALOPECIA, *_IO[:3]),
    ),
    # Topotecan 1.5 mg/m2 d1-5 q3w (second-line SCLC).
    "topotecan": _r(
        "Topotecan",
        "chemotherapy",
        [Drug("topotecan", 1.5, "mg/m2")],
        21,
        None,
        0.17,
        (*_CHEMO, _PLATELETS),
    ),
    # --- breast -----------------------------------------------------------------------------
    # EC: epirubicin 90 mg/m2 + cyclophosphamide 600 mg/m2 q3w x4.
    "ec": _r(
        "Epirubicin + cyclophosphamide (EC)",
        "chemotherapy",
        [Drug("epirubicin", 90, "mg/m2"), Drug("cyclophosphamide", 600, "mg/m2")],
        21,
        4,
        0.65,
        (*_CHEMO, _ALOPECIA),
    ),
    # Weekly paclitaxel 80 mg/m2 x12 (after EC).
    "paclitaxel_weekly": _r(
        "Paclitaxel weekly",
        "chemotherapy",
        [Drug("paclitaxel", 80, "mg/m2")],
        7,
        12,
        0.60,
        (_NEUTROPENIA, _NEUROPATHY, _FATIGUE, _ALOPECIA),
    ),
    # Paclitaxel weekly + trastuzumab (6 mg/kg q3w after an 8 mg/kg loading dose; APT trial).
    "paclitaxel_trastuzumab": _r(
        "Paclitaxel weekly + trastuzumab",
        "chemotherapy",
        [Drug("paclitaxel", 80, "mg/m2"), Drug("trastuzumab", 6, "mg/kg")],
        7,
        12,
        0.70,
        (
            _NEUTROPENIA,
            _NEUROPATHY,
            _FATIGUE,
            _ALOPECIA,
            Toxicity("heart_failure", 0.02, 0.3),
        ),
    ),
    # NeoSphere/KRISTINE-era neoadjuvant HER2: paclitaxel + trastuzumab + pertuzumab
    # (pertuzumab 420 mg q3w after an 840 mg loading dose).
    "paclitaxel_hp": _r(
        "Paclitaxel weekly + trastuzumab + pertuzumab",
        "chemotherapy",
        [
            Drug("paclitaxel", 80, "mg/m2"),
            Drug("trastuzumab", 6, "mg/kg"),
            Drug("pertuzumab", 420, "mg"),
        ],
        7,
        12,
        0.80,
        (_NEUTROPENIA, _NEUROPATHY, _DIARRHOEA, _ALOPECIA),
    ),
    # Trastuzumab to complete one year (HERA): 6 mg/kg q3w.
    "trastuzumab": _r(
        "Trastuzumab",
        "targeted",
        [Drug("trastuzumab", 6, "mg/kg")],
        21,
        14,
        0.0,
        (Toxicity("heart_failure", 0.02, 0.3),),
    ),
    # Adjuvant endocrine therapy: letrozole 2.5 mg or tamoxifen 20 mg daily for 5 years.
    "letrozole_adjuvant": _r(
        "Letrozole",
        "hormonal",
        [Drug("letrozole", 2.5, "mg")],
        28,
        None,
        0.0,
        (_ARTHRALGIA, _FATIGUE),
        max_days=5 * 365,
    ),
    "tamoxifen_adjuvant": _r(
        "Tamoxifen",
        "hormonal",
        [Drug("tamoxifen", 20, "mg")],
        28,
        None,
        0.0,
        (_FATIGUE, Toxicity("thromboembolic_event", 0.02, 0.5)),
        max_days=5 * 365,
    ),
    # PALOMA-2: letrozole 2.5 mg daily + palbociclib 125 mg daily d1-21 q28.
    "letrozole_palbociclib": _r(
        "Letrozole + palbociclib",
        "hormonal",
        [Drug("letrozole", 2.5, "mg"), Drug("palbociclib", 125, "mg")],
        28,
        None,
        0.42,
        (_NEUTROPENIA, _FATIGUE, _ARTHRALGIA),
    ),
    # CLEOPATRA: docetaxel 75 mg/m2 + trastuzumab 6 mg/kg + pertuzumab 420 mg q3w.
    "docetaxel_hp": _r(
        "Docetaxel + trastuzumab + pertuzumab",
        "chemotherapy",
        [
            Drug("docetaxel", 75, "mg/m2"),
            Drug("trastuzumab", 6, "mg/kg"),
            Drug("pertuzumab", 420, "mg"),
        ],
        21,
        None,
        0.80,
        (*_CHEMO, _DIARRHOEA, _ALOPECIA),
    ),
    # Paclitaxel 90 mg/m2 d1, 8, 15 q28 (E2100 backbone) for metastatic triple-negative.
    "paclitaxel_metastatic": _r(
        "Paclitaxel",
        "chemotherapy",
        [Drug("paclitaxel", 90, "mg/m2")],
        28,
        None,
        0.30,
        (_NEUTROPENIA, _NEUROPATHY, _FATIGUE, _ALOPECIA),
    ),
    # Capecitabine 1250 mg/m2 twice daily d1-14 q21 (metastatic breast, later line).
    "capecitabine_breast": _r(
        "Capecitabine",
        "chemotherapy",
        [Drug("capecitabine", 1250, "mg/m2")],
        21,
        None,
        0.20,
        (_PPE, _DIARRHOEA, _FATIGUE),
    ),
    # --- colorectal -------------------------------------------------------------------------
    # CAPOX: oxaliplatin 130 mg/m2 d1 + capecitabine 1000 mg/m2 twice daily d1-14, q3w
    # (IDEA: 3 months for low-risk stage III, 6 months for high-risk).
    "capox": _r(
        "CAPOX (capecitabine + oxaliplatin)",
        "chemotherapy",
        [Drug("oxaliplatin", 130, "mg/m2"), Drug("capecitabine", 1000, "mg/m2")],
        21,
        8,
        0.45,
        (_NEUROPATHY, _PPE, _DIARRHOEA, _NAUSEA, _NEUTROPENIA, _FATIGUE),
    ),
    # Capecitabine 1250 mg/m2 twice daily d1-14 q3w x8 (X-ACT), for older patients.
    "capecitabine_adjuvant": _r(
        "Capecitabine",
        "chemotherapy",
        [Drug("capecitabine", 1250, "mg/m2")],
        21,
        8,
        0.20,
        (_PPE, _DIARRHOEA, _FATIGUE),
    ),
    # Capecitabine 825 mg/m2 twice daily with long-course pelvic radiotherapy.
    "capecitabine_crt": _r(
        "Capecitabine (concurrent with RT)",
        "chemotherapy",
        [Drug("capecitabine", 825, "mg/m2")],
        35,
        1,
        0.50,
        (_DIARRHOEA, _PPE, _FATIGUE),
    ),
    # FOLFOX + bevacizumab 5 mg/kg q2w; FOLFOX + panitumumab 6 mg/kg q2w (RAS wild-type,
    # left-sided; PARADIGM). FOLFOX: oxaliplatin 85 mg/m2, folinic acid 400 mg/m2,
    # 5-FU 400 mg/m2 bolus then 2400 mg/m2 over 46 h.
    "folfox_bev": _r(
        "FOLFOX + bevacizumab",
        "chemotherapy",
        [
            Drug("oxaliplatin", 85, "mg/m2"),
            Drug("folinic acid", 400, "mg/m2"),
            *_5FU,
            Drug("bevacizumab", 5, "mg/kg"),
        ],
        14,
        None,
        0.50,
        (*_CHEMO, _NEUROPATHY, _DIARRHOEA, _HYPERTENSION),
    ),
    "folfox_pmab": _r(
        "FOLFOX + panitumumab",
        "chemotherapy",
        [
            Drug("oxaliplatin", 85, "mg/m2"),
            Drug("folinic acid", 400, "mg/m2"),
            *_5FU,
            Drug("panitumumab", 6, "mg/kg"),
        ],
        14,
        None,
        0.62,
        (*_CHEMO, _NEUROPATHY, _DIARRHOEA, _ACNEIFORM),
    ),
    # FOLFIRI + bevacizumab (second line): irinotecan 180 mg/m2.
    "folfiri_bev": _r(
        "FOLFIRI + bevacizumab",
        "chemotherapy",
        [
            Drug("irinotecan", 180, "mg/m2"),
            Drug("folinic acid", 400, "mg/m2"),
            *_5FU,
            Drug("bevacizumab", 5, "mg/kg"),
        ],
        14,
        None,
        0.20,
        (*_CHEMO, _DIARRHOEA, _ALOPECIA, _HYPERTENSION),
    ),
    # KEYNOTE-177: pembrolizumab 200 mg q3w for MSI-high metastatic colorectal cancer.
    "pembrolizumab_crc": _r(
        "Pembrolizumab",
        "immunotherapy",
        [Drug("pembrolizumab", 200, "mg")],
        21,
        None,
        0.44,
        _IO,
    ),
    "capecitabine_metastatic": _r(
        "Capecitabine",
        "chemotherapy",
        [Drug("capecitabine", 1250, "mg/m2")],
        21,
        None,
        0.20,
        (_PPE, _DIARRHOEA, _FATIGUE),
    ),
    # --- liver ------------------------------------------------------------------------------
    # IMbrave150: atezolizumab 1200 mg + bevacizumab 15 mg/kg q3w.
    "atezo_bev": _r(
        "Atezolizumab + bevacizumab",
        "immunotherapy",
        [Drug("atezolizumab", 1200, "mg"), Drug("bevacizumab", 15, "mg/kg")],
        21,
        None,
        0.30,
        (*_IO[:3], _HYPERTENSION, Toxicity("ast_increased", 0.15, 0.2)),
    ),
    # REFLECT: lenvatinib 12 mg daily (>= 60 kg) or 8 mg (< 60 kg); dose set by the caller.
    "lenvatinib": _r(
        "Lenvatinib",
        "targeted",
        [Drug("lenvatinib", 12, "mg")],
        28,
        None,
        0.24,
        (_HYPERTENSION, _DIARRHOEA, _FATIGUE, _PPE),
    ),
    # SHARP: sorafenib 400 mg twice daily.
    "sorafenib": _r(
        "Sorafenib",
        "targeted",
        [Drug("sorafenib", 400, "mg")],
        28,
        None,
        0.05,
        (_PPE, _DIARRHOEA, _FATIGUE, _HYPERTENSION),
    ),
}
