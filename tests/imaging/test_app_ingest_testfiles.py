"""Every file of pydicom's test-file set, broken ones included, through the ingest service:
each gets a clear result, none raises, none takes more than a few seconds, and a rejected file
leaves no row and no stored file.

The files are globbed from pydicom's installed test_files folder, never through
get_testdata_files(), which tries to download pydicom-data over the network."""

from __future__ import annotations

import time
from pathlib import Path

import pydicom.data
import pytest

from imaging.models import HeldInstance, Instance
from imaging.services.ingest import DUPLICATE, REJECTED, STORED, UNMATCHED, dicom_ingest
from oncology.models import Institution
from tests.factories import InstitutionFactory

TEST_FILES = sorted(
    p for p in (Path(pydicom.data.__file__).parent / "test_files").rglob("*") if p.is_file()
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_pydicom_ships_its_test_files() -> None:
    assert len([p for p in TEST_FILES if p.suffix == ".dcm"]) > 50


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", TEST_FILES, ids=lambda p: str(p.relative_to(p.parents[2])).replace("/", "_")
)
def test_each_pydicom_test_file_gets_a_clear_result_quickly(path: Path, settings) -> None:
    institution: Institution = InstitutionFactory()
    started = time.perf_counter()
    result = dicom_ingest(
        actor=None,
        institution=institution,
        data=path.read_bytes(),
        filename=path.name,
        channel="command",
    )
    assert time.perf_counter() - started < 5.0
    assert result.filename == path.name
    assert result.status in {STORED, DUPLICATE, UNMATCHED, REJECTED}
    if result.status == REJECTED:
        assert len(result.reason) > 10
        assert result.failure_code in {0xA700, 0xA900, 0xC000}
        assert not Instance.objects.exists()
        assert not HeldInstance.objects.exists()
        assert _stored_files(settings) == []
    else:
        # No patient exists, so an accepted instance waits in the unmatched queue.
        assert result.status == UNMATCHED
        held = HeldInstance.objects.get()
        assert held.sop_instance_uid == result.sop_instance_uid
        assert len(_stored_files(settings)) == 1
