"""Select options for the record forms, read from the catalogues of oncology.clinical.

An adapter only: it turns the pure library's tables into (value, label) pairs and holds no
clinical codes of its own, so the forms and the validators can never disagree about what a valid
code is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any

_LABEL_ATTRS = ("label", "name", "term", "display", "description", "title")


def _module(name: str) -> ModuleType | None:
    try:
        return import_module(f"oncology.clinical.{name}")
    except ModuleNotFoundError:
        return None


def _table(module_name: str, *names: str) -> Any:
    module = _module(module_name)
    if module is None:
        return None
    for name in names:
        if hasattr(module, name):
            return getattr(module, name)
    return None


def _label(key: str, entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping):
        for attr in _LABEL_ATTRS:
            if isinstance(entry.get(attr), str):
                return str(entry[attr])
        return key
    for attr in _LABEL_ATTRS:
        value = getattr(entry, attr, None)
        if isinstance(value, str) and value:
            return value
    return key


def _choices(table: Any) -> list[tuple[str, str]]:
    if not table:
        return []
    if isinstance(table, Mapping):
        items: Iterable[tuple[str, Any]] = ((str(k), v) for k, v in table.items())
    else:
        items = ((str(getattr(e, "code", e)), e) for e in table)
    out = []
    for key, entry in items:
        label = _label(key, entry)
        out.append((key, key if label == key else f"{key} · {label}"))
    return out


@cache
def topography_choices() -> list[tuple[str, str]]:
    return _choices(_table("icdo3", "TOPOGRAPHY", "TOPOGRAPHIES", "SITES"))


@cache
def morphology_choices() -> list[tuple[str, str]]:
    return _choices(_table("icdo3", "MORPHOLOGY", "MORPHOLOGIES", "HISTOLOGIES"))


@cache
def charlson_choices() -> list[tuple[str, str]]:
    return _choices(_table("charlson", "CONDITIONS"))


@cache
def lab_choices() -> list[tuple[str, str]]:
    return _choices(_table("labs", "LABS"))


@cache
def lab_units() -> list[str]:
    labs = _table("labs", "LABS") or {}
    units: set[str] = set()
    for entry in labs.values() if isinstance(labs, Mapping) else labs:
        for attr in ("unit", "units"):
            value = entry.get(attr) if isinstance(entry, Mapping) else getattr(entry, attr, None)
            if isinstance(value, str):
                units.add(value)
            elif isinstance(value, Iterable):
                units.update(str(u) for u in value)
            elif isinstance(value, Mapping):
                units.update(str(u) for u in value)
    return sorted(units)


@cache
def biomarker_choices() -> list[tuple[str, str]]:
    return _choices(_table("biomarkers", "BIOMARKERS"))


@cache
def ctcae_choices() -> list[tuple[str, str]]:
    return _choices(_table("toxicity", "CTCAE_TERMS"))


@cache
def regimen_names() -> list[str]:
    regimens = _table("treatments", "REGIMENS")
    if isinstance(regimens, Mapping):
        return sorted(str(k) for k in regimens)
    return sorted(str(getattr(r, "name", r)) for r in regimens or [])


def _staging_group(site: str, morphology: str = "") -> str | None:
    from oncology.clinical import tnm

    return tnm.staging_group(site, morphology)


def tnm_categories(site: str, morphology: str = "") -> dict[str, list[str]]:
    """The valid T, N and M categories of the TNM 8th table for a topography code, as
    {"t": [...], "n": [...], "m": [...]} (empty lists where no table applies)."""
    from oncology.clinical import tnm

    scheme = tnm.SCHEMES.get(_staging_group(site, morphology) or "")
    if scheme is None:
        return {"t": [], "n": [], "m": []}
    return {axis: list(scheme.categories(axis)) for axis in ("t", "n", "m")}


def derive_stage(site: str, t: str, n: str, m: str, morphology: str = "") -> str:
    """The stage group for a site and T, N, M (empty when it cannot be derived)."""
    from oncology.clinical import tnm

    return tnm.derive_stage(_staging_group(site, morphology), t, n, m) or ""


def charlson_index(conditions: list[str], age: int | None) -> int | None:
    """The Charlson comorbidity index of a patient (None when the library cannot compute it)."""
    module = _module("charlson")
    fn = getattr(module, "charlson_index", None) if module else None
    if fn is None:
        return None
    try:
        return int(fn(conditions, age=age))
    except TypeError:
        return int(fn(conditions))
    except (KeyError, ValueError):
        return None
