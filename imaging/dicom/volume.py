"""DICOM series -> 3D volume, with the geometry kept explicit.

Conventions (also in docs/imaging-library.md):

* ``Volume.array`` is indexed ``[z, y, x]``: z = slice (along the slice normal), y = image row,
  x = image column. This is the order pydicom gives ``pixel_array`` in and the order
  ``SimpleITK.GetArrayFromImage`` uses.
* ``spacing`` is ``(z, y, x)`` in mm, in the same order as the array axes.
* ``origin`` is ``(x, y, z)`` in DICOM patient coordinates (LPS: +x towards the patient's left,
  +y posterior, +z head), the centre of voxel ``[0, 0, 0]``.
* ``direction`` is a 3x3 matrix whose rows are unit vectors in LPS: row 0 the direction in which
  the column index x increases (DICOM "row cosine", first triplet of Image Orientation (Patient)),
  row 1 the direction in which the row index y increases ("column cosine", second triplet) and
  row 2 the direction in which the slice index z increases (the slice normal, row x column).

A voxel ``[k, j, i]`` lies at
``origin + i*sx*direction[0] + j*sy*direction[1] + k*sz*direction[2]``.

DICOM quirks handled here:

* Slices are ordered by Image Position (Patient) projected on the slice normal. File names and
  Instance Number are often in scanner order, reversed, or restarted per acquisition.
* Slice spacing comes from those positions. SliceThickness is the reconstructed thickness,
  which may differ from the distance between slice centres (overlapping or gapped recons).
* Rescale Slope / Intercept are applied per slice (they may differ between slices, e.g. PET).
* Enhanced (multi-frame) CT/MR/PET keep position, orientation, spacing and rescale in the
  Shared / Per-frame Functional Groups instead of the top-level dataset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

# Positions are written as decimal strings (DS, <= 16 characters), so rounding of a few
# micrometres is normal; beyond these tolerances the geometry is really different.
POSITION_TOLERANCE_MM = 0.01
ORIENTATION_TOLERANCE = 1e-4
# Relative deviation of a slice gap from the median gap: below "jitter" it is rounding and is
# ignored, up to "uneven" it is reported as a warning (mean spacing used), beyond it is an error.
SPACING_JITTER = 0.01
SPACING_UNEVEN = 0.10


class VolumeAssemblyError(ValueError):
    """The instances cannot be stacked into one regular 3D grid; the message says why."""


@dataclass
class Volume:
    """A 3D image on a regular grid in DICOM patient (LPS) space. See the module docstring."""

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = ""
    series_uid: str = ""
    frame_of_reference_uid: str = ""
    # SOP Instance UID of the instance each slice came from (one per slice; for multi-frame
    # objects the same UID repeats). Used to reference source images when exporting a SEG.
    source_uids: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        z, y, x = self.array.shape
        return (int(z), int(y), int(x))

    def index_to_patient_matrix(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous (x, y, z) voxel indices to LPS mm."""
        sz, sy, sx = self.spacing
        matrix = np.eye(4)
        matrix[:3, 0] = self.direction[0] * sx
        matrix[:3, 1] = self.direction[1] * sy
        matrix[:3, 2] = self.direction[2] * sz
        matrix[:3, 3] = self.origin
        return matrix

    def affine(self, *, ras: bool = True) -> np.ndarray:
        """NIfTI-style 4x4 affine for the array transposed to ``[x, y, z]`` (``array.T``).

        With ``ras=True`` (NIfTI/nibabel convention) the first two world axes are negated:
        RAS = diag(-1, -1, 1) @ LPS. With ``ras=False`` it maps to DICOM LPS.
        """
        matrix = self.index_to_patient_matrix()
        if ras:
            matrix = np.diag([-1.0, -1.0, 1.0, 1.0]) @ matrix
        return matrix

    def patient_to_index(self, points_lps: np.ndarray) -> np.ndarray:
        """Continuous (x, y, z) voxel indices of LPS points, shape (N, 3) -> (N, 3)."""
        points = np.atleast_2d(np.asarray(points_lps, dtype=float))
        inverse = np.linalg.inv(self.index_to_patient_matrix())
        homogeneous = np.c_[points, np.ones(len(points))]
        return (inverse @ homogeneous.T).T[:, :3]

    def index_to_patient(self, indices_xyz: np.ndarray) -> np.ndarray:
        """LPS mm of continuous (x, y, z) voxel indices, shape (N, 3) -> (N, 3)."""
        indices = np.atleast_2d(np.asarray(indices_xyz, dtype=float))
        matrix = self.index_to_patient_matrix()
        return (matrix[:3, :3] @ indices.T).T + matrix[:3, 3]

    def with_array(self, array: np.ndarray) -> Volume:
        """The same grid holding another array (e.g. a filtered image or a mask)."""
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} differs from volume {self.array.shape}")
        return Volume(
            array=array,
            spacing=self.spacing,
            origin=self.origin,
            direction=self.direction.copy(),
            modality=self.modality,
            series_uid=self.series_uid,
            frame_of_reference_uid=self.frame_of_reference_uid,
            source_uids=self.source_uids,
            warnings=list(self.warnings),
        )

    def to_sitk(self) -> Any:
        """SimpleITK image (LPS, index order x, y, z). SimpleITK's direction matrix holds the
        axis directions as *columns*, hence the transpose."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(self.array)
        image.SetSpacing((self.spacing[2], self.spacing[1], self.spacing[0]))
        image.SetOrigin(tuple(float(v) for v in self.origin))
        image.SetDirection(tuple(float(v) for v in np.asarray(self.direction).T.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image: Any, *, modality: str = "", series_uid: str = "") -> Volume:
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise ValueError(f"expected a 3D image, got {image.GetDimension()}D")
        sx, sy, sz = image.GetSpacing()
        direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3).T
        return cls(
            array=sitk.GetArrayFromImage(image),
            spacing=(float(sz), float(sy), float(sx)),
            origin=tuple(float(v) for v in image.GetOrigin()),  # type: ignore[arg-type]
            direction=direction,
            modality=modality,
            series_uid=series_uid,
        )


@dataclass
class _Frame:
    """One 2D plane of a series with its geometry, before stacking."""

    position: np.ndarray
    row_cosine: np.ndarray
    column_cosine: np.ndarray
    pixel_spacing: tuple[float, float]  # (row spacing = y, column spacing = x)
    shape: tuple[int, int]
    slope: float
    intercept: float
    series_uid: str
    sop_uid: str
    dataset: Dataset
    frame_index: int | None  # index into a multi-frame pixel array, None for single frame
    thickness: float | None


def _floats(value: Any, count: int, what: str, where: str) -> list[float]:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise VolumeAssemblyError(f"{where}: {what} is not numeric") from exc
    if len(numbers) != count:
        raise VolumeAssemblyError(f"{where}: {what} has {len(numbers)} values, expected {count}")
    return numbers


def _item(sequence_owner: Dataset | None, keyword: str) -> Dataset | None:
    if sequence_owner is None or keyword not in sequence_owner:
        return None
    sequence = sequence_owner[keyword].value
    return sequence[0] if sequence else None


def _frames_of(ds: Dataset, number: int) -> list[_Frame]:
    where = f"instance {number}"
    if "PixelData" not in ds:
        raise VolumeAssemblyError(f"{where} has no pixel data")
    rows, columns = int(ds.Rows), int(ds.Columns)
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise VolumeAssemblyError(f"{where} is not a greyscale image")
    series_uid = str(ds.get("SeriesInstanceUID", ""))
    sop_uid = str(ds.get("SOPInstanceUID", ""))
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None:
        if n_frames > 1:
            raise VolumeAssemblyError(
                f"{where} has {n_frames} frames but no per-frame functional groups; "
                "only Enhanced (functional-group) multi-frame objects are supported"
            )
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            if keyword not in ds or ds[keyword].value in (None, ""):
                raise VolumeAssemblyError(f"{where} lacks {keyword}")
        orientation = _floats(ds.ImageOrientationPatient, 6, "Image Orientation", where)
        thickness = ds.get("SliceThickness")
        return [
            _Frame(
                position=np.array(_floats(ds.ImagePositionPatient, 3, "Image Position", where)),
                row_cosine=np.array(orientation[:3]),
                column_cosine=np.array(orientation[3:]),
                pixel_spacing=tuple(_floats(ds.PixelSpacing, 2, "Pixel Spacing", where)),  # type: ignore[arg-type]
                shape=(rows, columns),
                slope=float(ds.get("RescaleSlope", 1) or 1),
                intercept=float(ds.get("RescaleIntercept", 0) or 0),
                series_uid=series_uid,
                sop_uid=sop_uid,
                dataset=ds,
                frame_index=None,
                thickness=float(thickness) if thickness not in (None, "") else None,
            )
        ]
    # Enhanced multi-frame: each attribute may sit in the shared group (same for all frames) or
    # in each frame's group; the per-frame value wins.
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    if len(per_frame) != n_frames:
        raise VolumeAssemblyError(
            f"{where}: {len(per_frame)} per-frame groups for {n_frames} frames"
        )
    frames = []
    for index, group in enumerate(per_frame):
        here = f"{where} frame {index + 1}"

        def pick(keyword: str, group: Dataset = group) -> Dataset | None:
            return _item(group, keyword) or _item(shared, keyword)

        plane_position = pick("PlanePositionSequence")
        plane_orientation = pick("PlaneOrientationSequence")
        measures = pick("PixelMeasuresSequence")
        if plane_position is None or plane_orientation is None or measures is None:
            raise VolumeAssemblyError(f"{here} lacks plane position, orientation or measures")
        orientation = _floats(
            plane_orientation.ImageOrientationPatient, 6, "Image Orientation", here
        )
        transform = pick("PixelValueTransformationSequence")
        thickness = measures.get("SliceThickness")
        frames.append(
            _Frame(
                position=np.array(
                    _floats(plane_position.ImagePositionPatient, 3, "Image Position", here)
                ),
                row_cosine=np.array(orientation[:3]),
                column_cosine=np.array(orientation[3:]),
                pixel_spacing=tuple(_floats(measures.PixelSpacing, 2, "Pixel Spacing", here)),  # type: ignore[arg-type]
                shape=(rows, columns),
                slope=float(transform.get("RescaleSlope", 1) or 1) if transform else 1.0,
                intercept=float(transform.get("RescaleIntercept", 0) or 0) if transform else 0.0,
                series_uid=series_uid,
                sop_uid=sop_uid,
                dataset=ds,
                frame_index=index,
                thickness=float(thickness) if thickness not in (None, "") else None,
            )
        )
    return frames


def _check_consistent(frames: Sequence[_Frame]) -> None:
    first = frames[0]
    series = {f.series_uid for f in frames}
    if len(series) > 1:
        raise VolumeAssemblyError(
            f"mixed series: instances belong to {len(series)} different Series Instance UIDs"
        )
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise VolumeAssemblyError(f"mixed shapes: slices have sizes {sorted(shapes)} (rows, cols)")
    for f in frames:
        if not (
            np.allclose(f.row_cosine, first.row_cosine, atol=ORIENTATION_TOLERANCE)
            and np.allclose(f.column_cosine, first.column_cosine, atol=ORIENTATION_TOLERANCE)
        ):
            raise VolumeAssemblyError(
                "mixed orientations: Image Orientation (Patient) differs between slices "
                "(e.g. a localiser or a second plane in the same series)"
            )
        if not np.allclose(f.pixel_spacing, first.pixel_spacing, atol=1e-4):
            raise VolumeAssemblyError("mixed pixel spacing between slices")


def _slice_spacing(frames: Sequence[_Frame], normal: np.ndarray, warnings: list[str]) -> float:
    distances = np.array([float(f.position @ normal) for f in frames])
    if len(frames) == 1:
        thickness = frames[0].thickness or float(frames[0].dataset.get("SpacingBetweenSlices", 0))
        warnings.append("single slice: slice spacing taken from SliceThickness")
        return float(thickness) if thickness else 1.0
    gaps = np.diff(distances)
    if np.any(gaps < POSITION_TOLERANCE_MM):
        at = int(np.argmin(gaps))
        raise VolumeAssemblyError(
            f"duplicate positions: slices {at} and {at + 1} share the position "
            f"{distances[at]:.3f} mm along the normal (repeated acquisition or mixed series?)"
        )
    median = float(np.median(gaps))
    deviation = np.abs(gaps - median) / median
    worst = int(np.argmax(deviation))
    if deviation[worst] > SPACING_UNEVEN:
        ratio = gaps[worst] / median
        if ratio > 1.5 and abs(ratio - round(ratio)) < SPACING_UNEVEN:
            raise VolumeAssemblyError(
                f"gap: about {round(ratio) - 1} slice(s) missing between slices {worst} and "
                f"{worst + 1} ({gaps[worst]:.3f} mm where the spacing is {median:.3f} mm)"
            )
        raise VolumeAssemblyError(
            f"uneven spacing: slice gaps range {gaps.min():.3f}-{gaps.max():.3f} mm "
            f"(median {median:.3f} mm)"
        )
    if deviation[worst] > SPACING_JITTER:
        warnings.append(
            f"uneven spacing: gaps range {gaps.min():.3f}-{gaps.max():.3f} mm; "
            f"the mean {gaps.mean():.3f} mm is used"
        )
    # The in-plane position must not drift from slice to slice: a drift means a gantry tilt or
    # a sheared stack that a (z, y, x) grid with an orthogonal direction cannot represent.
    offsets = np.array([f.position - (f.position @ normal) * normal for f in frames])
    drift = float(np.max(np.linalg.norm(offsets - offsets[0], axis=1)))
    if drift > max(POSITION_TOLERANCE_MM, 0.01 * min(frames[0].pixel_spacing)):
        raise VolumeAssemblyError(
            f"slices are not stacked along their normal (in-plane drift {drift:.3f} mm: "
            "gantry tilt or sheared acquisition); resample before use"
        )
    reconstructed = frames[0].thickness
    if reconstructed and abs(reconstructed - gaps.mean()) > 0.05 * gaps.mean():
        warnings.append(
            f"SliceThickness {reconstructed:.3f} mm differs from the slice spacing "
            f"{gaps.mean():.3f} mm (overlapping or gapped reconstruction); spacing used"
        )
    return float(gaps.mean())


def volume_from_datasets(datasets: Iterable[Dataset], *, dtype: Any = np.float32) -> Volume:
    """Stack the image instances of one series into a `Volume`.

    Raises `VolumeAssemblyError` for anything that does not form one regular grid (mixed
    series, shapes, orientations or pixel spacing; duplicate positions; missing slices; uneven
    spacing beyond 10 %); milder irregularities are listed in ``Volume.warnings``.
    Pixel values are ``stored * RescaleSlope + RescaleIntercept`` (HU for CT) as ``dtype``.
    """
    frames: list[_Frame] = []
    for number, ds in enumerate(datasets):
        frames.extend(_frames_of(ds, number))
    if not frames:
        raise VolumeAssemblyError("no image instances")
    _check_consistent(frames)
    first = frames[0]
    row, column = first.row_cosine, first.column_cosine
    normal = np.cross(row, column)
    if abs(np.linalg.norm(normal) - 1) > 1e-3 or abs(row @ column) > 1e-3:
        raise VolumeAssemblyError("Image Orientation (Patient) is not two orthonormal vectors")
    normal = normal / np.linalg.norm(normal)
    frames.sort(key=lambda f: float(f.position @ normal))
    warnings: list[str] = []
    slice_spacing = _slice_spacing(frames, normal, warnings)
    modality = str(first.dataset.get("Modality", ""))
    if modality == "CT" and "RescaleIntercept" not in first.dataset and first.frame_index is None:
        warnings.append("CT without Rescale Intercept: stored values used as HU")

    if np.issubdtype(dtype, np.integer) and any(
        f.slope != int(f.slope) or f.intercept != int(f.intercept) for f in frames
    ):
        # e.g. PET (slopes like 0.0374) or MR with fractional scaling: truncation would be silent
        raise VolumeAssemblyError("fractional rescale slope/intercept: use a float dtype")
    array = np.empty((len(frames), *first.shape), dtype=dtype)
    decoded: dict[int, np.ndarray] = {}
    for index, frame in enumerate(frames):
        key = id(frame.dataset)
        if key not in decoded:
            try:
                decoded[key] = frame.dataset.pixel_array
            except (ValueError, RuntimeError, NotImplementedError, AttributeError) as exc:
                # truncated pixel data, unsupported compression without a decoder plugin, ...
                raise VolumeAssemblyError(
                    f"slice {index}: pixel data cannot be decoded ({type(exc).__name__})"
                ) from exc
        pixels = decoded[key]
        if frame.frame_index is not None:
            pixels = pixels[frame.frame_index] if pixels.ndim == 3 else pixels
        if frame.slope != 1 or frame.intercept != 0:
            array[index] = pixels * frame.slope + frame.intercept
        else:
            array[index] = pixels
    return Volume(
        array=array,
        spacing=(slice_spacing, first.pixel_spacing[0], first.pixel_spacing[1]),
        origin=tuple(float(v) for v in frames[0].position),  # type: ignore[arg-type]
        direction=np.vstack([row, column, normal]),
        modality=modality,
        series_uid=first.series_uid,
        frame_of_reference_uid=str(first.dataset.get("FrameOfReferenceUID", "")),
        source_uids=tuple(f.sop_uid for f in frames),
        warnings=warnings,
    )


def sorted_instances(datasets: Iterable[Dataset]) -> list[Dataset]:
    """Single-frame instances in the slice order `volume_from_datasets` uses."""
    items = list(datasets)
    if not items:
        return items
    orientation = [float(v) for v in items[0].ImageOrientationPatient]
    normal = np.cross(orientation[:3], orientation[3:])
    return sorted(items, key=lambda ds: float(np.array(ds.ImagePositionPatient, float) @ normal))


def read_series_dir(
    path: str | os.PathLike[str], *, series_uid: str | None = None
) -> list[Dataset]:
    """The image instances of one series in a directory (not recursive).

    Non-DICOM files and non-image objects (RTSTRUCT, SEG, SR) are skipped. With several image
    series present, ``series_uid`` must pick one, else `VolumeAssemblyError` lists how many.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise VolumeAssemblyError(f"not a directory: {directory}")
    by_series: dict[str, list[Dataset]] = {}
    for file in sorted(p for p in directory.iterdir() if p.is_file()):
        try:
            ds = pydicom.dcmread(file)
        except (InvalidDicomError, OSError, EOFError):
            continue
        if "PixelData" not in ds or ds.get("Modality") in ("SEG", "RTSTRUCT", "SR"):
            continue
        by_series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    if not by_series:
        raise VolumeAssemblyError(f"no DICOM image instances in {directory}")
    if series_uid is not None:
        if series_uid not in by_series:
            raise VolumeAssemblyError(f"series {series_uid} not found in {directory}")
        return by_series[series_uid]
    if len(by_series) > 1:
        raise VolumeAssemblyError(
            f"mixed series: {directory} holds {len(by_series)} image series; pick one by UID"
        )
    return next(iter(by_series.values()))


def volume_from_dir(
    path: str | os.PathLike[str], *, series_uid: str | None = None, dtype: Any = np.float32
) -> Volume:
    """`volume_from_datasets` over the image instances of a directory (see `read_series_dir`)."""
    return volume_from_datasets(read_series_dir(path, series_uid=series_uid), dtype=dtype)
