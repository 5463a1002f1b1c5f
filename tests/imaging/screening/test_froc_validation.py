"""Issue 10's screening goals on the small seeded CI set of synthetic insertions.

Cases: imaging.screening.testset.cases("ci") — nodules of known centre, diameter and density
inserted into the real IBSI CT phantom (a lung-cancer CT, read in place from shared/data; its
real tumour counts as a solid nodule) and into the seeded chest phantom. The larger benchmark
set's figures are in docs/validation.md (scripts/screening_validation.py).

Goals: LUNA16 mean sensitivity over 1/8..8 FP/scan >= 0.85, and >= 0.95 for solid nodules of
6 mm and more at 4 FP/scan.
"""

from __future__ import annotations

import pytest

from imaging.screening.pipeline import validate_cases
from imaging.screening.testset import cases
from scripts.screening_validation import BEGIN, END, render, replace_section
from tests.shared_data import shared_data


@pytest.fixture(scope="module")
def validation():
    data_dir = shared_data("ibsi", "ibsi_1_ct_radiomics_phantom").parents[1]
    return validate_cases(cases("ci", data_dir))


def test_mean_sensitivity_meets_the_luna16_goal(validation):
    assert validation.overall.n_scans >= 2
    assert validation.overall.n_nodules >= 10
    assert validation.overall.mean_sensitivity >= 0.85, validation.overall.summary()


def test_solid_nodules_of_6_mm_and_more_are_found_at_4_fp_per_scan(validation):
    group = validation.solid_6mm.groups["solid >= 6 mm"]
    assert group.n_nodules >= 3
    assert group.sensitivity_at[4.0] >= 0.95, group.summary()


def test_every_goal_is_reported_met(validation):
    goals = validation.goals()
    assert all(met for _value, _goal, met in goals.values()), goals


def test_the_real_tumour_of_the_ibsi_ct_is_found(validation):
    ibsi = [c for c in validation.cases if "ibsi" in c.name.lower()]
    assert ibsi, [c.name for c in validation.cases]
    for case in ibsi:
        tumour = [k for k in case.hit_rank if "tumour" in k.lower() or "tumor" in k.lower()]
        assert tumour, case.hit_rank
        assert all(case.hit_rank[k] is not None for k in tumour)


def test_the_report_section_replaces_only_its_own_part(validation):
    text = render(validation, kind="ci", seconds=1.0)
    assert "| all |" in text
    before = "# Validation\n\nOutcome part.\n<!-- end of outcome validation -->\n"
    after_other = "\n<!-- begin other -->\nother part\n<!-- end other -->\n"
    first = replace_section(before, "old figures")
    assert first == before + "\n" + f"{BEGIN}\nold figures\n{END}\n"
    second = replace_section(first + after_other, text)
    assert second.startswith(before)
    assert "old figures" not in second
    assert second.count(BEGIN) == 1
    assert second.endswith(after_other.lstrip("\n"))
    assert text.strip() in second
