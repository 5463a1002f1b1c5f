"""Masks on a reference `Volume` grid: RTSTRUCT, DICOM SEG and NIfTI in; DICOM SEG out.

Every reader returns a boolean array shaped like ``reference.array`` (``[z, y, x]``), so a mask
and its image always share one grid. DICOM quirks handled here:

* RTSTRUCT stores each ROI as closed planar polygons in patient (LPS) mm, one or more per
  slice. A voxel is inside when its *centre* is inside the polygon (even-odd rule). Several
  contours on one slice are combined by XOR, which is how holes (a contour inside another) and
  disjoint islands are both written by treatment planning systems.
* A contour's z need not be exactly a slice position (DS rounding); it is assigned to the
  nearest slice when within half a slice spacing.
* SEG frames are placed on the reference grid by their Plane Position (Patient), not by their
  order or by referenced SOP Instance UIDs, which not every writer fills.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from imaging.dicom.volume import Volume, sorted_instances, volume_from_datasets


class MaskError(ValueError):
    """The mask cannot be placed on the reference grid; the message says why."""


def rtstruct_roi_names(ds: Dataset) -> list[str]:
    """ROI names of an RTSTRUCT, in Structure Set ROI Sequence order."""
    return [str(item.ROIName) for item in ds.get("StructureSetROISequence", [])]


def polygon_to_mask(polygon_xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise one polygon given in continuous (x=column, y=row) voxel indices.

    A pixel ``[row, col]`` is inside when its centre ``(col, row)`` is inside by the even-odd
    rule. Scanline: for each row centre, the crossings of the polygon edges (half-open in y so
    a vertex on the scanline counts once) are sorted and filled pairwise.
    """
    rows, columns = shape
    mask = np.zeros(shape, dtype=bool)
    points = np.asarray(polygon_xy, dtype=float)
    if len(points) < 3:
        return mask
    x0, y0 = points[:, 0], points[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    first_row = max(int(np.ceil(y0.min())), 0)
    last_row = min(int(np.floor(y0.max())), rows - 1)
    for row in range(first_row, last_row + 1):
        crosses = ((y0 <= row) & (y1 > row)) | ((y1 <= row) & (y0 > row))
        if not np.any(crosses):
            continue
        xa, ya, xb, yb = x0[crosses], y0[crosses], x1[crosses], y1[crosses]
        xs = np.sort(xa + (row - ya) * (xb - xa) / (yb - ya))
        for left, right in zip(xs[0::2], xs[1::2], strict=False):
            # centres c with left <= c < right
            start = max(int(np.ceil(left)), 0)
            stop = min(int(np.ceil(right)), columns)
            if stop > start:
                mask[row, start:stop] = True
    return mask


def _roi_number(ds: Dataset, roi: str) -> int:
    for item in ds.get("StructureSetROISequence", []):
        if str(item.ROIName) == roi:
            return int(item.ROINumber)
    names = ", ".join(rtstruct_roi_names(ds)) or "none"
    raise MaskError(f"ROI {roi!r} not in the RTSTRUCT (ROIs: {names})")


def _check_frame_of_reference(ds: Dataset, reference: Volume) -> None:
    uids = {
        str(item.FrameOfReferenceUID) for item in ds.get("ReferencedFrameOfReferenceSequence", [])
    }
    if "FrameOfReferenceUID" in ds:
        uids.add(str(ds.FrameOfReferenceUID))
    if reference.frame_of_reference_uid and uids and reference.frame_of_reference_uid not in uids:
        raise MaskError(
            "frame of reference mismatch: the mask was drawn on another frame of reference "
            "than the reference series"
        )


def rtstruct_to_mask(rtstruct_ds: Dataset, reference: Volume, roi: str) -> np.ndarray:
    """Rasterise one ROI of an RTSTRUCT onto ``reference``'s grid -> bool ``[z, y, x]``."""
    if rtstruct_ds.get("Modality") != "RTSTRUCT":
        raise MaskError(f"not an RTSTRUCT (Modality {rtstruct_ds.get('Modality')!r})")
    number = _roi_number(rtstruct_ds, roi)
    _check_frame_of_reference(rtstruct_ds, reference)
    depth, rows, columns = reference.shape
    mask = np.zeros(reference.shape, dtype=bool)
    contours = []
    for roi_contour in rtstruct_ds.get("ROIContourSequence", []):
        if int(roi_contour.ReferencedROINumber) == number:
            contours.extend(roi_contour.get("ContourSequence", []))
    if not contours:
        raise MaskError(f"ROI {roi!r} has no contours")
    outside = 0
    for contour in contours:
        if contour.get("ContourGeometricType", "CLOSED_PLANAR") != "CLOSED_PLANAR":
            continue  # POINT / OPEN_PLANAR enclose no area
        points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
        indices = reference.patient_to_index(points)
        z = float(np.mean(indices[:, 2]))
        if np.ptp(indices[:, 2]) > 0.5:
            raise MaskError(f"ROI {roi!r} has a contour that is not in the slice plane")
        k = int(np.rint(z))
        if abs(z - k) > 0.5 or not 0 <= k < depth:
            outside += 1
            continue
        mask[k] ^= polygon_to_mask(indices[:, :2], (rows, columns))
    if outside == len(contours):
        raise MaskError(f"ROI {roi!r} lies entirely outside the reference series")
    return mask


def _segment_number(seg: Any, segment: int | str | None) -> int:
    numbers = {int(d.SegmentNumber): str(d.SegmentLabel) for d in seg.SegmentSequence}
    if segment is None:
        if len(numbers) != 1:
            labels = ", ".join(f"{n}: {label}" for n, label in numbers.items())
            raise MaskError(f"the SEG holds {len(numbers)} segments ({labels}); pick one")
        return next(iter(numbers))
    if isinstance(segment, int):
        if segment not in numbers:
            raise MaskError(f"segment {segment} not in the SEG (segments {sorted(numbers)})")
        return segment
    matches = [n for n, label in numbers.items() if label == segment]
    if not matches:
        raise MaskError(f"segment {segment!r} not in the SEG (labels {sorted(numbers.values())})")
    return matches[0]


def seg_to_mask(seg_ds: Dataset, reference: Volume, segment: int | str | None = None) -> np.ndarray:
    """One segment of a DICOM SEG (by number or label) on ``reference``'s grid -> bool array.

    Parsed with highdicom (which validates the object). FRACTIONAL segments are thresholded
    at half of MaximumFractionalValue.
    """
    import highdicom as hd

    try:
        seg = hd.seg.Segmentation.from_dataset(seg_ds, copy=True)
    except (AttributeError, ValueError, KeyError) as exc:
        raise MaskError(f"not a readable DICOM SEG: {exc}") from exc
    number = _segment_number(seg, segment)
    _check_frame_of_reference(seg_ds, reference)
    depth, rows, columns = reference.shape
    if (int(seg.Rows), int(seg.Columns)) != (rows, columns):
        raise MaskError(
            f"SEG frames are {seg.Rows}x{seg.Columns}, the reference is {rows}x{columns}"
        )
    pixels = seg_ds.pixel_array
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    threshold = 0.5
    if seg.SegmentationType == "FRACTIONAL":
        threshold = float(seg.MaximumFractionalValue) / 2
    mask = np.zeros(reference.shape, dtype=bool)
    shared = seg_ds.get("SharedFunctionalGroupsSequence", [None])[0]

    def item(group: Dataset, keyword: str) -> Dataset | None:
        # A functional group sits in the frame's own item or, when equal for every frame
        # (e.g. one segment only), in the shared item.
        for owner in (group, shared):
            if owner is not None and owner.get(keyword):
                return owner[keyword].value[0]
        return None

    for index, group in enumerate(seg_ds.PerFrameFunctionalGroupsSequence):
        identification = item(group, "SegmentIdentificationSequence")
        if identification is None or int(identification.ReferencedSegmentNumber) != number:
            continue
        position = item(group, "PlanePositionSequence")
        if position is None:
            raise MaskError("SEG frame without Plane Position (Patient)")
        index_xyz = reference.patient_to_index(np.array(position.ImagePositionPatient, float))[0]
        k = int(np.rint(index_xyz[2]))
        if np.abs(index_xyz[:2]).max() > 0.01 or abs(index_xyz[2] - k) > 0.1:
            raise MaskError("SEG frame is not aligned with the reference grid")
        if not 0 <= k < depth:
            raise MaskError("SEG frame lies outside the reference series")
        mask[k] |= pixels[index] > threshold
    return mask


def mask_to_seg(
    mask: np.ndarray,
    reference_datasets: Sequence[Dataset],
    label: str,
    *,
    series_number: int = 900,
    manufacturer: str = "OncoBoard",
    software_version: str = "0.1.0",
) -> Dataset:
    """Export a bool ``[z, y, x]`` mask on the grid of ``reference_datasets`` as a BINARY SEG.

    ``reference_datasets`` are the single-frame instances of the series (any order: they are
    sorted along the slice normal, as `volume_from_datasets` does, so ``mask[z]`` pairs with
    the z-th slice). The segment is coded as a tumour (SCT 108369006) of tissue category.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    ordered = sorted_instances(reference_datasets)
    reference = volume_from_datasets(ordered)
    if mask.shape != reference.shape:
        raise MaskError(f"mask shape {mask.shape} differs from the series {reference.shape}")
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=label,
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tumor,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    with warnings.catch_warnings():
        # highdicom copies the patient's name from the source and warns when it has a single
        # component (common in anonymised data); the name is not ours to rewrite.
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person")
        seg = hd.seg.Segmentation(
            source_images=ordered,
            pixel_array=mask.astype(np.uint8),
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[description],
            series_instance_uid=generate_uid(),
            series_number=series_number,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer=manufacturer,
            manufacturer_model_name="imaging.dicom",
            software_versions=software_version,
            device_serial_number="0",
        )
    return seg


def nifti_to_mask(
    path: str | os.PathLike[str], reference: Volume, *, tolerance_mm: float = 0.01
) -> np.ndarray:
    """A NIfTI mask (non-zero = inside) checked against ``reference``'s grid -> bool array.

    Read with SimpleITK, which converts the NIfTI RAS affine to LPS. The size must match and
    origin, spacing and direction must agree within ``tolerance_mm`` (direction within 1e-3);
    otherwise `MaskError` names what differs. No resampling is done silently.
    """
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(os.fspath(path))
    except RuntimeError as exc:
        raise MaskError(f"cannot read NIfTI mask {path}") from exc
    mask = Volume.from_sitk(image)
    if mask.shape != reference.shape:
        raise MaskError(f"NIfTI mask shape {mask.shape} differs from reference {reference.shape}")
    if not np.allclose(mask.spacing, reference.spacing, atol=tolerance_mm):
        raise MaskError(f"NIfTI mask spacing {mask.spacing} differs from {reference.spacing}")
    if not np.allclose(mask.origin, reference.origin, atol=tolerance_mm):
        raise MaskError(f"NIfTI mask origin {mask.origin} differs from {reference.origin}")
    if not np.allclose(mask.direction, reference.direction, atol=1e-3):
        raise MaskError("NIfTI mask orientation differs from the reference")
    return mask.array > 0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice similarity 2|A∩B| / (|A|+|B|) of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = int(a.sum() + b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total
