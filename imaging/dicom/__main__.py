"""Command-line tools for researchers.

    python -m imaging.dicom to-nifti SERIES_DIR OUT.nii.gz [--series-uid UID]
    python -m imaging.dicom mask MASK_FILE --reference SERIES_DIR [--roi NAME] OUT.nii.gz

MASK_FILE is an RTSTRUCT or a DICOM SEG (told apart by Modality). ``--roi`` names the RTSTRUCT
ROI or the SEG segment (label or number); it may be left out when there is only one. Volumes
are written as float32 (HU for CT) and masks as uint8 0/1, both with the series geometry
(NIfTI stores RAS; SimpleITK converts from DICOM LPS on writing). Errors go to stderr with
exit status 2; warnings about the series (e.g. uneven spacing) go to stderr too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from imaging.dicom.masks import MaskError, rtstruct_roi_names, rtstruct_to_mask, seg_to_mask
from imaging.dicom.volume import VolumeAssemblyError, volume_from_dir


def _write(volume, out: str) -> None:
    import SimpleITK as sitk

    if not out.endswith((".nii", ".nii.gz")):
        raise ValueError("output must end in .nii or .nii.gz")
    sitk.WriteImage(volume.to_sitk(), out)


def _to_nifti(args: argparse.Namespace) -> None:
    volume = volume_from_dir(args.series_dir, series_uid=args.series_uid)
    for warning in volume.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    _write(volume, args.out)
    size, spacing = volume.shape[::-1], volume.spacing[::-1]
    print(f"wrote {args.out}: {size} voxels (x, y, z), spacing {spacing} mm")


def _mask(args: argparse.Namespace) -> None:
    path = Path(args.mask_file)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    ds = pydicom.dcmread(path)
    reference = volume_from_dir(args.reference, series_uid=args.series_uid)
    modality = ds.get("Modality")
    if modality == "RTSTRUCT":
        names = rtstruct_roi_names(ds)
        roi = args.roi
        if roi is None:
            if len(names) != 1:
                raise MaskError(
                    f"the RTSTRUCT holds {len(names)} ROIs ({', '.join(names)}); use --roi"
                )
            roi = names[0]
        mask = rtstruct_to_mask(ds, reference, roi)
    elif modality == "SEG":
        segment: int | str | None = args.roi
        if isinstance(segment, str) and segment.isdigit():
            segment = int(segment)
        mask = seg_to_mask(ds, reference, segment)
    else:
        raise MaskError(f"{path.name} is neither an RTSTRUCT nor a SEG (Modality {modality!r})")
    _write(reference.with_array(mask.astype(np.uint8)), args.out)
    print(f"wrote {args.out}: {int(mask.sum())} voxels in the mask")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m imaging.dicom", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    to_nifti = commands.add_parser("to-nifti", help="write a DICOM series as a NIfTI volume")
    to_nifti.add_argument("series_dir")
    to_nifti.add_argument("out")
    to_nifti.add_argument("--series-uid", help="pick one series when the folder holds several")
    to_nifti.set_defaults(handler=_to_nifti)
    mask = commands.add_parser("mask", help="write an RTSTRUCT ROI or SEG segment as a NIfTI mask")
    mask.add_argument("mask_file", help="RTSTRUCT or SEG file")
    mask.add_argument("--reference", required=True, help="folder of the referenced image series")
    mask.add_argument("--roi", help="ROI name (RTSTRUCT) or segment label/number (SEG)")
    mask.add_argument(
        "--series-uid", help="pick one series when the reference folder holds several"
    )
    mask.add_argument("out")
    mask.set_defaults(handler=_mask)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (VolumeAssemblyError, MaskError, InvalidDicomError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
