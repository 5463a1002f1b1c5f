"""Reading an image and its ROI mask from files: NIfTI, or a DICOM series with an RTSTRUCT,
SEG or NIfTI mask (through :mod:`imaging.dicom`, which owns DICOM geometry and rasterisation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from imaging.radiomics.image import Image, load_nifti

NIFTI_SUFFIXES = (".nii", ".nii.gz")


class InputError(ValueError):
    """The inputs cannot be read or do not fit together; the message says why (no PHI)."""


def is_nifti(path: Path) -> bool:
    return path.name.endswith(NIFTI_SUFFIXES)


def load_image_and_mask(
    image_path: str | Path, mask_path: str | Path, roi: str | None = None
) -> tuple[Image, np.ndarray]:
    """(image, boolean mask) on the same grid.

    ``image_path`` is a NIfTI file or a DICOM series folder; ``mask_path`` a NIfTI file (non-zero
    voxels inside) or, for a DICOM image, an RTSTRUCT or SEG file, ``roi`` naming the RTSTRUCT
    ROI or SEG segment (optional when there is only one).
    """
    image_path, mask_path = Path(image_path), Path(mask_path)
    for path in (image_path, mask_path):
        if not path.exists():
            raise InputError(f"{path} does not exist")
    if is_nifti(image_path):
        if not is_nifti(mask_path):
            raise InputError("a NIfTI image needs a NIfTI mask")
        image = load_nifti(image_path)
        mask = load_nifti(mask_path).array > 0
        if mask.shape != image.array.shape:
            raise InputError(f"mask shape {mask.shape} differs from image {image.array.shape}")
        return image, mask
    if not image_path.is_dir():
        raise InputError(f"{image_path.name}: expected a NIfTI file or a DICOM series folder")
    return _from_dicom(image_path, mask_path, roi)


def _from_dicom(series: Path, mask_path: Path, roi: str | None) -> tuple[Image, np.ndarray]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    from imaging.dicom import (
        MaskError,
        VolumeAssemblyError,
        nifti_to_mask,
        rtstruct_roi_names,
        rtstruct_to_mask,
        seg_to_mask,
        volume_from_dir,
    )

    try:
        volume: Any = volume_from_dir(series)
        if is_nifti(mask_path):
            mask = nifti_to_mask(mask_path, volume)
        else:
            ds = pydicom.dcmread(mask_path)
            modality = ds.get("Modality")
            if modality == "RTSTRUCT":
                names = rtstruct_roi_names(ds)
                if roi is None and len(names) != 1:
                    raise InputError(f"the RTSTRUCT holds {len(names)} ROIs; choose one with --roi")
                mask = rtstruct_to_mask(ds, volume, roi or names[0])
            elif modality == "SEG":
                segment: int | str | None = int(roi) if roi and roi.isdigit() else roi
                mask = seg_to_mask(ds, volume, segment)
            else:
                raise InputError(f"mask Modality {modality!r} is neither RTSTRUCT nor SEG")
    except (MaskError, VolumeAssemblyError, InvalidDicomError) as exc:
        raise InputError(str(exc)) from exc
    return Image.from_volume(volume), np.asarray(mask, dtype=bool)
