"""The viewer's preview: the middle axial slice drawn from its own instance file while the
volume is assembled, so that a series nobody has opened yet shows its first image at once."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from imaging import viewer, viewer_series
from imaging.dicom.synthetic import synthetic_series
from imaging.models import Series
from imaging.services.ingest import dicom_ingest
from tests.conftest import World
from tests.imaging.viewer_data import ORIGIN, SHAPE, SPACING, synthetic_hu


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_CACHE_DIR = tmp_path / "cache"
    viewer.VOLUMES.clear()
    viewer.MASKS.clear()


def _ingest_shuffled(world: World, orientation: tuple[int, ...]) -> Series:
    """The synthetic CT ingested through the ingest service in a shuffled order, so that
    neither the rows' order nor the Instance Numbers (which count backwards) give the slice
    order: only the positions along the slice normal do."""
    images = synthetic_series(
        synthetic_hu() + 1024, spacing=SPACING, origin=ORIGIN, orientation=orientation
    )
    order = list(range(len(images)))
    random.Random(7).shuffle(order)
    for k in order:
        ds = images[k]
        ds.PatientID = world.patient.mrn
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
        result = dicom_ingest(
            actor=None,
            institution=world.institution,
            data=buffer.getvalue(),
            filename=f"{k}.dcm",
            channel="command",
        )
        assert result.status == "stored", result.reason
    return Series.objects.get(study__patient=world.patient)


def _url(name: str, world: World, series: Series, **extra: Any) -> str:
    kwargs = {"public_id": world.patient.public_id, "series_id": series.public_id, **extra}
    return reverse(f"imaging:{name}", kwargs=kwargs)


def _pixels(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)))


@pytest.mark.parametrize("orientation", [(1, 0, 0, 0, 1, 0), (1, 0, 0, 0, -1, 0)])
def test_the_preview_is_the_middle_slice_the_volume_then_shows(
    world: World, member_client: Client, orientation: tuple[int, ...]
) -> None:
    series = _ingest_shuffled(world, orientation)
    middle = SHAPE[0] // 2
    preview = member_client.get(_url("viewer-preview", world, series))
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/png"
    # The volume was not assembled for it: nothing cached yet.
    assert not viewer.is_volume_cached(viewer_series.cache_dir(), viewer_series.volume_key(series))
    # Slice k of the synthetic CT sits at origin + k * spacing along its normal (row x column,
    # which flips with the column direction): slice `middle` in either orientation, found
    # although the rows were stored shuffled and Instance Numbers count backwards.
    expected_k = middle
    assert _pixels(preview.content).shape == (SHAPE[1], SHAPE[2])
    # The same bytes as the viewer's own slice once the volume is there (same default window).
    slice_png = member_client.get(_url("viewer-slice", world, series, axis="axial", index=middle))
    assert slice_png.status_code == 200
    np.testing.assert_array_equal(_pixels(preview.content), _pixels(slice_png.content))
    # And by hand: HU = 10 * (x - 24) + 5 * k through the DICOM linear VOI LUT of the
    # mediastinum window (centre 40, width 400); the neighbouring slices differ by 5 HU.
    hu = synthetic_hu()[expected_k].astype(float)
    grey = np.clip(np.rint(((hu - 39.5) / 399 + 0.5) * 255), 0, 255)
    grey[hu <= 39.5 - 199.5] = 0
    grey[hu > 39.5 + 199.5] = 255
    np.testing.assert_array_equal(_pixels(preview.content), grey.astype(np.uint8))


def test_the_page_asks_for_the_preview_and_outsiders_do_not_get_it(
    world: World, member_client: Client
) -> None:
    series = _ingest_shuffled(world, (1, 0, 0, 0, 1, 0))
    html = member_client.get(_url("viewer", world, series)).content.decode()
    assert f'data-preview-url="{_url("viewer-preview", world, series)}"' in html
    outsider = Client()
    outsider.force_login(world.outsider)
    assert outsider.get(_url("viewer-preview", world, series)).status_code == 404


def test_a_series_without_positions_has_no_preview(world: World, member_client: Client) -> None:
    series = _ingest_shuffled(world, (1, 0, 0, 0, 1, 0))
    series.instances.filter(pk=series.instances.first().pk).update(image_position=None)
    assert member_client.get(_url("viewer-preview", world, series)).status_code == 404
