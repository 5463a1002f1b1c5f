"""Laboratory values of a synthetic patient, in the units a UK laboratory reports (all accepted
by oncology.clinical.labs, keyed by LOINC).

Values centre on the adult reference intervals (Pathology Harmony) and move the way they do in
cancer: anaemia and low albumin with advanced or progressing disease, raised LDH in small-cell
and metastatic cancer, thrombocytopenia, raised bilirubin and transaminases and low albumin in
the cirrhosis underlying hepatocellular carcinoma, tumour markers raised with disease burden
(CEA in colorectal, CA 15-3 in breast, AFP in hepatocellular carcinoma).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oncology.clinical.labs import LABS

HAEMOGLOBIN = "718-7"
WHITE_CELLS = "6690-2"
NEUTROPHILS = "751-8"
PLATELETS = "777-3"
CREATININE = "2160-0"
BILIRUBIN = "1975-2"
ALT = "1742-6"
AST = "1920-8"
ALP = "6768-6"
ALBUMIN = "1751-7"
LDH = "2532-0"
CEA = "2039-6"
CA15_3 = "6875-9"
AFP = "1834-1"

UNITS = {
    HAEMOGLOBIN: "g/L",
    WHITE_CELLS: "10^9/L",
    NEUTROPHILS: "10^9/L",
    PLATELETS: "10^9/L",
    CREATININE: "umol/L",
    BILIRUBIN: "umol/L",
    ALT: "U/L",
    AST: "U/L",
    ALP: "U/L",
    ALBUMIN: "g/L",
    LDH: "U/L",
    CEA: "ug/L",
    CA15_3: "kU/L",
    AFP: "ng/mL",
}
_MISSING = [
    code for code, unit in UNITS.items() if code not in LABS or unit not in LABS[code].units
]
if _MISSING:  # the code list belongs to the clinical library: fail at import, not in validation
    raise ImportError(f"demo lab codes or units unknown to oncology.clinical.labs: {_MISSING}")


@dataclass
class LabState:
    site: str
    bucket: str
    female: bool
    age: float
    creatinine: float  # the patient's baseline, umol/L
    progressed: bool
    markers_high: bool
    afp: float | None = None  # at diagnosis (hepatocellular carcinoma), ng/mL


def baseline_creatinine(rng: np.random.Generator, *, female: bool, age: float) -> float:
    """Serum creatinine (umol/L): lower in women, rising slowly after 60."""
    median = (66 if female else 84) * (1 + max(age - 60, 0) * 0.006)
    return float(np.clip(rng.lognormal(np.log(median), 0.15), 40, 250))


def _lognormal(rng: np.random.Generator, median: float, sigma: float) -> float:
    return float(rng.lognormal(np.log(median), sigma))


def panel(rng: np.random.Generator, s: LabState, *, full: bool) -> list[tuple[str, float, str]]:
    """(LOINC code, value, unit) of a blood panel: full at diagnosis, shorter at follow-up."""
    liver = s.site == "liver"
    advanced = s.bucket == "IV" or s.progressed
    hb = rng.normal(132 if s.female else 145, 11) - (12 if advanced else 0) - (6 if liver else 0)
    values: dict[str, float] = {
        HAEMOGLOBIN: round(float(np.clip(hb, 65, 185))),
        WHITE_CELLS: round(float(np.clip(_lognormal(rng, 7.0, 0.25), 1.5, 25)), 1),
        PLATELETS: round(float(np.clip(_lognormal(rng, 120 if liver else 260, 0.3), 20, 900))),
        CREATININE: round(float(np.clip(s.creatinine * rng.normal(1.0, 0.07), 35, 400))),
        ALBUMIN: round(
            float(
                np.clip(rng.normal(40 - (4 if advanced else 0) - (6 if liver else 0), 3.5), 18, 52)
            )
        ),
    }
    values[NEUTROPHILS] = round(values[WHITE_CELLS] * float(rng.uniform(0.5, 0.7)), 1)
    values[BILIRUBIN] = round(float(np.clip(_lognormal(rng, 22 if liver else 9, 0.35), 2, 120)))
    values[ALT] = round(float(np.clip(_lognormal(rng, 50 if liver else 22, 0.4), 5, 600)))
    if full:
        values[AST] = round(float(np.clip(_lognormal(rng, 65 if liver else 24, 0.4), 8, 800)))
        values[ALP] = round(float(np.clip(_lognormal(rng, 130 if advanced else 80, 0.3), 30, 900)))
        ldh_median = 320 if advanced else 190
        values[LDH] = round(float(np.clip(_lognormal(rng, ldh_median, 0.25), 90, 3000)))
    if s.site == "colorectal":
        values[CEA] = round(_lognormal(rng, 30 if s.markers_high else 2.5, 0.8), 1)
    elif s.site == "breast":
        values[CA15_3] = round(_lognormal(rng, 70 if s.markers_high else 18, 0.5), 1)
    elif liver:
        if full and s.afp is not None:
            values[AFP] = s.afp
        else:
            values[AFP] = round(_lognormal(rng, 400 if s.markers_high else 40, 1.2), 1)
    return [(code, float(value), UNITS[code]) for code, value in values.items()]
