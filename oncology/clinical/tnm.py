"""TNM 8th edition (UICC 2017 / AJCC 2017): categories and stage groups for lung, breast
(anatomic stage groups), colorectal and liver (hepatocellular carcinoma).

Categories are stored without their c/p/y prefix ("T2a", "N1", "M1c"). A parent category
recorded without its subdivision ("T2" for lung, "N2" for colorectal) is accepted; the stage is
then derived for every subdivision and checked only where they agree (a recorded "II" or "IIB"
for colorectal T4 N0 M0 is consistent, "IIA" is not). A recorded stage may be less specific than
the derived one ("IA" for IA1, "IV" for IVB).

References (tables transcribed by hand and pinned in tests/oncology/clinical/test_tnm.py):
- Lung: UICC TNM Classification of Malignant Tumours, 8th ed. (Brierley, Gospodarowicz,
  Wittekind 2017), Lung, stage table; Goldstraw et al., J Thorac Oncol 2016;11:39-51, Table 4.
- Breast: AJCC Cancer Staging Manual 8th ed. (Amin et al. 2017), chapter 48, Anatomic Stage
  Groups (used where biomarkers are unavailable; the prognostic groups need ER/PR/HER2/grade).
- Colorectal: AJCC 8th ed. chapter 20, Table "AJCC Prognostic Stage Groups"; UICC 8th ed.
- Liver: AJCC 8th ed. chapter 22 (hepatocellular carcinoma); UICC 8th ed. Liver.

MX does not exist since the 7th edition (UICC 2009): it is reported with a hint to use M0/M1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import product

from oncology.clinical.icdo3 import SiteGroup, site_group
from oncology.clinical.issues import Issue

# Generic syntax, for sites without a table here (cervix "T1b2", melanoma "M1d", bladder "Ta").
_GENERIC = {
    "t": re.compile(r"^T(X|0|is|a|1mi|[1-4][a-e]?[1-3]?)$"),
    "n": re.compile(r"^N(X|0|0\((i\+|i-|mol\+|mol-)\)|1mi|[1-3][a-c]?[1-3]?)$"),
    "m": re.compile(r"^M(0|0\(i\+\)|1[a-d]?(\([01]\))?)$"),
}
_STAGE_RE = re.compile(r"^(Occult|0a|0is|0|I{1,3}[A-D]?[1-3]?|IV[A-D]?[1-3]?)$")
_PREFIXED_RE = re.compile(r"^(y?[cpra]|y)([TNM].*)$")
_AXIS_NAME = {"t": "T", "n": "N", "m": "M"}


@dataclass(frozen=True)
class TnmScheme:
    """One organ's categories and stage-group table.

    `canonical` maps a category to the one the stage table is written with (breast "T1c" ->
    "T1"); `subdivisions` maps a parent to the categories it may stand for when they stage
    differently (lung "T2" -> "T2a", "T2b"). `leaf_stage` returns the stage group of canonical
    categories, or None where the edition defines none (for example T0 N0 M0).
    """

    name: str
    t: tuple[str, ...]
    n: tuple[str, ...]
    m: tuple[str, ...]
    stages: tuple[str, ...]
    leaf_stage: Callable[[str, str, str], str | None]
    canonical: dict[str, str] = field(default_factory=dict)
    subdivisions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def categories(self, axis: str) -> tuple[str, ...]:
        return {"t": self.t, "n": self.n, "m": self.m}[axis]


# --- lung --------------------------------------------------------------------------------------

_LUNG_N0 = {
    "T1mi": "IA1",
    "T1a": "IA1",
    "T1b": "IA2",
    "T1c": "IA3",
    "T2a": "IB",
    "T2b": "IIA",
    "T3": "IIB",
    "T4": "IIIA",
}
_LUNG_NODAL = {  # T (grouped) -> N1, N2, N3
    "T1": ("IIB", "IIIA", "IIIB"),
    "T2": ("IIB", "IIIA", "IIIB"),
    "T3": ("IIIA", "IIIB", "IIIC"),
    "T4": ("IIIA", "IIIB", "IIIC"),
}


def _lung_stage(t: str, n: str, m: str) -> str | None:
    if m in ("M1a", "M1b"):
        return "IVA"
    if m == "M1c":
        return "IVB"
    if t == "TX" and n == "N0":
        return "Occult"  # occult carcinoma: malignant cells in secretions, no tumour seen
    if t == "Tis" and n == "N0":
        return "0"
    if n == "N0":
        return _LUNG_N0.get(t)
    # T1mi is defined only with N0 (minimally invasive adenocarcinoma is node-negative by
    # definition); TX/T0/Tis with nodes and NX have no stage group.
    grouped = {"T1a": "T1", "T1b": "T1", "T1c": "T1", "T2a": "T2", "T2b": "T2"}.get(t, t)
    if grouped in _LUNG_NODAL and n in ("N1", "N2", "N3"):
        return _LUNG_NODAL[grouped][int(n[1]) - 1]
    return None


LUNG = TnmScheme(
    name="lung",
    t=("TX", "T0", "Tis", "T1mi", "T1", "T1a", "T1b", "T1c", "T2", "T2a", "T2b", "T3", "T4"),
    n=("NX", "N0", "N1", "N2", "N3"),
    m=("M0", "M1", "M1a", "M1b", "M1c"),
    stages=(
        "Occult",
        "0",
        "IA1",
        "IA2",
        "IA3",
        "IB",
        "IIA",
        "IIB",
        "IIIA",
        "IIIB",
        "IIIC",
        "IVA",
        "IVB",
    ),
    leaf_stage=_lung_stage,
    subdivisions={
        "T1": ("T1mi", "T1a", "T1b", "T1c"),
        "T2": ("T2a", "T2b"),
        "M1": ("M1a", "M1b", "M1c"),
    },
)

# --- breast (anatomic stage groups) -------------------------------------------------------------

_BREAST = {  # T -> stage for N0, N1mi, N1, N2 (M0); N3 is IIIC for any T
    "T0": (None, "IB", "IIA", "IIIA"),
    "T1": ("IA", "IB", "IIA", "IIIA"),
    "T2": ("IIA", "IIB", "IIB", "IIIA"),
    "T3": ("IIB", "IIIA", "IIIA", "IIIA"),
    "T4": ("IIIB", "IIIB", "IIIB", "IIIB"),
}


def _breast_stage(t: str, n: str, m: str) -> str | None:
    if m == "M1":
        return "IV"
    if t == "Tis" and n == "N0":
        return "0"
    if n == "N3":
        return "IIIC"
    if t in _BREAST and n in ("N0", "N1mi", "N1", "N2"):
        # AJCC 8th: T0/T1 with micrometastases only (N1mi) are IB; T2-T4 N1mi stage as N1.
        return _BREAST[t][("N0", "N1mi", "N1", "N2").index(n)]
    return None


BREAST = TnmScheme(
    name="breast",
    t=(
        "TX",
        "T0",
        "Tis",
        "T1",
        "T1mi",
        "T1a",
        "T1b",
        "T1c",
        "T2",
        "T3",
        "T4",
        "T4a",
        "T4b",
        "T4c",
        "T4d",
    ),
    n=(
        "NX",
        "N0",
        "N0(i+)",
        "N0(mol+)",
        "N1mi",
        "N1",
        "N1a",
        "N1b",
        "N1c",
        "N2",
        "N2a",
        "N2b",
        "N3",
        "N3a",
        "N3b",
        "N3c",
    ),
    m=("M0", "M0(i+)", "M1"),
    stages=("0", "IA", "IB", "IIA", "IIB", "IIIA", "IIIB", "IIIC", "IV"),
    leaf_stage=_breast_stage,
    canonical={
        **{c: "T1" for c in ("T1mi", "T1a", "T1b", "T1c")},
        **{c: "T4" for c in ("T4a", "T4b", "T4c", "T4d")},
        "N0(i+)": "N0",  # isolated tumour cells are staged as N0
        "N0(mol+)": "N0",
        **{c: "N1" for c in ("N1a", "N1b", "N1c")},
        **{c: "N2" for c in ("N2a", "N2b")},
        **{c: "N3" for c in ("N3a", "N3b", "N3c")},
        "M0(i+)": "M0",
    },
)

# --- colorectal ---------------------------------------------------------------------------------

_CRC_N0 = {"T1": "I", "T2": "I", "T3": "IIA", "T4a": "IIB", "T4b": "IIC"}
_CRC_NODAL = {  # T -> stage for N1 (incl. N1c), N2a, N2b
    "T1": ("IIIA", "IIIA", "IIIB"),
    "T2": ("IIIA", "IIIB", "IIIB"),
    "T3": ("IIIB", "IIIB", "IIIC"),
    "T4a": ("IIIB", "IIIC", "IIIC"),
    "T4b": ("IIIC", "IIIC", "IIIC"),
}


def _colorectal_stage(t: str, n: str, m: str) -> str | None:
    if m in ("M1a", "M1b", "M1c"):
        return {"M1a": "IVA", "M1b": "IVB", "M1c": "IVC"}[m]
    if t == "Tis" and n == "N0":
        return "0"
    if n == "N0":
        return _CRC_N0.get(t)
    if t in _CRC_NODAL and n in ("N1", "N2a", "N2b"):
        return _CRC_NODAL[t][("N1", "N2a", "N2b").index(n)]
    return None


COLORECTAL = TnmScheme(
    name="colorectal",
    t=("TX", "T0", "Tis", "T1", "T2", "T3", "T4", "T4a", "T4b"),
    n=("NX", "N0", "N1", "N1a", "N1b", "N1c", "N2", "N2a", "N2b"),
    m=("M0", "M1", "M1a", "M1b", "M1c"),
    stages=("0", "I", "IIA", "IIB", "IIC", "IIIA", "IIIB", "IIIC", "IVA", "IVB", "IVC"),
    leaf_stage=_colorectal_stage,
    # N1c (tumour deposits without nodes) stages as N1.
    canonical={"N1a": "N1", "N1b": "N1", "N1c": "N1"},
    subdivisions={"T4": ("T4a", "T4b"), "N2": ("N2a", "N2b"), "M1": ("M1a", "M1b", "M1c")},
)

# --- liver (hepatocellular carcinoma) -------------------------------------------------------------

_HCC_N0 = {"T1a": "IA", "T1b": "IB", "T2": "II", "T3": "IIIA", "T4": "IIIB"}


def _liver_stage(t: str, n: str, m: str) -> str | None:
    if m == "M1":
        return "IVB"
    if n == "N1":
        return "IVA"
    if n == "N0":
        return _HCC_N0.get(t)
    return None


LIVER = TnmScheme(
    name="liver",
    t=("TX", "T0", "T1", "T1a", "T1b", "T2", "T3", "T4"),
    n=("NX", "N0", "N1"),
    m=("M0", "M1"),
    stages=("IA", "IB", "II", "IIIA", "IIIB", "IVA", "IVB"),
    leaf_stage=_liver_stage,
    subdivisions={"T1": ("T1a", "T1b")},
)

SCHEMES: dict[str, TnmScheme] = {
    "lung": LUNG,
    "breast": BREAST,
    "colorectal": COLORECTAL,
    "liver": LIVER,
}

# Histologies the organ chapter does not stage: well-differentiated neuroendocrine tumours of
# the colon/rectum have their own AJCC chapter (29), and intrahepatic cholangiocarcinoma and
# combined HCC-cholangiocarcinoma are staged with the intrahepatic bile duct chapter (23).
_NOT_STAGED_WITH: dict[SiteGroup, frozenset[str]] = {
    "lung": frozenset(),
    "breast": frozenset(),
    "colorectal": frozenset({"8240/3", "8249/3"}),
    "liver": frozenset({"8160/3", "8180/3"}),
}


def staging_group(topography: str, morphology: str = "") -> SiteGroup | None:
    """The stage table to apply to a diagnosis: its ICD-O-3 site group, unless the histology is
    staged in another chapter (then None: only the generic TNM syntax is checked)."""
    group = site_group(topography)
    if group is None or morphology in _NOT_STAGED_WITH[group]:
        return None
    if group == "liver" and topography == "C22.1":
        return None  # intrahepatic bile duct: AJCC chapter 23, not the HCC table
    return group


# --- stage groups: parse and compare ------------------------------------------------------


def _ancestors(stage: str) -> list[str]:
    """Less specific spellings of a stage group: IA1 -> IA, I; IIIC -> III; IVB -> IV."""
    out = []
    s = stage
    if s[-1].isdigit() and len(s) > 1:
        s = s[:-1]
        out.append(s)
    if s[-1] in "ABCD" and len(s) > 1:
        out.append(s[:-1])
    return out


def allowed_stages(scheme: TnmScheme) -> tuple[str, ...]:
    out = list(scheme.stages)
    for s in scheme.stages:
        out.extend(a for a in _ancestors(s) if a not in out)
    return tuple(out)


def _consistent(recorded: str, derived: Iterable[str]) -> bool:
    return any(recorded == d or recorded in _ancestors(d) for d in derived)


def possible_stages(site: str, t: str, n: str, m: str) -> frozenset[str]:
    """Every stage group the categories can stand for (several when a parent category such as
    "T2" is recorded without its subdivision). Empty when no stage is defined or a category is
    unknown for the site."""
    scheme = SCHEMES[site]
    if t not in scheme.t or n not in scheme.n or m not in scheme.m:
        return frozenset()
    choices = []
    for cat in (t, n, m):
        c = scheme.canonical.get(cat, cat)
        choices.append(scheme.subdivisions.get(c, (c,)))
    out = set()
    for tt, nn, mm in product(*choices):
        canon = [scheme.canonical.get(x, x) for x in (tt, nn, mm)]
        stage = scheme.leaf_stage(*canon)
        if stage is not None:
            out.add(stage)
    return frozenset(out)


def derive_stage(site_group: str | None, t: str, n: str, m: str) -> str | None:
    """The TNM 8th stage group for the categories, or None when the site has no table here,
    a category is missing/unknown, no group is defined, or the categories are too coarse to
    decide (lung "T2 N0 M0" may be IB or IIA)."""
    if site_group not in SCHEMES:
        return None
    stages = possible_stages(site_group, t, n, m)
    return next(iter(stages)) if len(stages) == 1 else None


# --- validation ------------------------------------------------------------------------------


def _check_category(
    scheme: TnmScheme | None, axis: str, value: str, field_name: str
) -> Issue | None:
    letter = _AXIS_NAME[axis]
    prefixed = _PREFIXED_RE.match(value)
    if prefixed and prefixed.group(2).startswith(letter):
        return Issue(
            field_name,
            f"write the {letter} category without its prefix: '{prefixed.group(2)}', not '{value}'",
        )
    if value == "MX" and axis == "m":
        return Issue(
            field_name,
            "MX is not a category in TNM 8th edition: record M0 (no distant metastasis found) "
            "or M1",
        )
    if scheme is None:
        if not _GENERIC[axis].match(value):
            return Issue(field_name, f"'{value}' is not a TNM {letter} category")
        return None
    if value not in scheme.categories(axis):
        allowed = ", ".join(scheme.categories(axis))
        if _GENERIC[axis].match(value):
            article = "a" if letter == "T" else "an"
            message = (
                f"{value} is not {article} {letter} category of the {scheme.name} TNM 8th edition"
            )
        else:
            message = f"'{value}' is not a TNM {letter} category"
        return Issue(field_name, f"{message} (allowed: {allowed})")
    return None


def validate_tnm(
    site_group: str | None,
    t: str | None,
    n: str | None,
    m: str | None,
    stage: str | None,
    prefix: str = "clinical",
) -> list[Issue]:
    """Check T, N, M and the stage group of one staging (clinical or pathological).

    Empty values are not errors (the caller decides what is required). Issues are reported on
    `{prefix}_t`, `{prefix}_n`, `{prefix}_m` and `{prefix}_stage`. For a site group without a
    table here (None, or any other string) only the generic TNM syntax is checked.
    """
    scheme = SCHEMES.get(site_group) if site_group else None
    values = {"t": (t or "").strip(), "n": (n or "").strip(), "m": (m or "").strip()}
    issues: list[Issue] = []
    for axis, value in values.items():
        if value:
            problem = _check_category(scheme, axis, value, f"{prefix}_{axis}")
            if problem is not None:
                issues.append(problem)
    recorded = (stage or "").strip()
    if not recorded:
        return issues
    stage_field = f"{prefix}_stage"
    if scheme is None:
        if not _STAGE_RE.match(recorded):
            issues.append(
                Issue(stage_field, f"'{recorded}' is not a stage group (write e.g. 'IIIA', '0')")
            )
        return issues
    allowed = allowed_stages(scheme)
    if recorded not in allowed:
        hint = ""
        if recorded.upper().removeprefix("STAGE ").strip() in allowed:
            hint = f" (write '{recorded.upper().removeprefix('STAGE ').strip()}')"
        issues.append(
            Issue(
                stage_field,
                f"'{recorded}' is not a stage group of the {scheme.name} TNM 8th edition{hint}",
            )
        )
        return issues
    if issues or not all(values.values()):
        return issues
    derived = possible_stages(scheme.name, values["t"], values["n"], values["m"])
    if derived and not _consistent(recorded, derived):
        expected = " or ".join(sorted(derived))
        issues.append(
            Issue(
                stage_field,
                f"stage {recorded} does not match {values['t']} {values['n']} {values['m']} "
                f"(expected {expected})",
            )
        )
    return issues
