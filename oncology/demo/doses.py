"""Doses per administration: body-surface area, renal function, the Calvert formula."""

from __future__ import annotations

import math

from oncology.demo.regimens import Drug


def body_surface_area(weight_kg: float, height_cm: float) -> float:
    """Mosteller: BSA (m2) = sqrt(height (cm) x weight (kg) / 3600)."""
    return math.sqrt(height_cm * weight_kg / 3600)


def cockcroft_gault(age: float, weight_kg: float, creatinine_umol_l: float, female: bool) -> float:
    """Creatinine clearance (mL/min) = (140 - age) x weight x k / creatinine (umol/L),
    k = 1.23 for men, 1.04 for women (SI form of Cockcroft & Gault, 1976)."""
    return (140 - age) * weight_kg * (1.04 if female else 1.23) / creatinine_umol_l


def absolute_dose(drug: Drug, *, bsa: float, weight_kg: float, gfr_ml_min: float) -> float:
    """The dose given at one administration, in mg, rounded as pharmacies round it."""
    if drug.basis == "mg/m2":
        dose = drug.dose * bsa
    elif drug.basis == "mg/kg":
        dose = drug.dose * weight_kg
    elif drug.basis == "AUC":
        # Calvert formula; the GFR is capped at 125 mL/min (FDA guidance for carboplatin).
        dose = drug.dose * (min(gfr_ml_min, 125) + 25)
    else:
        return drug.dose
    step = 10 if dose >= 100 else 1 if dose >= 10 else 0.1
    # Half up, as a pharmacy rounds (Python's round() would send 625 mg down to 620).
    return round(math.floor(dose / step + 0.5) * step, 1)
