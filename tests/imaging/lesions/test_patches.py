"""Patch geometry against hand-computed cases: trilinear resampling reproduces a linear ramp
exactly, so each patch voxel's value is the ramp at a position computed by hand from the
volume's spacing."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.lesions.patches import PatchError, PatchGeometry, extract_patches, window

# A window 0..1000 HU keeps the ramp below unclipped: windowed value = HU / 1000.
RAMP = PatchGeometry(size=4, spacing_mm=1.0, hu_low=0.0, hu_high=1000.0)


def _ramp() -> np.ndarray:
    z, y, x = np.meshgrid(np.arange(12), np.arange(24), np.arange(24), indexing="ij")
    return (100.0 * z + 10.0 * y + x).astype(np.float32)


def test_anisotropic_spacing_gives_1mm_offsets() -> None:
    # spacing (2, 0.5, 0.5) mm; a 4-voxel patch at 1 mm has voxel centres at -1.5, -0.5, 0.5,
    # 1.5 mm from the centre: -0.75..0.75 slices and -3..3 rows/columns.
    patch = extract_patches(_ramp(), (2.0, 0.5, 0.5), [[5, 10, 10]], RAMP)[0]
    assert patch.shape == (4, 4, 4)
    # corner (0,0,0): z 4.25, y 7, x 7 -> 425 + 70 + 7 = 502 HU
    assert patch[0, 0, 0] == pytest.approx(0.502, abs=1e-5)
    # corner (3,3,3): z 5.75, y 13, x 13 -> 575 + 130 + 13 = 718 HU
    assert patch[3, 3, 3] == pytest.approx(0.718, abs=1e-5)
    # (1, 2, 0): z 4.75, y 11, x 7 -> 475 + 110 + 7 = 592 HU
    assert patch[1, 2, 0] == pytest.approx(0.592, abs=1e-5)


def test_fractional_centre_and_several_centres() -> None:
    patches = extract_patches(_ramp(), (1.0, 1.0, 1.0), [[3.5, 5.0, 6.0], [6, 12, 2.5]], RAMP)
    assert patches.shape == (2, 4, 4, 4)
    # first: (0,0,0) at z 2.0, y 3.5, x 4.5 -> 200 + 35 + 4.5 = 239.5
    assert patches[0, 0, 0, 0] == pytest.approx(0.2395, abs=1e-5)
    # second: (2,1,3) at z 6.5, y 11.5, x 4.0 -> 650 + 115 + 4 = 769
    assert patches[1, 2, 1, 3] == pytest.approx(0.769, abs=1e-5)


def test_outside_the_volume_reads_as_air() -> None:
    volume = np.full((8, 8, 8), 40.0, dtype=np.float32)  # soft tissue everywhere
    patch = extract_patches(volume, (1.0, 1.0, 1.0), [[0, 0, 0]])[0]  # default 32^3 window
    assert patch.shape == (32, 32, 32)
    # default window -1000..400: soft tissue 40 HU -> 1040/1400; air -> 0
    assert patch[16, 16, 16] == pytest.approx(1040 / 1400, abs=1e-5)
    assert patch[0, 0, 0] == 0.0  # 15.5 voxels before the first slice


def test_window_clips_and_scales() -> None:
    out = window(np.array([-2000.0, -1000.0, -300.0, 400.0, 3000.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_no_centres_gives_no_patches() -> None:
    assert extract_patches(_ramp(), (1, 1, 1), []).shape == (0, 32, 32, 32)


@pytest.mark.parametrize(
    ("array", "spacing", "centres", "message"),
    [
        (np.zeros((4, 4)), (1, 1, 1), [[0, 0, 0]], "3-D"),
        (np.zeros((4, 4, 4)), (1, 0, 1), [[0, 0, 0]], "spacing"),
        (np.zeros((4, 4, 4)), (1, 1), [[0, 0, 0]], "spacing"),
        (np.zeros((4, 4, 4)), (1, 1, float("nan")), [[0, 0, 0]], "spacing"),
        (np.zeros((4, 4, 4)), (1, 1, 1), [[0, float("inf"), 0]], "finite"),
        (np.zeros((4, 4, 4)), (1, 1, 1), [[0, 0]], "three"),
    ],
)
def test_bad_input_is_named(array: np.ndarray, spacing: tuple, centres: list, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        extract_patches(array, spacing, centres)
