"""screen_volume end to end on a small synthetic chest given as an imaging.dicom Volume.

The chest is drawn here (not with the library's phantom): air, an elliptic body of soft tissue,
two ellipsoid lungs and one solid 10 mm ball in the right lung at a known voxel, so the expected
LPS position of the finding follows from the geometry by hand.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

from imaging.dicom.volume import Volume
from imaging.screening import (
    PIPELINE_VERSION,
    ScreeningSettings,
    candidate_centre_mm,
    screen_volume,
)

SPACING = (2.5, 1.2, 1.2)
SHAPE = (48, 120, 150)
BALL_VOXEL = (24.0, 60.0, 45.0)  # z, y, x: patient right (low x), mid height


def _chest(seed: int = 0) -> np.ndarray:
    z, y, x = np.indices(SHAPE, dtype=np.float32)
    zm, ym, xm = z * SPACING[0], y * SPACING[1], x * SPACING[2]
    cz, cy, cx = (n * s / 2 for n, s in zip(SHAPE, SPACING, strict=True))
    hu = np.full(SHAPE, -1000.0, np.float32)
    body = ((xm - cx) / 80.0) ** 2 + ((ym - cy) / 60.0) ** 2 <= 1.0
    hu[body] = 30.0
    for lung_x in (cx - 38.0, cx + 38.0):
        lung = ((xm - lung_x) / 30.0) ** 2 + ((ym - cy) / 45.0) ** 2 + ((zm - cz) / 55.0) ** 2
        hu[lung <= 1.0] = -850.0
    bz, by, bx = (v * s for v, s in zip(BALL_VOXEL, SPACING, strict=True))
    dist = np.sqrt((zm - bz) ** 2 + (ym - by) ** 2 + (xm - bx) ** 2)
    weight = np.clip((5.0 - dist) / 1.0 + 0.5, 0, 1)
    hu = hu * (1 - weight) + 40.0 * weight
    hu += np.random.default_rng(seed).normal(0, 15, SHAPE).astype(np.float32)
    return np.round(hu).astype(np.int16)


def _volume(array: np.ndarray) -> Volume:
    # A tilted grid (rotation about the patient's z axis) so the mm position tests the matrix.
    a = math.radians(10.0)
    direction = np.array(
        [[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0], [0, 0, 1]]
    )
    return Volume(array=array, spacing=SPACING, origin=(-90.0, -70.0, 100.0), direction=direction)


def test_a_chest_ct_in_int16_gives_the_ball_first_at_its_lps_position():
    volume = _volume(_chest())
    result = screen_volume(volume, ScreeningSettings(max_candidates=5))
    assert 1 <= len(result.candidates) <= 5
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    top = result.candidates[0]
    assert np.allclose(top.centre_voxel, BALL_VOXEL, atol=0.8 / 1.2)
    assert top.nodule_type == "solid"
    assert top.diameter_mm == pytest.approx(10.0, rel=0.2)
    # LPS by hand: origin + x sx d0 + y sy d1 + z sz d2 for the candidate's own centre.
    z, y, x = top.centre_voxel
    d = volume.direction
    expected = np.array(volume.origin) + x * SPACING[2] * d[0] + y * SPACING[1] * d[1]
    expected = expected + z * SPACING[0] * d[2]
    assert candidate_centre_mm(volume, top) == pytest.approx(tuple(expected), abs=1e-6)
    summary = result.summary()
    json.dumps(summary)
    json.dumps(result.lungs.summary())
    assert summary["pipeline_version"] == PIPELINE_VERSION
    assert {"lungs", "enhancement", "regions", "total"} <= set(result.seconds)
    # The ball is in the right lung (low x): inside the lung mask.
    zi, yi, xi = (int(round(v)) for v in BALL_VOXEL)
    assert result.lungs.mask[zi, yi, xi]


def test_settings_round_trip_through_json():
    stored = json.loads(json.dumps(asdict(ScreeningSettings(max_candidates=7))))
    assert ScreeningSettings(**stored) == ScreeningSettings(max_candidates=7)


def test_bad_volumes_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="3D"):
        screen_volume(Volume(array=np.zeros((4, 4)), spacing=(1, 1, 1), origin=(0, 0, 0)))
    bad = _chest().astype(np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        screen_volume(_volume(bad))
    with pytest.raises(ValueError, match="dtype"):
        screen_volume(_volume(np.zeros(SHAPE, dtype=bool)))


def test_importing_the_library_loads_neither_django_nor_scipy():
    code = (
        "import sys, imaging.screening as s; "
        "assert 'django' not in sys.modules and 'scipy' not in sys.modules, sorted(sys.modules); "
        "print(len(s.__all__))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed string
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_package_froc_is_the_function_even_after_its_module_is_imported():
    code = (
        "import imaging.screening.pipeline, imaging.screening.froc, imaging.screening as s; "
        "assert callable(s.froc) and s.froc.__name__ == 'froc' and not hasattr(s.froc, 'froc')"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed string
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
