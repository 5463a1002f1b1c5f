"""The researchers' command-line tools, run as a subprocess on the IBSI phantom."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.shared_data import shared_data

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed interpreter and module, test-controlled arguments
        [sys.executable, "-m", "imaging.dicom", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def phantom() -> Path:
    return shared_data("ibsi", "ibsi_1_ct_radiomics_phantom")


def test_to_nifti_writes_the_phantom_as_shipped(phantom, tmp_path):
    out = tmp_path / "ct.nii.gz"
    result = _run("to-nifti", str(phantom / "dicom" / "image"), str(out))
    assert result.returncode == 0, result.stderr
    written, shipped = nib.load(out), nib.load(phantom / "nifti" / "image" / "phantom.nii.gz")
    np.testing.assert_array_equal(np.asarray(written.dataobj), np.asarray(shipped.dataobj))
    np.testing.assert_allclose(written.affine, shipped.affine, atol=1e-4)


def test_mask_from_rtstruct_matches_the_shipped_mask(phantom, tmp_path):
    out = tmp_path / "gtv.nii.gz"
    result = _run(
        "mask",
        str(phantom / "dicom" / "mask" / "DCM_RS_00060.dcm"),
        "--reference",
        str(phantom / "dicom" / "image"),
        "--roi",
        "GTV-1",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    written = np.asarray(nib.load(out).dataobj) > 0
    shipped = np.asarray(nib.load(phantom / "nifti" / "mask" / "mask.nii.gz").dataobj) > 0
    dice = 2 * (written & shipped).sum() / (written.sum() + shipped.sum())
    assert dice >= 0.98


def test_unknown_roi_exits_non_zero_and_names_the_rois(phantom, tmp_path):
    result = _run(
        "mask",
        str(phantom / "dicom" / "mask" / "DCM_RS_00060.dcm"),
        "--reference",
        str(phantom / "dicom" / "image"),
        "--roi",
        "Heart",
        str(tmp_path / "x.nii.gz"),
    )
    assert result.returncode == 2
    assert "error: ROI 'Heart' not in the RTSTRUCT (ROIs: GTV-1)" in result.stderr
    assert not (tmp_path / "x.nii.gz").exists()


def test_folder_without_dicom_exits_non_zero_with_a_clear_message(tmp_path):
    result = _run("to-nifti", str(tmp_path), str(tmp_path / "out.nii.gz"))
    assert result.returncode == 2
    assert "no DICOM image instances" in result.stderr
    assert "Traceback" not in result.stderr


def test_image_series_is_not_accepted_as_a_mask_file(phantom, tmp_path):
    image = next((phantom / "dicom" / "image").iterdir())
    result = _run(
        "mask",
        str(image),
        "--reference",
        str(phantom / "dicom" / "image"),
        str(tmp_path / "m.nii.gz"),
    )
    assert result.returncode == 2
    assert "neither an RTSTRUCT nor a SEG" in result.stderr


def test_mask_from_a_seg_file_is_written_on_the_reference_grid(phantom, tmp_path):
    from imaging.dicom.masks import mask_to_seg
    from imaging.dicom.volume import read_series_dir, volume_from_datasets

    datasets = read_series_dir(phantom / "dicom" / "image")
    volume = volume_from_datasets(datasets)
    mask = np.zeros(volume.shape, bool)
    mask[20:30, 60:90, 70:120] = True
    mask_to_seg(mask, datasets, "Box").save_as(tmp_path / "seg.dcm")
    out = tmp_path / "box.nii.gz"
    result = _run(
        "mask", str(tmp_path / "seg.dcm"), "--reference", str(phantom / "dicom" / "image"), str(out)
    )
    assert result.returncode == 0, result.stderr
    written = nib.load(out)
    np.testing.assert_array_equal(np.asarray(written.dataobj).T > 0, mask)
    np.testing.assert_allclose(written.affine, volume.affine(), atol=1e-4)
