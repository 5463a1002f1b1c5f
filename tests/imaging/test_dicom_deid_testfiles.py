"""pydicom's own test files through de-identification: each readable file is either
de-identified or quarantined, never crashes, and its Patient's Name and Patient ID do not
survive in the written bytes.

The files are globbed from pydicom's installed test_files folder rather than through
get_testdata_files(), which also tries to download pydicom-data over the network."""

import hashlib
import io
from pathlib import Path

import pydicom.data
import pytest
from pydicom import dcmread, dcmwrite
from pydicom.errors import InvalidDicomError

from imaging.dicom.deid import HmacUidMap, deidentify

TEST_FILES = sorted((Path(pydicom.data.__file__).parent / "test_files").rglob("*.dcm"))


def test_pydicom_ships_its_test_files():
    assert len(TEST_FILES) > 50


# pydicom warns (UserWarning) about the deliberately invalid values in its test files when they
# are read and converted; those warnings are the files' point, not a fault of de-identification.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_each_readable_test_file_is_deidentified_or_quarantined(path):
    try:
        original = dcmread(path)
    except InvalidDicomError:
        pytest.skip("not readable without force (no preamble or meta): not an ingest candidate")
    result = deidentify(
        original,
        uid_map=HmacUidMap(b"test-files-key-0123456789abcdef"),
        date_offset_days=-321,
        patient_pseudonym="ANON-TESTFILE",
    )
    if result.quarantined:
        assert result.dataset is None
        assert result.reason
        return
    out = result.dataset
    assert out.PatientIdentityRemoved == "YES"
    buffer = io.BytesIO()
    # A few test files are bare datasets without SOP Common; they cannot be written as a Part 10
    # file, so they are written as a plain dataset.
    dcmwrite(buffer, out, enforce_file_format="SOPClassUID" in out)
    data = buffer.getvalue()
    for keyword in ("PatientName", "PatientID"):
        value = str(original.get(keyword, "") or "").strip()
        if len(value) >= 3:  # shorter values match unrelated bytes by chance
            assert value.encode() not in data, keyword
    if "PixelData" in original:
        assert hashlib.sha256(out.PixelData).digest() == hashlib.sha256(original.PixelData).digest()
