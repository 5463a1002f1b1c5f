"""Tumour biomarkers recorded in Biomarker.name, with the results and values each allows.

Result meanings follow the guideline that defines each test:
- ER/PR: ASCO/CAP 2020 (Allison et al., J Clin Oncol 2020;38:1346): positive if >= 1 % of tumour
  nuclei stain; "equivocal" is not a category.
- HER2: ASCO/CAP 2018 (Wolff et al., J Clin Oncol 2018;36:2105): IHC 0 and 1+ negative, 2+
  equivocal (resolved by ISH), 3+ positive. The value is the IHC score.
- PD-L1 TPS (% tumour cells, 0-100) and CPS (stained cells per 100 tumour cells, capped at 100 by
  definition); the positivity threshold depends on the drug, so the result is not derived.
- Ki-67: % of tumour nuclei (0-100); no universal cut-off.
- Gene alterations (EGFR, ALK, ...): positive = alteration detected; no value.
- MSI: positive = MSI-high; MMR: positive = deficient (loss of a mismatch-repair protein).
- TMB: mutations per megabase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from oncology.clinical.issues import Issue

ALL_RESULTS = ("positive", "negative", "equivocal", "not_done")
_BINARY = ("positive", "negative", "not_done")


@dataclass(frozen=True)
class BiomarkerSpec:
    label: str
    results: tuple[str, ...]
    unit: str | None = None  # None: no value may be recorded
    value_range: tuple[float, float] | None = None
    integer: bool = False
    value_required: bool = False  # a result other than not_done needs a value


def _percent(
    label: str, results: tuple[str, ...] = _BINARY, required: bool = False
) -> BiomarkerSpec:
    return BiomarkerSpec(label, results, "%", (0, 100), value_required=required)


def _gene(label: str) -> BiomarkerSpec:
    return BiomarkerSpec(label, _BINARY)


BIOMARKERS: dict[str, BiomarkerSpec] = {
    # Breast
    "ER": _percent("Oestrogen receptor (IHC, % nuclei)"),
    "PR": _percent("Progesterone receptor (IHC, % nuclei)"),
    "HER2": BiomarkerSpec("HER2 (IHC score 0-3, ISH)", ALL_RESULTS, "IHC score", (0, 3), True),
    "Ki-67": _percent("Ki-67 proliferation index (% nuclei)", ALL_RESULTS, required=True),
    # Immunotherapy
    "PD-L1 TPS": _percent("PD-L1 tumour proportion score (%)"),
    "PD-L1 CPS": BiomarkerSpec("PD-L1 combined positive score", _BINARY, "CPS", (0, 100)),
    "MSI": BiomarkerSpec("Microsatellite instability (positive = MSI-high)", _BINARY),
    "MMR": BiomarkerSpec("Mismatch repair IHC (positive = deficient, dMMR)", _BINARY),
    "TMB": BiomarkerSpec("Tumour mutational burden", _BINARY, "mut/Mb", (0, 1000)),
    # Driver alterations
    "EGFR": _gene("EGFR mutation"),
    "ALK": _gene("ALK rearrangement"),
    "ROS1": _gene("ROS1 rearrangement"),
    "KRAS": _gene("KRAS mutation"),
    "NRAS": _gene("NRAS mutation"),
    "BRAF": _gene("BRAF V600 mutation"),
    "MET": _gene("MET exon 14 skipping"),
    "RET": _gene("RET rearrangement"),
    "NTRK": _gene("NTRK fusion"),
    "HER2 mutation": _gene("ERBB2 (HER2) mutation"),
    "PIK3CA": _gene("PIK3CA mutation"),
    "BRCA1": _gene("BRCA1 pathogenic variant"),
    "BRCA2": _gene("BRCA2 pathogenic variant"),
    # Other
    "p16": BiomarkerSpec("p16 IHC (HPV surrogate)", _BINARY),
}


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_biomarker(name: str | None, result: str | None, value: object) -> list[Issue]:
    """Issues on "name", "result" and "value" of one Biomarker record."""
    if not name:
        return []
    spec = BIOMARKERS.get(name)
    if spec is None:
        return [Issue("name", f"unknown biomarker '{name}'")]
    issues: list[Issue] = []
    if result and result not in spec.results:
        issues.append(Issue("result", f"result '{result}' does not apply to {name}"))
    has_value = value is not None and value != ""
    if not has_value:
        if spec.value_required and result and result != "not_done":
            issues.append(Issue("value", f"{name} needs a value ({spec.unit})"))
        return issues
    if spec.unit is None:
        issues.append(Issue("value", f"{name} is recorded without a value"))
        return issues
    if result == "not_done":
        issues.append(Issue("value", "a test that was not done cannot have a value"))
        return issues
    if not _is_number(value):
        issues.append(Issue("value", f"{name} value must be a number"))
        return issues
    number = float(value)
    low, high = spec.value_range or (float("-inf"), float("inf"))
    if not low <= number <= high:
        issues.append(Issue("value", f"{name} must be between {low:g} and {high:g} {spec.unit}"))
        return issues
    if spec.integer and not number.is_integer():
        issues.append(Issue("value", f"{name} {spec.unit} is a whole number (0, 1, 2 or 3)"))
        return issues
    issues.extend(_result_matches_value(name, result, number))
    return issues


def _result_matches_value(name: str, result: str | None, value: float) -> list[Issue]:
    if name in ("ER", "PR") and result in ("positive", "negative"):
        expected = "positive" if value >= 1 else "negative"
        if result != expected:
            return [
                Issue(
                    "result",
                    f"{name} is {expected} when {'1 % or more' if value >= 1 else 'under 1 %'} "
                    "of nuclei stain (ASCO/CAP 2020)",
                )
            ]
    if name == "HER2" and result:
        if value == 3 and result != "positive":
            return [Issue("result", "HER2 IHC 3+ is positive (ASCO/CAP 2018)")]
        if value <= 1 and result != "negative":
            return [Issue("result", "HER2 IHC 0 or 1+ is negative (ASCO/CAP 2018)")]
    return []
