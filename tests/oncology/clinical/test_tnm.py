"""TNM 8th edition categories and stage groups.

Expected stage groups are transcribed by hand from the published tables, not computed:
- Lung: UICC TNM 8th ed. (2017) lung stage table = Goldstraw et al., J Thorac Oncol
  2016;11(1):39-51, Table 4 (IASLC proposals adopted unchanged).
- Breast: AJCC Cancer Staging Manual 8th ed. (2017), Breast, "Anatomic Stage Groups".
- Colorectal: AJCC 8th ed. chapter 20 "AJCC Prognostic Stage Groups" (identical to UICC 8th).
- Liver (hepatocellular carcinoma): AJCC 8th ed. chapter 22 "AJCC Prognostic Stage Groups".
"""

from __future__ import annotations

import pytest

from oncology.clinical.tnm import (
    SCHEMES,
    allowed_stages,
    derive_stage,
    possible_stages,
    staging_group,
    validate_tnm,
)

LUNG_TABLE = [
    ("TX", "N0", "M0", "Occult"),
    ("Tis", "N0", "M0", "0"),
    ("T1mi", "N0", "M0", "IA1"),
    ("T1a", "N0", "M0", "IA1"),
    ("T1b", "N0", "M0", "IA2"),
    ("T1c", "N0", "M0", "IA3"),
    ("T2a", "N0", "M0", "IB"),
    ("T2b", "N0", "M0", "IIA"),
    ("T1a", "N1", "M0", "IIB"),
    ("T1c", "N1", "M0", "IIB"),
    ("T2a", "N1", "M0", "IIB"),
    ("T2b", "N1", "M0", "IIB"),
    ("T3", "N0", "M0", "IIB"),
    ("T1b", "N2", "M0", "IIIA"),
    ("T2b", "N2", "M0", "IIIA"),
    ("T3", "N1", "M0", "IIIA"),
    ("T4", "N0", "M0", "IIIA"),
    ("T4", "N1", "M0", "IIIA"),
    ("T1a", "N3", "M0", "IIIB"),
    ("T2a", "N3", "M0", "IIIB"),
    ("T3", "N2", "M0", "IIIB"),
    ("T4", "N2", "M0", "IIIB"),
    ("T3", "N3", "M0", "IIIC"),
    ("T4", "N3", "M0", "IIIC"),
    ("T1a", "N0", "M1a", "IVA"),
    ("T4", "N3", "M1b", "IVA"),
    ("TX", "NX", "M1b", "IVA"),
    ("T1a", "N0", "M1c", "IVB"),
    ("T4", "N2", "M1c", "IVB"),
]

BREAST_TABLE = [
    ("Tis", "N0", "M0", "0"),
    ("T1", "N0", "M0", "IA"),
    ("T1mi", "N0", "M0", "IA"),  # T1 includes T1mi
    ("T1c", "N0", "M0", "IA"),
    ("T0", "N1mi", "M0", "IB"),
    ("T1b", "N1mi", "M0", "IB"),
    ("T0", "N1", "M0", "IIA"),
    ("T1", "N1", "M0", "IIA"),
    ("T2", "N0", "M0", "IIA"),
    ("T2", "N1", "M0", "IIB"),
    ("T2", "N1mi", "M0", "IIB"),  # N1mi stages as N1 from T2 upwards
    ("T3", "N0", "M0", "IIB"),
    ("T0", "N2", "M0", "IIIA"),
    ("T1", "N2a", "M0", "IIIA"),
    ("T2", "N2", "M0", "IIIA"),
    ("T3", "N1", "M0", "IIIA"),
    ("T3", "N2", "M0", "IIIA"),
    ("T4", "N0", "M0", "IIIB"),
    ("T4b", "N1", "M0", "IIIB"),
    ("T4d", "N2", "M0", "IIIB"),
    ("T1", "N3", "M0", "IIIC"),
    ("T4", "N3c", "M0", "IIIC"),
    ("T2", "N0", "M1", "IV"),
    ("T1", "N0(i+)", "M0", "IA"),  # isolated tumour cells are N0
]

COLORECTAL_TABLE = [
    ("Tis", "N0", "M0", "0"),
    ("T1", "N0", "M0", "I"),
    ("T2", "N0", "M0", "I"),
    ("T3", "N0", "M0", "IIA"),
    ("T4a", "N0", "M0", "IIB"),
    ("T4b", "N0", "M0", "IIC"),
    ("T1", "N1", "M0", "IIIA"),
    ("T2", "N1c", "M0", "IIIA"),
    ("T1", "N2a", "M0", "IIIA"),
    ("T3", "N1", "M0", "IIIB"),
    ("T4a", "N1b", "M0", "IIIB"),
    ("T2", "N2a", "M0", "IIIB"),
    ("T3", "N2a", "M0", "IIIB"),
    ("T1", "N2b", "M0", "IIIB"),
    ("T2", "N2b", "M0", "IIIB"),
    ("T4a", "N2a", "M0", "IIIC"),
    ("T3", "N2b", "M0", "IIIC"),
    ("T4a", "N2b", "M0", "IIIC"),
    ("T4b", "N1", "M0", "IIIC"),
    ("T4b", "N2b", "M0", "IIIC"),
    ("T3", "N0", "M1a", "IVA"),
    ("T2", "N1", "M1b", "IVB"),
    ("T4b", "N2", "M1c", "IVC"),
]

LIVER_TABLE = [
    ("T1a", "N0", "M0", "IA"),
    ("T1b", "N0", "M0", "IB"),
    ("T2", "N0", "M0", "II"),
    ("T3", "N0", "M0", "IIIA"),
    ("T4", "N0", "M0", "IIIB"),
    ("T1a", "N1", "M0", "IVA"),
    ("T4", "N1", "M0", "IVA"),
    ("T2", "N0", "M1", "IVB"),
    ("T3", "N1", "M1", "IVB"),
]


@pytest.mark.parametrize(("t", "n", "m", "stage"), LUNG_TABLE)
def test_lung_stage_groups_match_the_8th_edition_table(t: str, n: str, m: str, stage: str) -> None:
    assert derive_stage("lung", t, n, m) == stage
    assert validate_tnm("lung", t, n, m, stage) == []


@pytest.mark.parametrize(("t", "n", "m", "stage"), BREAST_TABLE)
def test_breast_anatomic_stage_groups_match_ajcc_8th(t: str, n: str, m: str, stage: str) -> None:
    assert derive_stage("breast", t, n, m) == stage
    assert validate_tnm("breast", t, n, m, stage, prefix="pathological") == []


@pytest.mark.parametrize(("t", "n", "m", "stage"), COLORECTAL_TABLE)
def test_colorectal_stage_groups_match_ajcc_8th(t: str, n: str, m: str, stage: str) -> None:
    assert derive_stage("colorectal", t, n, m) == stage


@pytest.mark.parametrize(("t", "n", "m", "stage"), LIVER_TABLE)
def test_hepatocellular_stage_groups_match_ajcc_8th(t: str, n: str, m: str, stage: str) -> None:
    assert derive_stage("liver", t, n, m) == stage


def test_every_stage_in_the_tables_is_a_declared_stage_group() -> None:
    for site, table in [
        ("lung", LUNG_TABLE),
        ("breast", BREAST_TABLE),
        ("colorectal", COLORECTAL_TABLE),
        ("liver", LIVER_TABLE),
    ]:
        assert {row[3] for row in table} <= set(SCHEMES[site].stages)


@pytest.mark.parametrize(
    ("site", "t", "n", "m"),
    [
        ("lung", "T0", "N0", "M0"),
        ("lung", "TX", "N1", "M0"),
        ("lung", "T2a", "NX", "M0"),
        ("breast", "T0", "N0", "M0"),
        ("colorectal", "T0", "N1", "M0"),
        ("liver", "TX", "N0", "M0"),
        ("lung", "T1a", "N0", ""),
        ("lung", "T9", "N0", "M0"),
        ("stomach", "T2", "N0", "M0"),
        (None, "T2", "N0", "M0"),
    ],
)
def test_no_stage_is_derived_where_the_edition_defines_none(
    site: str | None, t: str, n: str, m: str
) -> None:
    assert derive_stage(site, t, n, m) is None


def test_a_parent_category_is_staged_only_where_its_subdivisions_agree() -> None:
    assert possible_stages("lung", "T2", "N0", "M0") == {"IB", "IIA"}
    assert derive_stage("lung", "T2", "N0", "M0") is None
    assert derive_stage("lung", "T2", "N1", "M0") == "IIB"  # T2a and T2b N1 are both IIB
    assert derive_stage("colorectal", "T4", "N1", "M0") is None  # IIIB (T4a) or IIIC (T4b)
    assert derive_stage("liver", "T1", "N1", "M0") == "IVA"


def test_a_less_specific_stage_is_consistent_with_the_derived_group() -> None:
    assert validate_tnm("lung", "T1a", "N0", "M0", "IA") == []
    assert validate_tnm("lung", "T1a", "N0", "M0", "I") == []
    assert validate_tnm("lung", "T4", "N0", "M1c", "IV") == []
    assert validate_tnm("colorectal", "T4", "N0", "M0", "II") == []
    assert validate_tnm("colorectal", "T4", "N0", "M0", "IIC") == []


def test_a_contradicting_stage_names_the_expected_group() -> None:
    (issue,) = validate_tnm("lung", "T2b", "N0", "M0", "IB")
    assert issue.field == "clinical_stage"
    assert issue.message == "stage IB does not match T2b N0 M0 (expected IIA)"


def test_a_contradicting_stage_lists_every_possible_group() -> None:
    (issue,) = validate_tnm("colorectal", "T4", "N0", "M0", "IIA", prefix="pathological")
    assert issue.field == "pathological_stage"
    assert issue.message.endswith("(expected IIB or IIC)")


def test_roman_numeral_prefixes_are_not_confused() -> None:
    # "I" is a less specific IA1 but not a less specific IIA or IV.
    (issue,) = validate_tnm("lung", "T2b", "N0", "M0", "I")
    assert "expected IIA" in issue.message
    (issue,) = validate_tnm("lung", "T1a", "N0", "M1c", "I")
    assert "expected IVB" in issue.message


@pytest.mark.parametrize(
    ("site", "field", "t", "n", "m", "bad"),
    [
        ("lung", "clinical_t", "T4a", "N0", "M0", "T4a"),
        ("lung", "clinical_n", "T2a", "N2a", "M0", "N2a"),
        ("breast", "clinical_m", "T2", "N0", "M1c", "M1c"),
        ("breast", "clinical_t", "T2a", "N0", "M0", "T2a"),
        ("colorectal", "clinical_t", "T1mi", "N0", "M0", "T1mi"),
        ("colorectal", "clinical_n", "T3", "N3", "M0", "N3"),
        ("liver", "clinical_t", "Tis", "N0", "M0", "Tis"),
        ("liver", "clinical_m", "T2", "N0", "M1a", "M1a"),
    ],
)
def test_a_category_the_site_does_not_define_is_an_error(
    site: str, field: str, t: str, n: str, m: str, bad: str
) -> None:
    issues = validate_tnm(site, t, n, m, "")
    assert [i.field for i in issues] == [field]
    assert issues[0].message.startswith(f"{bad} is not a")
    assert site in issues[0].message


def test_stage_is_not_compared_when_a_category_is_invalid() -> None:
    issues = validate_tnm("lung", "T4a", "N0", "M0", "IIIA")
    assert [i.field for i in issues] == ["clinical_t"]


@pytest.mark.parametrize(
    ("value", "axis"), [("cT2a", "t"), ("pN1", "n"), ("ypT1", "t"), ("cM0", "m")]
)
def test_a_prefixed_category_asks_for_the_bare_category(value: str, axis: str) -> None:
    values = {"t": "T1a", "n": "N0", "m": "M0", axis: value}
    (issue,) = validate_tnm("lung", values["t"], values["n"], values["m"], "")
    assert issue.field == f"clinical_{axis}"
    assert "without its prefix" in issue.message


def test_mx_is_rejected_with_a_hint() -> None:
    for site in ("lung", None):
        (issue,) = validate_tnm(site, "T1a", "N0", "MX", "")
        assert issue.field == "clinical_m"
        assert "M0" in issue.message


@pytest.mark.parametrize("stage", ["IIE", "V", "IA4", "stage IIa", "iia"])
def test_a_stage_outside_the_site_groups_is_an_error(stage: str) -> None:
    (issue,) = validate_tnm("lung", "", "", "", stage)
    assert issue.field == "clinical_stage"


def test_lower_case_stage_gets_a_spelling_hint() -> None:
    (issue,) = validate_tnm("lung", "", "", "", "IIa")
    assert "write 'IIA'" in issue.message


def test_empty_values_are_not_errors() -> None:
    assert validate_tnm("lung", "", "", "", "") == []
    assert validate_tnm("lung", None, None, None, None) == []
    assert validate_tnm("lung", "T2a", "", "", "IB") == []  # incomplete: stage not compared


@pytest.mark.parametrize(
    ("t", "n", "m", "stage"),
    [
        ("T1b2", "N0", "M0", "IB2"),  # cervix (FIGO-aligned T)
        ("Ta", "N0", "M0", "0a"),  # bladder non-invasive papillary
        ("T3", "N1", "M1d", "IV"),  # melanoma CNS metastasis
        ("T2", "N1mi", "M0", "IIA"),
    ],
)
def test_other_sites_accept_generic_tnm_syntax(t: str, n: str, m: str, stage: str) -> None:
    assert validate_tnm(None, t, n, m, stage) == []
    assert validate_tnm("stomach", t, n, m, stage) == []


@pytest.mark.parametrize(
    ("t", "n", "m", "stage", "field"),
    [
        ("N1", "N0", "M0", "", "clinical_t"),
        ("T5", "N0", "M0", "", "clinical_t"),
        ("T2", "N4", "M0", "", "clinical_n"),
        ("T2", "N0", "M2", "", "clinical_m"),
        ("T2", "N0", "M0", "IIIF", "clinical_stage"),
    ],
)
def test_other_sites_reject_malformed_tnm(t: str, n: str, m: str, stage: str, field: str) -> None:
    (issue,) = validate_tnm(None, t, n, m, stage)
    assert issue.field == field


def test_allowed_stages_include_the_less_specific_groups() -> None:
    lung = allowed_stages(SCHEMES["lung"])
    assert {"IA1", "IA", "I", "IV", "IVB", "Occult"} <= set(lung)
    assert "IVC" not in lung
    assert "IVC" in allowed_stages(SCHEMES["colorectal"])


@pytest.mark.parametrize(
    ("topography", "morphology", "group"),
    [
        ("C34.1", "8140/3", "lung"),
        ("C34.1", "8240/3", "lung"),  # lung carcinoids are staged with the lung table
        ("C50.4", "8500/3", "breast"),
        ("C18.7", "8140/3", "colorectal"),
        ("C18.7", "8240/3", None),  # colorectal NET: AJCC chapter 29
        ("C22.0", "8170/3", "liver"),
        ("C22.0", "8180/3", None),  # combined HCC-cholangiocarcinoma: chapter 23
        ("C22.1", "8160/3", None),  # intrahepatic cholangiocarcinoma: chapter 23
        ("C16.9", "8140/3", None),
    ],
)
def test_staging_group_depends_on_site_and_histology(
    topography: str, morphology: str, group: str | None
) -> None:
    assert staging_group(topography, morphology) == group


_ORDERED_T = {
    "lung": ("T1mi", "T1a", "T1b", "T1c", "T2a", "T2b", "T3", "T4"),
    "breast": ("T1", "T2", "T3", "T4"),
    "colorectal": ("T1", "T2", "T3", "T4a", "T4b"),
    "liver": ("T1a", "T1b", "T2", "T3", "T4"),
}
_ORDERED_N = {
    "lung": ("N0", "N1", "N2", "N3"),
    "breast": ("N0", "N1mi", "N1", "N2", "N3"),
    "colorectal": ("N0", "N1", "N2a", "N2b"),
    "liver": ("N0", "N1"),
}


@pytest.mark.parametrize("site", sorted(SCHEMES))
def test_stage_never_falls_as_t_or_n_rises(site: str) -> None:
    # A property of every TNM stage table: more local or nodal extent never lowers the group.
    scheme = SCHEMES[site]
    rank = {s: i for i, s in enumerate(scheme.stages)}
    grid = {
        (t, n): rank[derive_stage(site, t, n, "M0") or ""]
        for t in _ORDERED_T[site]
        for n in _ORDERED_N[site]
        if derive_stage(site, t, n, "M0") is not None
    }
    ts, ns = _ORDERED_T[site], _ORDERED_N[site]
    for (t, n), r in grid.items():
        ti, ni = ts.index(t), ns.index(n)
        if ti + 1 < len(ts) and (ts[ti + 1], n) in grid:
            assert grid[(ts[ti + 1], n)] >= r, (t, n)
        if ni + 1 < len(ns) and (t, ns[ni + 1]) in grid:
            assert grid[(t, ns[ni + 1])] >= r, (t, n)
    # nearly every cell is defined (lung T1mi exists only with N0)
    assert len(grid) >= len(ts) * len(ns) - 3


@pytest.mark.parametrize("site", sorted(SCHEMES))
def test_every_category_combination_derives_a_declared_stage(site: str) -> None:
    scheme = SCHEMES[site]
    for t in scheme.t:
        for n in scheme.n:
            for m in scheme.m:
                assert possible_stages(site, t, n, m) <= set(scheme.stages)
                if m.startswith("M1"):
                    assert possible_stages(site, t, n, m), (t, n, m)
                    assert all(s.startswith("IV") for s in possible_stages(site, t, n, m))
