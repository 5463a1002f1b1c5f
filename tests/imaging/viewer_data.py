"""A synthetic CT series with a structure set, stored and indexed the way ingest stores them
(files in default storage, Study -> Series -> Instance rows), for the viewer's tests."""

from __future__ import annotations

import hashlib
import io
import uuid

import numpy as np
import pydicom
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from imaging.dicom.synthetic import synthetic_series
from imaging.models import Instance, Series, Study
from oncology.models import Patient

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
SHAPE = (10, 32, 48)  # z, y, x
SPACING = (2.0, 0.5, 0.5)  # mm, z y x
ORIGIN = (-12.0, -8.0, 100.0)  # LPS of voxel [0, 0, 0]
# The lesion: x index 10..19, y index 8..15 on slices 3..6 (voxel centres inside the contour)
LESION = (slice(3, 7), slice(8, 16), slice(10, 20))


def synthetic_hu() -> np.ndarray:
    """HU = 10 * (x - 24) + 5 * z: a ramp across columns, shifted per slice."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    return (10 * (x - 24) + 5 * z).astype(np.int16)


def _bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _store(series: Series, ds: Dataset) -> Instance:
    data = _bytes(ds)
    name = default_storage.save(f"imaging/test/{uuid.uuid4().hex}.dcm", ContentFile(data))
    return Instance.objects.create(
        series=series,
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=str(ds.SOPClassUID),
        storage_name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        transfer_syntax=str(ds.file_meta.TransferSyntaxUID),
        # as ingest indexes it (imaging/services/dicom_read.py); the viewer's preview needs it
        image_position=[float(v) for v in ds.ImagePositionPatient]
        if "ImagePositionPatient" in ds
        else None,
    )


def _rtstruct(image: Dataset, roi_name: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.StudyInstanceUID = image.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = image.FrameOfReferenceUID
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = image.SeriesInstanceUID
    study_ref = Dataset()
    study_ref.ReferencedSOPInstanceUID = image.StudyInstanceUID
    study_ref.RTReferencedSeriesSequence = Sequence([series_ref])
    frame_ref = Dataset()
    frame_ref.FrameOfReferenceUID = image.FrameOfReferenceUID
    frame_ref.RTReferencedStudySequence = Sequence([study_ref])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame_ref])
    roi = Dataset()
    roi.ROINumber = 1
    roi.ROIName = roi_name
    ds.StructureSetROISequence = Sequence([roi])
    zs, ys, xs = LESION
    contours = []
    for k in range(zs.start, zs.stop):
        # a rectangle through the voxel edges around the lesion's voxel centres
        x0 = ORIGIN[0] + (xs.start - 0.5) * SPACING[2]
        x1 = ORIGIN[0] + (xs.stop - 0.5) * SPACING[2]
        y0 = ORIGIN[1] + (ys.start - 0.5) * SPACING[1]
        y1 = ORIGIN[1] + (ys.stop - 0.5) * SPACING[1]
        z = ORIGIN[2] + k * SPACING[0]
        contour = Dataset()
        contour.ContourGeometricType = "CLOSED_PLANAR"
        contour.NumberOfContourPoints = 4
        contour.ContourData = [x0, y0, z, x1, y0, z, x1, y1, z, x0, y1, z]
        contours.append(contour)
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 1
    roi_contour.ContourSequence = Sequence(contours)
    ds.ROIContourSequence = Sequence([roi_contour])
    return ds


def store_ct_with_structure_set(patient: Patient, *, roi_name: str = "GTV-1") -> Series:
    """The synthetic CT (and, in another series of its study, an RTSTRUCT outlining LESION)."""
    images = synthetic_series(synthetic_hu() + 1024, spacing=SPACING, origin=ORIGIN)
    first = images[0]
    study = Study.objects.create(
        patient=patient,
        institution=patient.institution,
        study_instance_uid=str(first.StudyInstanceUID),
    )
    series = Series.objects.create(
        study=study,
        series_instance_uid=str(first.SeriesInstanceUID),
        modality="CT",
        frame_of_reference_uid=str(first.FrameOfReferenceUID),
        instance_count=len(images),
    )
    for ds in images:
        _store(series, ds)
    structure_set = _rtstruct(first, roi_name)
    rt_series = Series.objects.create(
        study=study,
        series_instance_uid=str(structure_set.SeriesInstanceUID),
        modality="RTSTRUCT",
        frame_of_reference_uid=str(first.FrameOfReferenceUID),
        instance_count=1,
    )
    _store(rt_series, structure_set)
    return series
