"""Select options for the record forms, read from the catalogues of oncology.clinical.

An adapter only: it turns the pure library's tables into (value, label) pairs and holds no
clinical codes of its own, so the forms and the validators can never disagree about what a valid
code is.
"""

from __future__ import annotations

from functools import cache

from oncology.clinical import biomarkers, charlson, icdo3, labs, tnm, toxicity, treatments

Choices = list[tuple[str, str]]


def _labelled(code: str, label: str) -> str:
    return f"{code} · {label}"


@cache
def topography_choices() -> Choices:
    return [(code, _labelled(code, name)) for code, name in icdo3.TOPOGRAPHY.items()]


@cache
def morphology_choices() -> Choices:
    return [(code, _labelled(code, name)) for code, name in icdo3.MORPHOLOGY.items()]


@cache
def charlson_choices() -> Choices:
    return sorted(
        ((key, label) for key, (label, _weight) in charlson.CONDITIONS.items()),
        key=lambda c: c[1].lower(),
    )


@cache
def lab_choices() -> Choices:
    return sorted(
        (
            (code, f"{lab.name[:1].upper()}{lab.name[1:]} ({lab.unit}) · LOINC {code}")
            for code, lab in labs.LABS.items()
        ),
        key=lambda c: c[1].lower(),
    )


@cache
def lab_units() -> list[str]:
    return sorted({unit for lab in labs.LABS.values() for unit in lab.units})


@cache
def biomarker_choices() -> Choices:
    return [(key, _labelled(key, spec.label)) for key, spec in biomarkers.BIOMARKERS.items()]


@cache
def ctcae_choices() -> Choices:
    return sorted(
        ((key, term.label) for key, term in toxicity.CTCAE_TERMS.items()),
        key=lambda c: c[1].lower(),
    )


@cache
def regimen_names() -> list[str]:
    return sorted(treatments.COMMON_REGIMENS, key=str.lower)


def dose_units() -> tuple[str, ...]:
    return treatments.DOSE_UNITS


def _staging_group(site: str, morphology: str = "") -> str | None:
    return tnm.staging_group(site, morphology)


def tnm_categories(site: str, morphology: str = "") -> dict[str, list[str]]:
    """The valid T, N and M categories of the TNM 8th table for a topography code, as
    {"t": [...], "n": [...], "m": [...]} (empty lists where no table applies)."""
    scheme = tnm.SCHEMES.get(_staging_group(site, morphology) or "")
    if scheme is None:
        return {"t": [], "n": [], "m": []}
    return {axis: list(scheme.categories(axis)) for axis in ("t", "n", "m")}


def derive_stage(site: str, t: str, n: str, m: str, morphology: str = "") -> str:
    """The stage group for a site and T, N, M (empty when it cannot be derived)."""
    return tnm.derive_stage(_staging_group(site, morphology), t, n, m) or ""


# --- Labels for display (the code itself when the catalogue does not know it) -------------------


def topography_label(code: str) -> str:
    return icdo3.topography_name(code) or ""


def morphology_label(code: str) -> str:
    return icdo3.morphology_name(code) or ""


def condition_label(key: str) -> str:
    entry = charlson.CONDITIONS.get(key)
    return entry[0] if entry else key


def lab_label(code: str) -> str:
    lab = labs.LABS.get(code)
    return f"{lab.name[:1].upper()}{lab.name[1:]}" if lab else code


def ctcae_label(term: str) -> str:
    entry = toxicity.CTCAE_TERMS.get(term)
    return entry.label if entry else term
