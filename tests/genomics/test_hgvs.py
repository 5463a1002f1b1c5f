"""HGVS protein changes: 3-letter and 1-letter forms, legacy stops, ranges, frameshifts.

Forms follow the HGVS protein recommendations (varnomen.hgvs.org/recommendations/protein) and
what VEP (HGVSp, 3-letter, URL-escaped "=") and MAF HGVSp_Short (1-letter) write.
"""

from __future__ import annotations

import pytest

from genomics.variants.hgvs import (
    HgvsError,
    normalise_protein_change,
    parse_protein_change,
    try_parse_protein_change,
)


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("p.Leu858Arg", "L858R"),
        ("p.L858R", "L858R"),
        ("p.(L858R)", "L858R"),
        ("p.(Leu858Arg)", "L858R"),
        ("L858R", "L858R"),
        ("ENSP00000275493.2:p.Leu858Arg", "L858R"),
        ("p.Thr790Met", "T790M"),
        ("p.T790M", "T790M"),
        ("p.Gly12Cys", "G12C"),
    ],
)
def test_three_letter_and_one_letter_forms_normalise_to_the_same_short_form(text, short):
    assert normalise_protein_change(text) == short


def test_three_letter_form_is_rendered_back_from_the_one_letter_form():
    assert parse_protein_change("p.L858R").three_letter == "p.Leu858Arg"
    assert parse_protein_change("p.E746_A750del").three_letter == "p.Glu746_Ala750del"
    assert parse_protein_change("p.Q61*").three_letter == "p.Gln61Ter"


@pytest.mark.parametrize("text", ["p.Gln61Ter", "p.Q61*", "p.Q61X", "p.(Gln61*)"])
def test_ter_star_and_legacy_x_are_all_nonsense(text):
    change = parse_protein_change(text)
    assert change.kind == "nonsense"
    assert change.one_letter == "Q61*"
    assert change.is_truncating


@pytest.mark.parametrize("text", ["p.Leu858=", "p.L858=", "p.Leu858%3D", "p.L858L"])
def test_synonymous_changes_are_recognised(text):
    change = parse_protein_change(text)
    assert change.kind == "synonymous"
    assert change.position == 858


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("p.Glu23ValfsTer17", "E23Vfs*17"),
        ("p.E23Vfs*17", "E23Vfs*17"),
        ("p.E23fs", "E23fs"),
        ("p.Glu23fs", "E23fs"),
        ("p.E23fsX17", "E23fs*17"),
    ],
)
def test_frameshifts_are_truncating(text, short):
    change = parse_protein_change(text)
    assert change.kind == "frameshift"
    assert change.is_truncating
    assert change.one_letter == short


def test_egfr_exon19_deletion_is_an_in_frame_deletion_over_codons_746_to_750():
    change = parse_protein_change("p.Glu746_Ala750del")
    assert change.kind == "deletion"
    assert change.is_inframe_deletion
    assert not change.is_inframe_insertion
    assert list(change.codons) == [746, 747, 748, 749, 750]
    assert change.one_letter == "E746_A750del"


def test_shortening_delins_is_an_in_frame_deletion_and_lengthening_one_an_insertion():
    shorter = parse_protein_change("p.Leu747_Thr751delinsPro")  # 5 residues -> 1
    assert shorter.kind == "delins"
    assert shorter.is_inframe_deletion
    longer = parse_protein_change("p.G776delinsVC")  # 1 residue -> 2 (ERBB2)
    assert longer.is_inframe_insertion
    assert not longer.is_inframe_deletion


@pytest.mark.parametrize(
    "text", ["p.Ala767_Val769dup", "p.A767_V769dup", "p.Asp770_Asn771insGly", "p.D770_N771insG"]
)
def test_duplications_and_insertions_are_in_frame_insertions(text):
    change = parse_protein_change(text)
    assert change.is_inframe_insertion
    assert not change.is_truncating


def test_insertion_of_a_counted_unknown_sequence_is_accepted():
    assert parse_protein_change("p.A775_G776ins4").alt == "XXXX"


def test_start_loss_and_stop_loss_are_recognised():
    assert parse_protein_change("p.Met1?").kind == "start_lost"
    assert parse_protein_change("p.M1?").kind == "start_lost"
    assert parse_protein_change("p.*1211Gluext*?").kind == "stop_lost"
    assert parse_protein_change("p.Ter1211Glu").kind == "stop_lost"


@pytest.mark.parametrize("text", ["p.?", "p.0", "p.="])
def test_unknown_or_no_protein_change_is_kind_unknown(text):
    assert parse_protein_change(text).kind == "unknown"


@pytest.mark.parametrize(
    "text",
    ["p.Xyz12Cys", "p.L858", "c.2573T>G", "p.E750_A746del", "p.D770_N772insG", "garbage", " "],
)
def test_invalid_protein_changes_raise(text):
    with pytest.raises(HgvsError):
        parse_protein_change(text)


def test_try_parse_returns_none_for_empty_or_invalid_text():
    assert try_parse_protein_change("") is None
    assert try_parse_protein_change("not hgvs") is None
    assert try_parse_protein_change("p.V600E").one_letter == "V600E"
