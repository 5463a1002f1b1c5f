"""Command line: ``python -m imaging.radiomics IMAGE MASK --preset NAME [--out FILE.csv]``.

Writes CSV with columns ``feature,ibsi_code,value`` (stdout without ``--out``) and, with
``--provenance FILE.json``, the provenance record. IMAGE and MASK are NIfTI files for now;
DICOM series and RTSTRUCT/SEG masks follow when imaging.dicom lands.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from imaging.radiomics.image import load_nifti
from imaging.radiomics.pipeline import extract
from imaging.radiomics.settings import PRESETS, preset

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m imaging.radiomics", description=__doc__)
    p.add_argument("image", type=Path, help="image (NIfTI)")
    p.add_argument("mask", type=Path, help="ROI mask (NIfTI, non-zero voxels = ROI)")
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--roi", help="ROI name in an RTSTRUCT/SEG (DICOM masks: not yet supported)")
    p.add_argument("--out", type=Path, help="CSV file to write (default: stdout)")
    p.add_argument("--provenance", type=Path, help="JSON file for the provenance record")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for path in (args.image, args.mask):
        if not path.name.endswith(NIFTI_SUFFIXES):
            print(f"error: {path.name}: only NIfTI inputs are supported so far", file=sys.stderr)
            return 2
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            return 2
    image = load_nifti(args.image)
    mask = load_nifti(args.mask).array > 0
    try:
        result = extract(image, mask, preset(args.preset))
    except (NotImplementedError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["feature", "ibsi_code", "value"])
        for key, code, value in result.as_rows():
            writer.writerow([key, code, repr(value)])
    finally:
        if args.out:
            out.close()
    if args.provenance:
        args.provenance.write_text(json.dumps(result.provenance, indent=2), encoding="utf-8")
    return 0
