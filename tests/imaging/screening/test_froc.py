"""LUNA16 FROC against cases counted by hand (the expected numbers are worked out in comments)."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.screening.froc import LUNA16_FP_RATES, froc, size_band


def _two_scans():
    # Scan 1: N1 at the origin, 10 mm (solid); N2 at x = 50, 6 mm (ground glass).
    # Scan 2: N3 at the origin, 8 mm (solid).
    truths = [
        [((0, 0, 0), 10.0, {"type": "solid"}), ((50, 0, 0), 6.0, {"type": "ggo"})],
        [((0, 0, 0), 8.0, {"type": "solid"})],
    ]
    scan1 = (
        np.array(
            [
                [50, 3, 0],  # e 0.95: 3 mm from N2 = its radius, not strictly inside -> FP
                [1, 1, 1],  # a 0.90: hits N1
                [50, 2, 0],  # b 0.80: hits N2
                [20, 0, 0],  # c 0.70: FP
                [0, 0, 4],  # d 0.40: second hit on N1 -> ignored
            ],
            float,
        ),
        np.array([0.95, 0.9, 0.8, 0.7, 0.4]),
    )
    scan2 = (
        np.array(
            [
                [0, 0, 3.9],  # f 0.60: hits N3 (3.9 < 4)
                [100, 0, 0],  # g 0.50: FP
                [0, 0, -4],  # h 0.30: exactly on N3's radius -> FP
            ],
            float,
        ),
        np.array([0.6, 0.5, 0.3]),
    )
    return [scan1, scan2], truths


def test_luna16_sensitivities_match_the_hand_count():
    scans, truths = _two_scans()
    result = froc(scans, truths)
    # Pooled ranking without d: e FP, a TP, b TP, c FP, f TP, g FP, h FP; 3 nodules, 2 scans.
    # Curve (FP/scan, sens): (0,0) (.5,0) (.5,1/3) (.5,2/3) (1,2/3) (1,1) (1.5,1) (2,1).
    # Highest sensitivity per FP rate: 0 -> 0, .5 -> 2/3, 1 -> 1; linear in between.
    expected = {0.125: 1 / 6, 0.25: 1 / 3, 0.5: 2 / 3, 1.0: 1.0, 2.0: 1.0, 4.0: 1.0, 8.0: 1.0}
    assert result.sensitivity_at == pytest.approx(expected)
    assert result.mean_sensitivity == pytest.approx((1 / 6 + 1 / 3 + 2 / 3 + 4) / 7)
    assert result.n_nodules == 3
    assert result.n_scans == 2
    assert result.n_detected == 3
    assert result.fps_per_scan[-1] == pytest.approx(2.0)  # e, c, g, h over 2 scans


def test_groups_count_only_their_nodules_and_ignore_hits_on_other_groups():
    scans, truths = _two_scans()
    result = froc(scans, truths, group_by="type")
    assert set(result.groups) == {"solid", "ggo"}
    solid = result.groups["solid"]
    # b (hits N2, other group) ignored: e FP, a TP, c FP, f TP, g FP, h FP; 2 nodules.
    # Points: 0 -> 0, .5 -> .5, 1 -> 1.
    assert solid.n_nodules == 2
    assert solid.sensitivity_at[0.125] == pytest.approx(0.125)
    assert solid.sensitivity_at[0.5] == pytest.approx(0.5)
    assert solid.sensitivity_at[1.0] == pytest.approx(1.0)
    assert solid.mean_sensitivity == pytest.approx((0.125 + 0.25 + 0.5 + 4) / 7)
    ggo = result.groups["ggo"]
    # a and f (hits on solid nodules) ignored: e FP, b TP, c, g, h FP; 1 nodule: .5 -> 1.
    assert ggo.sensitivity_at[0.125] == pytest.approx(0.25)
    assert ggo.mean_sensitivity == pytest.approx((0.25 + 0.5 + 1 + 4) / 7)


def test_group_function_can_leave_nodules_out():
    scans, truths = _two_scans()
    result = froc(scans, truths, group_by=lambda m: "solid" if m["type"] == "solid" else None)
    assert set(result.groups) == {"solid"}


def test_one_candidate_inside_two_nodules_counts_for_both_and_a_missed_nodule_stays_missed():
    truths = [
        [
            ((0, 0, 0), 10.0, {}),
            ((6, 0, 0), 10.0, {}),
            ((100, 100, 100), 5.0, {}),  # no candidate near it
        ]
    ]
    scans = [(np.array([[3.0, 0, 0], [50.0, 50, 50]]), np.array([1.0, 0.5]))]
    result = froc(scans, truths)
    assert result.n_detected == 2
    # The only FP (score 0.5) comes after both hits: 2/3 at every rate.
    assert all(v == pytest.approx(2 / 3) for v in result.sensitivity_at.values())
    assert list(result.sensitivity_at) == list(LUNA16_FP_RATES)


def test_no_candidates_gives_zero_sensitivity():
    result = froc([(np.zeros((0, 3)), np.zeros(0))], [[((0, 0, 0), 5.0, {})]])
    assert result.mean_sensitivity == 0.0
    assert result.n_detected == 0


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least one scan"):
        froc([], [])
    with pytest.raises(ValueError, match="lists of truths"):
        froc([(np.zeros((0, 3)), np.zeros(0))], [])
    with pytest.raises(ValueError, match="scores"):
        froc([(np.zeros((2, 3)), np.zeros(3))], [[]])
    with pytest.raises(ValueError, match="positive diameter"):
        froc([(np.zeros((0, 3)), np.zeros(0))], [[((0, 0, 0), 0.0, {})]])
    with pytest.raises(ValueError, match="finite"):
        froc([(np.array([[np.nan, 0, 0]]), np.ones(1))], [[]])


@pytest.mark.parametrize(
    ("diameter", "band"),
    [(2.0, "<3"), (3.0, "3-6"), (5.99, "3-6"), (6.0, "6-10"), (19.9, "10-20"), (30.0, ">=30")],
)
def test_size_bands(diameter, band):
    assert size_band(diameter) == band
