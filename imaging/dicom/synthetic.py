"""Synthetic DICOM series written with pydicom, for tests and benchmarks (no patient data).

`synthetic_series` makes single-frame CT/MR instances with chosen geometry; `enhanced_from_series`
packs them into one Enhanced (multi-frame) object with per-frame functional groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"


def _base(sop_class: str, series_uid: str, study_uid: str, frame_uid: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = "Synthetic^Phantom"
    ds.PatientID = "SYNTH-0001"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    # Type 2 attributes (present, may be empty) that DICOM writers such as highdicom require
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = 1
    ds.Manufacturer = "synthetic"
    ds.Modality = "CT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def synthetic_series(
    stored: np.ndarray,
    *,
    spacing: tuple[float, float, float] = (2.0, 0.5, 0.5),
    origin: Sequence[float] = (-100.0, -120.0, 30.0),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    slope: float = 1.0,
    intercept: float = -1024.0,
    slice_thickness: float | None = None,
) -> list[Dataset]:
    """One instance per ``stored[k]`` (int16 stored values), slice k at
    ``origin + k * spacing[0] * normal``; Instance Numbers count backwards on purpose so that
    ordering by them would be wrong."""
    stored = np.asarray(stored, dtype=np.int16)
    row, column = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row, column)
    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    datasets = []
    for k, plane in enumerate(stored):
        ds = _base(CT_IMAGE_STORAGE, series_uid, study_uid, frame_uid)
        ds.InstanceNumber = len(stored) - k
        ds.ImagePositionPatient = [
            round(float(v), 6) for v in np.asarray(origin) + k * spacing[0] * normal
        ]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = slice_thickness if slice_thickness is not None else spacing[0]
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.Rows, ds.Columns = plane.shape
        ds.PixelData = plane.tobytes()
        datasets.append(ds)
    return datasets


def enhanced_from_series(datasets: Sequence[Dataset]) -> Dataset:
    """Pack single-frame instances into one Enhanced CT object: orientation, pixel measures and
    rescale in the shared functional groups, the position of each frame in its own group."""
    first = datasets[0]
    ds = _base(
        ENHANCED_CT_IMAGE_STORAGE,
        str(first.SeriesInstanceUID),
        str(first.StudyInstanceUID),
        str(first.FrameOfReferenceUID),
    )
    ds.Rows, ds.Columns = first.Rows, first.Columns
    ds.NumberOfFrames = len(datasets)
    shared = Dataset()
    orientation = Dataset()
    orientation.ImageOrientationPatient = first.ImageOrientationPatient
    measures = Dataset()
    measures.PixelSpacing = first.PixelSpacing
    measures.SliceThickness = first.SliceThickness
    transform = Dataset()
    transform.RescaleSlope = first.RescaleSlope
    transform.RescaleIntercept = first.RescaleIntercept
    transform.RescaleType = "HU"
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PixelValueTransformationSequence = DicomSequence([transform])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    groups = []
    for source in datasets:
        position = Dataset()
        position.ImagePositionPatient = source.ImagePositionPatient
        group = Dataset()
        group.PlanePositionSequence = DicomSequence([position])
        groups.append(group)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(groups)
    ds.PixelData = b"".join(bytes(source.PixelData) for source in datasets)
    return ds
