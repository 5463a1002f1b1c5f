"""Command line: ``python -m imaging.radiomics IMAGE MASK --preset NAME [--out FILE.csv]``.

Writes CSV with columns ``feature,ibsi_code,value`` (stdout without ``--out``) and, with
``--provenance FILE.json``, the provenance record. IMAGE is a NIfTI file or a DICOM series
folder; MASK a NIfTI file, or for a DICOM image an RTSTRUCT or SEG file (``--roi`` names the
ROI or segment when there are several).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from imaging.radiomics.inputs import InputError, load_image_and_mask
from imaging.radiomics.pipeline import extract
from imaging.radiomics.settings import PRESETS, preset


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m imaging.radiomics", description=__doc__)
    p.add_argument("image", type=Path, help="image: NIfTI file or DICOM series folder")
    p.add_argument("mask", type=Path, help="ROI mask: NIfTI (non-zero = ROI), RTSTRUCT or SEG")
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--roi", help="ROI name (RTSTRUCT) or segment label/number (SEG)")
    p.add_argument("--out", type=Path, help="CSV file to write (default: stdout)")
    p.add_argument("--provenance", type=Path, help="JSON file for the provenance record")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        image, mask = load_image_and_mask(args.image, args.mask, args.roi)
        result = extract(image, mask, preset(args.preset))
    except (InputError, ValueError) as exc:
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
