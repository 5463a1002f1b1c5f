"""Laboratory tests used in oncology, keyed by LOINC code (LabResult.code).

Each entry gives the LOINC long common name (abridged), the canonical unit results are compared
in, the accepted units with the factor that converts a value in that unit to the canonical unit,
a physiologically possible range (outside it the value is a unit or typing error, reported as an
error), and a typical adult reference range used only for flagging low/high. Reference ranges
vary by laboratory, method, age and sex: the flag is a convenience, the laboratory's own range
prevails.

Conversion factors (canonical = value x factor):
- creatinine: 1 mg/dL = 88.4 umol/L (molar mass 113.12 g/mol)
- bilirubin: 1 mg/dL = 17.1 umol/L (584.66 g/mol)
- urate: 1 mg/dL = 59.48 umol/L (168.11 g/mol)
- calcium: 1 mmol/L = 4.008 mg/dL (40.08 g/mol); magnesium: 1 mmol/L = 2.431 mg/dL (24.31 g/mol)
- glucose: 1 mmol/L = 18.016 mg/dL (180.16 g/mol)
- haemoglobin: 1 g/dL = 10 g/L = 0.6206 mmol/L (monomer basis, 16.1 kDa), so 1 mmol/L = 1.611 g/dL
- AFP: 1 IU/mL = 1.21 ng/mL (WHO 72/225 standard)
- enzyme activity: 1 ukat/L = 60 U/L
Cell counts: 10^9/L = 10^3/uL = 10*3/uL (UCUM) = /nL = G/L.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from oncology.clinical.issues import Issue

Flag = Literal["low", "high", "normal"]


@dataclass(frozen=True)
class Lab:
    name: str
    unit: str
    units: dict[str, float]  # accepted unit -> factor to the canonical unit
    possible: tuple[float, float]  # canonical unit, inclusive
    reference: tuple[float | None, float | None]  # canonical unit; None = no bound


_COUNT = {"10^9/L": 1.0, "10*9/L": 1.0, "10^3/uL": 1.0, "10*3/uL": 1.0, "/nL": 1.0, "G/L": 1.0}
_ENZYME = {"U/L": 1.0, "IU/L": 1.0, "ukat/L": 60.0}
_MMOL = {"mmol/L": 1.0, "mEq/L": 1.0}
_NG_ML = {"ng/mL": 1.0, "ug/L": 1.0}
_U_ML = {"U/mL": 1.0, "kU/L": 1.0}
_EGFR = {"mL/min/1.73m2": 1.0, "mL/min/{1.73_m2}": 1.0}

LABS: dict[str, Lab] = {
    # Haematology
    "718-7": Lab(
        "haemoglobin", "g/dL", {"g/dL": 1.0, "g/L": 0.1, "mmol/L": 1.611}, (1, 25), (12.0, 17.5)
    ),
    "6690-2": Lab("white cell count", "10^9/L", _COUNT, (0, 1000), (4.0, 11.0)),
    "751-8": Lab("neutrophil count", "10^9/L", _COUNT, (0, 500), (1.5, 7.5)),
    "731-0": Lab("lymphocyte count", "10^9/L", _COUNT, (0, 1000), (1.0, 4.0)),
    "777-3": Lab("platelet count", "10^9/L", _COUNT, (0, 5000), (150, 400)),
    "6301-6": Lab("INR", "{INR}", {"{INR}": 1.0, "INR": 1.0, "ratio": 1.0}, (0.5, 20), (0.8, 1.2)),
    # Renal
    "2160-0": Lab(
        "creatinine", "mg/dL", {"mg/dL": 1.0, "umol/L": 1 / 88.4}, (0.05, 40), (0.6, 1.3)
    ),
    # KDIGO 2012: eGFR below 60 is decreased kidney function (G3a-G5) without other markers.
    "62238-1": Lab("eGFR (CKD-EPI)", "mL/min/1.73m2", _EGFR, (0, 250), (60, None)),
    "98979-8": Lab("eGFR (CKD-EPI 2021)", "mL/min/1.73m2", _EGFR, (0, 250), (60, None)),
    "3084-1": Lab("urate", "mg/dL", {"mg/dL": 1.0, "umol/L": 1 / 59.48}, (0.1, 40), (3.5, 7.2)),
    # Liver
    "1975-2": Lab(
        "total bilirubin", "mg/dL", {"mg/dL": 1.0, "umol/L": 1 / 17.1}, (0, 80), (0.1, 1.2)
    ),
    "1742-6": Lab("ALT", "U/L", _ENZYME, (0, 20000), (None, 40)),
    "1920-8": Lab("AST", "U/L", _ENZYME, (0, 20000), (None, 40)),
    "6768-6": Lab("alkaline phosphatase", "U/L", _ENZYME, (0, 10000), (40, 130)),
    "1751-7": Lab("albumin", "g/dL", {"g/dL": 1.0, "g/L": 0.1}, (0.5, 7.0), (3.5, 5.0)),
    "2532-0": Lab("LDH", "U/L", _ENZYME, (0, 50000), (125, 250)),
    # Electrolytes and metabolism
    "2951-2": Lab("sodium", "mmol/L", _MMOL, (90, 200), (135, 145)),
    "2823-3": Lab("potassium", "mmol/L", _MMOL, (1.0, 12.0), (3.5, 5.1)),
    "17861-6": Lab("calcium", "mg/dL", {"mg/dL": 1.0, "mmol/L": 4.008}, (2.0, 25.0), (8.6, 10.3)),
    "19123-9": Lab("magnesium", "mg/dL", {"mg/dL": 1.0, "mmol/L": 2.431}, (0.2, 20.0), (1.7, 2.2)),
    # Fasting plasma glucose reference (ADA: 70-99 mg/dL).
    "2345-7": Lab("glucose", "mg/dL", {"mg/dL": 1.0, "mmol/L": 18.016}, (10, 3000), (70, 99)),
    "1988-5": Lab("CRP", "mg/L", {"mg/L": 1.0, "mg/dL": 10.0}, (0, 1000), (None, 5.0)),
    "3016-3": Lab(
        "TSH", "mIU/L", {"mIU/L": 1.0, "mU/L": 1.0, "uIU/mL": 1.0}, (0, 1000), (0.4, 4.0)
    ),
    # Tumour markers (upper limits as commonly reported; assay dependent)
    "2039-6": Lab("CEA", "ng/mL", _NG_ML, (0, 1e6), (None, 5.0)),
    "6875-9": Lab("CA 15-3", "U/mL", _U_ML, (0, 1e6), (None, 30)),
    "24108-3": Lab("CA 19-9", "U/mL", _U_ML, (0, 1e7), (None, 37)),
    "10334-1": Lab("CA-125", "U/mL", _U_ML, (0, 1e6), (None, 35)),
    "1834-1": Lab("AFP", "ng/mL", {**_NG_ML, "IU/mL": 1.21, "kIU/L": 1.21}, (0, 1e7), (None, 10)),
    "2857-1": Lab("PSA", "ng/mL", _NG_ML, (0, 1e5), (None, 4.0)),
}


def _norm_unit(unit: str) -> str:
    return unit.strip().replace("\u00b5", "u").replace("\u03bc", "u").replace(" ", "").lower()


def _factor(lab: Lab, unit: str) -> float | None:
    wanted = _norm_unit(unit)
    for accepted, factor in lab.units.items():
        if _norm_unit(accepted) == wanted:
            return factor
    return None


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10000 else f"{x:.4g}"


def accepted_units(code: str) -> tuple[str, ...]:
    return tuple(LABS[code].units)


def to_canonical(code: str, value: float, unit: str) -> float:
    """The value in the lab's canonical unit. ValueError for an unknown code or unit."""
    lab = LABS.get(code)
    if lab is None:
        raise ValueError(f"unknown LOINC code '{code}'")
    factor = _factor(lab, unit)
    if factor is None:
        raise ValueError(f"unit '{unit}' is not accepted for {lab.name}")
    return value * factor


def flag(code: str, value: float, unit: str) -> Flag:
    """ "low", "high" or "normal" against the adult reference range."""
    canonical = to_canonical(code, value, unit)
    low, high = LABS[code].reference
    if low is not None and canonical < low:
        return "low"
    if high is not None and canonical > high:
        return "high"
    return "normal"


def validate_lab(code: str | None, value: object, unit: str | None) -> list[Issue]:
    """Issues on "code", "unit" and "value" of one LabResult. Empty values are left to the
    caller's required-field checks."""
    if not code:
        return []
    lab = LABS.get(code)
    if lab is None:
        return [Issue("code", f"unknown LOINC code '{code}'")]
    if not unit:
        return []
    factor = _factor(lab, unit)
    if factor is None:
        allowed = ", ".join(lab.units)
        return [Issue("unit", f"unit '{unit}' is not accepted for {lab.name} (use {allowed})")]
    if value is None or value == "":
        return []
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [Issue("value", f"{lab.name} must be a number")]
    canonical = value * factor
    low, high = lab.possible
    if not low <= canonical <= high:
        lo, hi = (_fmt(x / factor) for x in lab.possible)
        return [
            Issue(
                "value",
                f"{lab.name} is outside the possible range {lo}-{hi} {unit}",
            )
        ]
    return []
