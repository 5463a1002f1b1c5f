"""``python -m imaging.radiomics`` writes feature,ibsi_code,value CSV with provenance."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from imaging.radiomics.cli import main
from tests.shared_data import shared_data

FOLDER = ("ibsi", "ibsi_1_digital_phantom", "nifti")


def _inputs() -> tuple[str, str]:
    image = shared_data(*FOLDER, "image", "phantom.nii.gz")
    mask = shared_data(*FOLDER, "mask", "mask.nii.gz")
    return str(image), str(mask)


def test_cli_writes_ibsi_features_of_the_digital_phantom(tmp_path: Path) -> None:
    image, mask = _inputs()
    out, prov = tmp_path / "f.csv", tmp_path / "p.json"
    code = main(
        [image, mask, "--preset", "ibsi-phantom", "--out", str(out), "--provenance", str(prov)]
    )
    assert code == 0
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["feature", "ibsi_code", "value"]
    by_key = {r["feature"]: r for r in rows}
    # IBSI manual, digital phantom: mesh volume 556 mm^3 (RNU0), 3D merged GLCM joint max 0.509.
    assert by_key["morph_volume"]["ibsi_code"] == "RNU0"
    assert float(by_key["morph_volume"]["value"]) == pytest.approx(556, abs=0.5)
    assert float(by_key["cm_joint_max_3d_merged"]["value"]) == pytest.approx(0.509, abs=5e-4)
    record = json.loads(prov.read_text(encoding="utf-8"))
    assert record["settings"]["name"] == "ibsi-phantom"
    assert len(record["image_sha256"]) == 64


def test_cli_reports_a_missing_mask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, _ = _inputs()
    assert main([image, str(tmp_path / "none.nii.gz"), "--preset", "ibsi-C"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_rejects_a_single_file_that_is_not_nifti(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ct.dcm").write_bytes(b"")
    assert main([str(tmp_path / "ct.dcm"), str(tmp_path / "ct.dcm"), "--preset", "ibsi-A"]) == 2
    assert "DICOM series folder" in capsys.readouterr().err


def test_cli_reads_a_dicom_series_with_its_rtstruct(tmp_path: Path) -> None:
    folder = ("ibsi", "ibsi_1_ct_radiomics_phantom", "dicom")
    series = shared_data(*folder, "image")
    rtstruct = shared_data(*folder, "mask", "DCM_RS_00060.dcm")
    out = tmp_path / "f.csv"
    args = [str(series), str(rtstruct), "--roi", "GTV-1", "--preset", "ibsi-A", "--out", str(out)]
    assert main(args) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        by_key = {r["feature"]: float(r["value"]) for r in csv.DictReader(fh)}
    # IBSI manual, CT phantom configuration A: mesh volume 3.58e5 mm^3 +/- 5e3 (RNU0).
    assert by_key["morph_volume"] == pytest.approx(3.58e5, abs=5e3)


def test_cli_names_a_missing_roi(capsys: pytest.CaptureFixture[str]) -> None:
    folder = ("ibsi", "ibsi_1_ct_radiomics_phantom", "dicom")
    series = shared_data(*folder, "image")
    rtstruct = shared_data(*folder, "mask", "DCM_RS_00060.dcm")
    assert main([str(series), str(rtstruct), "--roi", "nope", "--preset", "ibsi-A"]) == 2
    assert "nope" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    image, mask = _inputs()
    done = subprocess.run(  # noqa: S603 - fixed argv, our own module
        [sys.executable, "-m", "imaging.radiomics", image, mask, "--preset", "ibsi-phantom"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "feature,ibsi_code,value"
    assert len(lines) == 1 + 483  # every feature of the 11 families, all aggregations
