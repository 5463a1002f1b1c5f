"""OncoTree subset: hierarchy, lookups and the ICD-O-3 bridge.

Hierarchy as in OncoTree release oncotree_2021_11_02 (oncotree.mskcc.org); ICD-O-3.2 codes
from the WHO ICD-O-3.2 tables.
"""

from __future__ import annotations

import pytest

from genomics.variants.oncotree import (
    UnknownOncoTreeCode,
    is_descendant,
    lineage,
    load_oncotree,
    oncotree_from_icdo3,
    oncotree_node,
)


@pytest.mark.parametrize(
    ("code", "ancestor"),
    [
        ("LUAD", "NSCLC"),
        ("LUSC", "NSCLC"),
        ("LCLC", "NSCLC"),
        ("NSCLC", "LUNG"),
        ("IDC", "BRCA"),
        ("ILC", "BREAST"),
        ("COAD", "COADREAD"),
        ("READ", "BOWEL"),
        ("HCC", "LIVER"),
        ("IHCH", "CHOL"),
        ("CHOL", "BILIARY_TRACT"),
        ("PAAD", "PANCREAS"),
        ("HGSOC", "OVT"),
        ("HGSOC", "OVARY"),
        ("PRAD", "PROSTATE"),
        ("SKCM", "MEL"),
        ("STAD", "EGC"),
        ("STAD", "STOMACH"),
        ("LUAD", "TISSUE"),
        ("NSCLC", "NSCLC"),
    ],
)
def test_a_tumour_type_lies_under_its_ancestors(code, ancestor):
    assert is_descendant(code, ancestor)


@pytest.mark.parametrize(
    ("code", "ancestor"),
    [
        ("NSCLC", "LUAD"),  # a parent is not under its child
        ("SCLC", "NSCLC"),  # small cell lung cancer is lung but not NSCLC
        ("IDC", "NSCLC"),
        ("COAD", "READ"),
        ("ESCC", "EGC"),  # squamous oesophageal cancer is not an adenocarcinoma
        ("TISSUE", "LUNG"),
    ],
)
def test_a_tumour_type_outside_the_subtree_is_not_a_descendant(code, ancestor):
    assert not is_descendant(code, ancestor)


def test_lineage_runs_from_the_code_to_the_root():
    assert lineage("LUAD") == ("LUAD", "NSCLC", "LUNG", "TISSUE")


def test_codes_are_case_insensitive():
    assert oncotree_node("luad").code == "LUAD"
    assert is_descendant("luad", "nsclc")


@pytest.mark.parametrize("bad", ["LUNGX", "", "C34.1"])
def test_an_unknown_code_is_an_error(bad):
    with pytest.raises(UnknownOncoTreeCode):
        is_descendant(bad, "NSCLC")
    with pytest.raises(UnknownOncoTreeCode):
        is_descendant("LUAD", bad)


def test_every_node_reaches_the_root():
    tree = load_oncotree()
    for code in tree.nodes:
        assert tree.lineage(code)[-1] == "TISSUE"


@pytest.mark.parametrize(
    ("topography", "morphology", "code"),
    [
        ("C34.1", "8140/3", "LUAD"),  # upper lobe, adenocarcinoma NOS
        ("C341", "81403", "LUAD"),
        ("C34.3", "8070/3", "LUSC"),  # squamous cell carcinoma NOS
        ("C34.9", "8012/3", "LCLC"),
        ("C34.9", "8046/3", "NSCLC"),
        ("C34.1", "8041/3", "SCLC"),
        ("C50.4", "8500/3", "IDC"),
        ("C50.9", "8520/3", "ILC"),
        ("C50.2", "8522/3", "MDLC"),
        ("C50.1", "8480/3", "BRCNOS"),
        ("C19.9", "8140/3", "COADREAD"),
        ("C18.2", "8490/3", "COAD"),  # signet ring cell
        ("C18.7", "8140/3", "COAD"),
        ("C20.9", "8140/3", "READ"),
        ("C22.0", "8170/3", "HCC"),
        ("C22.1", "8160/3", "IHCH"),
        ("C25.0", "8500/3", "PAAD"),
        ("C56.9", "8461/3", "HGSOC"),
        ("C61.9", "8140/3", "PRAD"),
        ("C44.5", "8720/3", "SKCM"),
        ("C16.0", "8140/3", "GEJ"),
        ("C16.2", "8140/3", "STAD"),
        ("C54.1", "8380/3", "UCEC"),
    ],
)
def test_icdo3_site_and_histology_map_to_an_oncotree_code(topography, morphology, code):
    assert oncotree_from_icdo3(topography, morphology) == code
    assert oncotree_node(code).code == code  # every target exists in the shipped subset


@pytest.mark.parametrize(
    ("topography", "morphology"),
    [
        ("C34.1", "8140/2"),  # in situ: not a malignant primary
        ("C34.1", "8140/0"),
        ("C71.9", "9440/3"),  # glioblastoma: outside the subset
        ("C50.9", "8070/2"),
        ("X34.1", "8140/3"),
        ("C34.1", "81403x"),
    ],
)
def test_icdo3_without_a_malignant_mapping_gives_none(topography, morphology):
    assert oncotree_from_icdo3(topography, morphology) is None
