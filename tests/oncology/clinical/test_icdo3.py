"""ICD-O-3 code lists and histology/site plausibility.

Names are checked against the WHO ICD-O-3.1 (2013) topography and morphology lists, and the
ICD-O-3.2 (2019) update for the lung adenocarcinoma subtypes and serous carcinoma grades."""

from __future__ import annotations

import pytest

from oncology.clinical import icdo3
from oncology.clinical.icdo3 import (
    is_valid_morphology,
    is_valid_topography,
    morphology_name,
    site_group,
    topography_name,
    validate_morphology,
    validate_morphology_for_site,
    validate_topography,
)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("C34.1", "Upper lobe, lung"),
        ("C34.9", "Lung, NOS"),
        ("C50.4", "Upper-outer quadrant of breast"),
        ("C18.7", "Sigmoid colon"),
        ("C19.9", "Rectosigmoid junction"),
        ("C20.9", "Rectum, NOS"),
        ("C22.0", "Liver"),
        ("C22.1", "Intrahepatic bile duct"),
        ("C61.9", "Prostate gland"),
        ("C56.9", "Ovary"),
    ],
)
def test_topography_names_follow_icd_o_3(code: str, name: str) -> None:
    assert topography_name(code) == name
    assert is_valid_topography(code)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("8140/3", "Adenocarcinoma, NOS"),
        ("8070/3", "Squamous cell carcinoma, NOS"),
        ("8041/3", "Small cell carcinoma, NOS"),
        ("8012/3", "Large cell carcinoma, NOS"),
        ("8500/3", "Infiltrating duct carcinoma, NOS"),
        ("8520/3", "Lobular carcinoma, NOS"),
        ("8480/3", "Mucinous adenocarcinoma"),
        ("8170/3", "Hepatocellular carcinoma, NOS"),
        ("8160/3", "Cholangiocarcinoma"),
        ("8246/3", "Neuroendocrine carcinoma, NOS"),
        ("8720/3", "Malignant melanoma, NOS"),
    ],
)
def test_morphology_names_follow_icd_o_3(code: str, name: str) -> None:
    assert morphology_name(code) == name
    assert is_valid_morphology(code)


def test_every_code_in_the_lists_is_well_formed() -> None:
    assert all(icdo3.TOPOGRAPHY_RE.match(c) for c in icdo3.TOPOGRAPHY)
    assert all(icdo3.MORPHOLOGY_RE.match(c) for c in icdo3.MORPHOLOGY)


def test_lung_subsites_that_icd_o_3_does_not_define_are_unknown() -> None:
    # ICD-O-3 lung: C34.0-C34.3, C34.8, C34.9 only.
    for code in ("C34.4", "C34.5", "C34.6", "C34.7"):
        assert not is_valid_topography(code)


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("C34.0", "lung"),
        ("C34.8", "lung"),
        ("C50.0", "breast"),
        ("C50.9", "breast"),
        ("C18.0", "colorectal"),
        ("C18.9", "colorectal"),
        ("C19.9", "colorectal"),
        ("C20.9", "colorectal"),
        ("C22.0", "liver"),
        ("C22.1", "liver"),
        ("C18.1", None),  # appendix: its own AJCC chapter
        ("C16.9", None),
        ("C61.9", None),
        ("C99.9", None),
    ],
)
def test_site_group_maps_the_four_staged_organs(code: str, group: str | None) -> None:
    assert site_group(code) == group


def test_unknown_topography_is_an_error_naming_the_code() -> None:
    assert validate_topography("C99.9") == [
        icdo3.Issue("primary_site", "unknown ICD-O-3 topography code 'C99.9'")
    ]


@pytest.mark.parametrize("code", ["C341", "c34.1", "34.1", "C34.10", ""])
def test_malformed_topography_is_a_format_error(code: str) -> None:
    (issue,) = validate_topography(code)
    assert issue.field == "primary_site"
    assert "must look like" in issue.message


@pytest.mark.parametrize("code", ["8140", "8140/5", "81403", "814/3"])
def test_malformed_morphology_is_a_format_error(code: str) -> None:
    (issue,) = validate_morphology(code)
    assert issue.field == "morphology"
    assert "must look like" in issue.message
    assert not is_valid_morphology(code)


def test_unknown_but_well_formed_morphology_is_an_error() -> None:
    (issue,) = validate_morphology("9999/3")
    assert issue.message == "unknown ICD-O-3 morphology code '9999/3'"


def test_valid_codes_have_no_issues() -> None:
    assert validate_topography("C34.1") == []
    assert validate_morphology("8140/3") == []


@pytest.mark.parametrize(
    ("site", "morphology"),
    [("C34.1", "8170/3"), ("C50.4", "8170/3"), ("C18.7", "8171/3"), ("C50.9", "8160/3")],
)
def test_organ_defining_histology_at_another_organ_is_an_error(site: str, morphology: str) -> None:
    (issue,) = validate_morphology_for_site(site, morphology)
    assert issue.severity == "error"
    assert issue.field == "morphology"
    assert morphology in issue.message
    assert site in issue.message


@pytest.mark.parametrize(
    ("site", "morphology"),
    [("C50.4", "8041/3"), ("C34.1", "8500/3"), ("C20.9", "8520/3"), ("C22.0", "8500/3")],
)
def test_rare_histology_for_the_site_is_only_a_warning(site: str, morphology: str) -> None:
    (issue,) = validate_morphology_for_site(site, morphology)
    assert issue.severity == "warning"


@pytest.mark.parametrize(
    ("site", "morphology"),
    [
        ("C34.1", "8140/3"),
        ("C34.3", "8041/3"),
        ("C34.1", "8070/3"),
        ("C50.4", "8500/3"),
        ("C50.9", "8520/3"),
        ("C18.7", "8480/3"),
        ("C22.0", "8170/3"),
        ("C22.1", "8160/3"),
        ("C25.0", "8500/3"),  # pancreatic ductal adenocarcinoma
    ],
)
def test_usual_histology_for_the_site_has_no_issue(site: str, morphology: str) -> None:
    assert validate_morphology_for_site(site, morphology) == []
