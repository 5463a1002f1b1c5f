"""The tumour of a synthetic patient: site, histology, ICD-O-3 codes, TNM categories, grade.

Proportions are round figures from cancer registries (CRUK/NCRAS incidence 2016-2018 for the
mix of sites, sex and age; stage at diagnosis from the NCRAS "stage at diagnosis" tables;
histology mix and sub-sites from the WHO classification volumes). T, N and M are drawn from
site-specific distributions and the stage group is then derived from them by
oncology.clinical.tnm, so it is always the TNM 8th edition group of the categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def pick(rng: np.random.Generator, table: Mapping[T, float]) -> T:
    """One key of `table`, drawn with the (unnormalised) weights of its values."""
    keys = list(table)
    weights = np.array([table[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]


@dataclass(frozen=True)
class SiteProfile:
    """What varies between the four tumour sites of the demo."""

    key: str  # "lung", "breast", "colorectal", "liver"
    share: float  # of the cohort
    care_team: str
    male_share: float
    age_mean: float
    age_sd: float
    # ICD-O-3 topography -> weight
    topography: Mapping[str, float]
    # histology key -> (ICD-O-3 morphology, weight)
    histology: Mapping[str, tuple[str, float]]


# Shares: breast, lung and colorectal are of similar size in a UK cancer centre, liver
# (almost all hepatocellular) about a tenth of them.
SITES: dict[str, SiteProfile] = {
    "lung": SiteProfile(
        key="lung",
        share=0.31,
        care_team="thoracic",
        male_share=0.52,
        age_mean=71,
        age_sd=9,
        topography={"C34.0": 0.05, "C34.1": 0.55, "C34.2": 0.05, "C34.3": 0.32, "C34.9": 0.03},
        # NSCLC ~85 % (adenocarcinoma the commonest), SCLC ~15 %.
        histology={
            "adenocarcinoma": ("8140/3", 0.55),
            "squamous": ("8070/3", 0.30),
            "sclc": ("8041/3", 0.15),
        },
    ),
    "breast": SiteProfile(
        key="breast",
        share=0.32,
        care_team="breast",
        male_share=0.01,
        age_mean=62,
        age_sd=12,
        # The upper-outer quadrant holds about half of breast cancers.
        topography={
            "C50.1": 0.06,
            "C50.2": 0.12,
            "C50.3": 0.06,
            "C50.4": 0.45,
            "C50.5": 0.10,
            "C50.8": 0.16,
            "C50.9": 0.05,
        },
        histology={
            "ductal": ("8500/3", 0.78),
            "lobular": ("8520/3", 0.15),
            "mixed": ("8522/3", 0.07),
        },
    ),
    "colorectal": SiteProfile(
        key="colorectal",
        share=0.28,
        care_team="colorectal",
        male_share=0.56,
        age_mean=70,
        age_sd=11,
        topography={
            "C18.0": 0.13,
            "C18.2": 0.10,
            "C18.3": 0.03,
            "C18.4": 0.07,
            "C18.5": 0.03,
            "C18.6": 0.04,
            "C18.7": 0.25,
            "C19.9": 0.07,
            "C20.9": 0.28,
        },
        histology={
            "adenocarcinoma": ("8140/3", 0.88),
            "mucinous": ("8480/3", 0.10),
            "signet_ring": ("8490/3", 0.02),
        },
    ),
    "liver": SiteProfile(
        key="liver",
        share=0.09,
        care_team="hepatobiliary",
        male_share=0.75,
        age_mean=68,
        age_sd=10,
        topography={"C22.0": 1.0},
        histology={"hcc": ("8170/3", 1.0)},
    ),
}
CARE_TEAMS: dict[str, str] = {
    "thoracic": "Thoracic oncology",
    "breast": "Breast unit",
    "colorectal": "Colorectal cancer",
    "hepatobiliary": "Hepatobiliary and liver cancer",
}

# Right-sided colon (caecum to transverse) versus left colon and rectum: drives surgery names
# and the anti-EGFR choice in metastatic disease.
RIGHT_COLON = {"C18.0", "C18.2", "C18.3", "C18.4"}
RECTUM = {"C20.9", "C19.9"}


# ---------------------------------------------------------------------------------------------
# TNM category distributions (8th edition categories)
# ---------------------------------------------------------------------------------------------

_LUNG_M = {"M0": 0.55, "M1a": 0.13, "M1b": 0.12, "M1c": 0.20}
_SCLC_M = {"M0": 0.32, "M1a": 0.12, "M1b": 0.18, "M1c": 0.38}
_LUNG_N0 = {"N0": 0.55, "N1": 0.12, "N2": 0.23, "N3": 0.10}
_LUNG_N_MET = {"N0": 0.20, "N1": 0.10, "N2": 0.40, "N3": 0.30}
_SCLC_N = {"N0": 0.10, "N1": 0.10, "N2": 0.50, "N3": 0.30}
_LUNG_T_SMALL = {
    "T1a": 0.08,
    "T1b": 0.18,
    "T1c": 0.20,
    "T2a": 0.20,
    "T2b": 0.10,
    "T3": 0.14,
    "T4": 0.10,
}
_LUNG_T_LARGE = {"T1b": 0.05, "T1c": 0.12, "T2a": 0.20, "T2b": 0.13, "T3": 0.25, "T4": 0.25}

_BREAST_M = {"M0": 0.95, "M1": 0.05}
_BREAST_N = {"N0": 0.62, "N1": 0.25, "N2a": 0.08, "N3a": 0.05}
_BREAST_T_N0 = {"T1a": 0.06, "T1b": 0.16, "T1c": 0.38, "T2": 0.34, "T3": 0.05, "T4b": 0.01}
_BREAST_T_NPOS = {"T1b": 0.06, "T1c": 0.24, "T2": 0.46, "T3": 0.14, "T4b": 0.07, "T4d": 0.03}

_CRC_M = {"M0": 0.78, "M1a": 0.13, "M1b": 0.05, "M1c": 0.04}
_CRC_N = {"N0": 0.55, "N1a": 0.12, "N1b": 0.13, "N2a": 0.10, "N2b": 0.10}
_CRC_T_N0 = {"T1": 0.14, "T2": 0.20, "T3": 0.52, "T4a": 0.10, "T4b": 0.04}
_CRC_T_NPOS = {"T1": 0.03, "T2": 0.07, "T3": 0.62, "T4a": 0.19, "T4b": 0.09}

_HCC_M = {"M0": 0.85, "M1": 0.15}
_HCC_N = {"N0": 0.92, "N1": 0.08}
_HCC_T = {"T1a": 0.12, "T1b": 0.25, "T2": 0.28, "T3": 0.18, "T4": 0.17}


def draw_tnm(rng: np.random.Generator, site: str, histology: str) -> tuple[str, str, str]:
    """Clinical T, N and M categories for a new diagnosis."""
    if site == "lung":
        if histology == "sclc":
            m = pick(rng, _SCLC_M)
            n = pick(rng, _SCLC_N)
            t = pick(rng, _LUNG_T_LARGE)
        else:
            m = pick(rng, _LUNG_M)
            n = pick(rng, _LUNG_N0 if m == "M0" else _LUNG_N_MET)
            t = pick(rng, _LUNG_T_SMALL if n == "N0" and m == "M0" else _LUNG_T_LARGE)
    elif site == "breast":
        m = pick(rng, _BREAST_M)
        n = pick(rng, _BREAST_N)
        t = pick(rng, _BREAST_T_N0 if n == "N0" else _BREAST_T_NPOS)
    elif site == "colorectal":
        m = pick(rng, _CRC_M)
        n = pick(rng, _CRC_N)
        t = pick(rng, _CRC_T_N0 if n == "N0" else _CRC_T_NPOS)
    elif site == "liver":
        m = pick(rng, _HCC_M)
        n = pick(rng, _HCC_N)
        t = pick(rng, _HCC_T)
    else:
        raise ValueError(f"unknown site {site!r}")
    return t, n, m


def pathological_tn(rng: np.random.Generator, site: str, t: str, n: str) -> tuple[str, str]:
    """pT and pN after upfront surgery: mostly the clinical categories, sometimes one category
    more or less (clinical staging under- or over-calls nodes in about a fifth of resections)."""
    ladders: dict[str, Sequence[str]] = {
        "lung": ("N0", "N1", "N2"),
        "breast": ("N0", "N1", "N2a"),
        "colorectal": ("N0", "N1a", "N1b", "N2a", "N2b"),
        "liver": ("N0", "N1"),
    }
    ladder = ladders[site]
    if n in ladder and rng.random() < 0.2:
        i = ladder.index(n) + (1 if rng.random() < 0.6 else -1)
        n = ladder[min(max(i, 0), len(ladder) - 1)]
    return t, n


_GRADES: dict[str, Mapping[str, float]] = {
    "adenocarcinoma": {"G1": 0.15, "G2": 0.45, "G3": 0.40},
    "squamous": {"G2": 0.50, "G3": 0.50},
    "ductal": {"G1": 0.20, "G2": 0.45, "G3": 0.35},
    "lobular": {"G1": 0.15, "G2": 0.75, "G3": 0.10},
    "mixed": {"G1": 0.15, "G2": 0.60, "G3": 0.25},
    "mucinous": {"G2": 0.6, "G3": 0.4},
    "signet_ring": {"G3": 1.0},
    "hcc": {"G1": 0.20, "G2": 0.50, "G3": 0.30},
}


def draw_grade(rng: np.random.Generator, site: str, histology: str) -> str:
    """Histological grade; small-cell carcinoma is high grade by definition and is not graded."""
    if histology == "sclc":
        return ""
    if site == "colorectal" and histology == "adenocarcinoma":
        return pick(rng, {"G1": 0.10, "G2": 0.70, "G3": 0.20})
    return pick(rng, _GRADES[histology])


def draw_laterality(rng: np.random.Generator, site: str, topography: str) -> str:
    if site in {"colorectal", "liver"}:
        return "not_applicable"
    if topography == "C34.2":  # the middle lobe exists on the right only
        return "right"
    if site == "lung":
        return "right" if rng.random() < 0.55 else "left"
    return "left" if rng.random() < 0.51 else "right"
