"""Systemic therapy drug entries and radiotherapy courses: plausibility limits.

The limits catch unit and typing errors (2400 recorded in "g" instead of "mg"), not clinical
appropriateness: they sit above the largest doses in routine use, with the source of each named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeGuard

from oncology.clinical.issues import Issue

# Largest plausible dose per administration, by unit.
DOSE_UNIT_MAX: dict[str, float] = {
    # High-dose methotrexate, up to 12 g/m2 (osteosarcoma protocols), x ~2.5 m2 body surface.
    "mg": 30000,
    "g": 30,
    # High-dose methotrexate 12 g/m2 and high-dose ifosfamide courses; margin to 15 g/m2.
    "mg/m2": 15000,
    "g/m2": 15,
    # Cyclophosphamide 50-60 mg/kg per day in transplant conditioning; margin to 100.
    "mg/kg": 100,
    # Carboplatin by the Calvert formula: AUC 2 (weekly) to 7 in routine regimens; margin to 10.
    "AUC": 10,
    # Aldesleukin (IL-2) 600,000 IU/kg x ~150 kg is 9e7 IU per dose; margin to 1e8.
    "IU": 1e8,
}
DOSE_UNITS: tuple[str, ...] = tuple(DOSE_UNIT_MAX)
MAX_CYCLES = 100

# Common regimens (name -> drugs), offered by forms; free-text regimens remain allowed.
COMMON_REGIMENS: dict[str, tuple[str, ...]] = {
    "FOLFOX": ("oxaliplatin", "folinic acid", "fluorouracil"),
    "FOLFIRI": ("irinotecan", "folinic acid", "fluorouracil"),
    "FOLFIRINOX": ("oxaliplatin", "irinotecan", "folinic acid", "fluorouracil"),
    "CAPOX": ("capecitabine", "oxaliplatin"),
    "capecitabine": ("capecitabine",),
    "carboplatin-pemetrexed": ("carboplatin", "pemetrexed"),
    "cisplatin-pemetrexed": ("cisplatin", "pemetrexed"),
    "carboplatin-paclitaxel": ("carboplatin", "paclitaxel"),
    "cisplatin-etoposide": ("cisplatin", "etoposide"),
    "carboplatin-etoposide": ("carboplatin", "etoposide"),
    "cisplatin-vinorelbine": ("cisplatin", "vinorelbine"),
    "gemcitabine-nab-paclitaxel": ("gemcitabine", "nab-paclitaxel"),
    "AC-T": ("doxorubicin", "cyclophosphamide", "paclitaxel"),
    "EC-T": ("epirubicin", "cyclophosphamide", "docetaxel"),
    "TC": ("docetaxel", "cyclophosphamide"),
    "TCHP": ("docetaxel", "carboplatin", "trastuzumab", "pertuzumab"),
    "pembrolizumab": ("pembrolizumab",),
    "nivolumab": ("nivolumab",),
    "atezolizumab-bevacizumab": ("atezolizumab", "bevacizumab"),
    "durvalumab-tremelimumab": ("durvalumab", "tremelimumab"),
    "osimertinib": ("osimertinib",),
    "alectinib": ("alectinib",),
    "sorafenib": ("sorafenib",),
    "lenvatinib": ("lenvatinib",),
    "tamoxifen": ("tamoxifen",),
    "letrozole": ("letrozole",),
    "anastrozole": ("anastrozole",),
}


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_drugs(drugs: object) -> list[Issue]:
    """Issues on "drugs" (not a list) or "drugs[i].name|dose|unit"."""
    if drugs is None:
        return []
    if not isinstance(drugs, list | tuple):
        return [Issue("drugs", "drugs must be a list of {name, dose, unit} entries")]
    issues: list[Issue] = []
    for i, entry in enumerate(drugs):
        path = f"drugs[{i}]"
        if not isinstance(entry, Mapping):
            issues.append(Issue(path, "each drug must have a name, a dose and a unit"))
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            issues.append(Issue(f"{path}.name", "drug name is required"))
            label = f"drug {i + 1}"
        else:
            label = name.strip()
        unit = entry.get("unit")
        if unit not in DOSE_UNIT_MAX:
            issues.append(
                Issue(
                    f"{path}.unit", f"dose unit of {label} must be one of {', '.join(DOSE_UNITS)}"
                )
            )
        dose = entry.get("dose")
        if dose is None or dose == "":
            issues.append(Issue(f"{path}.dose", f"dose of {label} is required"))
        elif not _is_number(dose) or not math.isfinite(dose):
            issues.append(Issue(f"{path}.dose", f"dose of {label} must be a number"))
        elif dose <= 0:
            issues.append(Issue(f"{path}.dose", f"dose of {label} must be greater than 0"))
        elif isinstance(unit, str) and unit in DOSE_UNIT_MAX and dose > DOSE_UNIT_MAX[unit]:
            issues.append(
                Issue(
                    f"{path}.dose",
                    f"dose of {label} exceeds the plausible maximum of "
                    f"{DOSE_UNIT_MAX[unit]:g} {unit} per administration",
                )
            )
        extra = set(entry) - {"name", "dose", "unit"}
        if extra:
            issues.append(Issue(path, f"unexpected keys: {', '.join(sorted(extra))}"))
    return issues


def validate_cycles(cycles: object) -> list[Issue]:
    if cycles is None or cycles == "":
        return []
    if not isinstance(cycles, int) or isinstance(cycles, bool) or not 1 <= cycles <= MAX_CYCLES:
        return [Issue("cycles", f"cycles must be a whole number from 1 to {MAX_CYCLES}")]
    return []


# --- radiotherapy -------------------------------------------------------------------------------

EXTERNAL_BEAM_MAX_TOTAL_GY = 90.0
"""Highest external-beam prescriptions in routine use are ~80-86.4 Gy (dose-escalated prostate
IMRT, e.g. MSKCC 86.4 Gy; chordoma protons 78-79.2 GyRBE): 90 Gy leaves a margin."""

BRACHY_MAX_TOTAL_GY = 150.0
"""Permanent I-125 prostate implants are prescribed 145 Gy (ABS/AAPM TG-43 monotherapy), the
highest nominal brachytherapy dose in routine use."""

MIN_FRACTIONS, MAX_FRACTIONS = 1, 70
"""Hyperfractionated schedules reach 68 fractions (RTOG 90-03: 81.6 Gy in 68 twice-daily 1.2 Gy
fractions), so 70 rather than 60."""

MIN_DOSE_PER_FRACTION_GY = 0.5
"""Low-dose palliative and benign-disease schedules use 0.5 Gy fractions; nothing lower is a
course of radiotherapy in this record."""

MAX_DOSE_PER_FRACTION_GY: dict[str, float | None] = {
    # Conventional 3D conformal: single 8 Gy for bone metastases, up to 10 Gy single-fraction
    # haemostatic/hemibody treatment.
    "3DCRT": 10.0,
    # Modulated and particle techniques also deliver stereotactic schedules; same cap as SBRT.
    "IMRT": 34.0,
    "VMAT": 34.0,
    "PROTON": 34.0,
    # RTOG 0915: 34 Gy in one fraction for peripheral lung SBRT; RTOG 90-05 single-fraction SRS
    # up to 24 Gy.
    "SBRT": 34.0,
    "SRS": 34.0,
    # Brachytherapy and "other" (IORT, radioembolisation) can deliver the whole dose in one
    # continuous "fraction" (permanent implants, Y-90): no cap beyond the total.
    "BRACHY": None,
    "OTHER": None,
}
_HIGH_TOTAL_TECHNIQUES = ("BRACHY", "OTHER")


def validate_radiotherapy(
    total_dose_gy: object, fractions: object, technique: str | None
) -> list[Issue]:
    """Issues on "total_dose_gy" and "fractions" of one RadiotherapyCourse."""
    issues: list[Issue] = []
    technique = technique or ""
    dose: float | None = None
    if total_dose_gy is not None and total_dose_gy != "":
        limit = (
            BRACHY_MAX_TOTAL_GY
            if technique in _HIGH_TOTAL_TECHNIQUES
            else EXTERNAL_BEAM_MAX_TOTAL_GY
        )
        kind = (
            "brachytherapy or other techniques"
            if limit == BRACHY_MAX_TOTAL_GY
            else ("external beam")
        )
        if not _is_number(total_dose_gy) or not math.isfinite(total_dose_gy):
            issues.append(Issue("total_dose_gy", "total dose must be a number of Gy"))
        elif total_dose_gy <= 0:
            issues.append(Issue("total_dose_gy", "total dose must be greater than 0 Gy"))
        elif total_dose_gy > limit:
            issues.append(
                Issue("total_dose_gy", f"total dose above {limit:g} Gy is not plausible for {kind}")
            )
        else:
            dose = float(total_dose_gy)
    count: int | None = None
    if fractions is not None and fractions != "":
        if (
            not isinstance(fractions, int)
            or isinstance(fractions, bool)
            or not MIN_FRACTIONS <= fractions <= MAX_FRACTIONS
        ):
            issues.append(
                Issue(
                    "fractions",
                    f"fractions must be a whole number from {MIN_FRACTIONS} to {MAX_FRACTIONS}",
                )
            )
        else:
            count = fractions
    if dose is not None and count is not None:
        per_fraction = dose / count
        cap = MAX_DOSE_PER_FRACTION_GY.get(technique)
        if per_fraction < MIN_DOSE_PER_FRACTION_GY:
            issues.append(
                Issue(
                    "fractions",
                    f"dose per fraction is below {MIN_DOSE_PER_FRACTION_GY:g} Gy: check the total "
                    "dose and the number of fractions",
                )
            )
        elif cap is not None and per_fraction > cap:
            issues.append(
                Issue(
                    "fractions",
                    f"dose per fraction above {cap:g} Gy is not plausible for {technique}: check "
                    "the total dose and the number of fractions",
                )
            )
    return issues
