"""De-identification of real CT series with their RTSTRUCTs (shared/data): one patient, one
UID map, one offset. UIDs stay consistent across the series and inside the structure set's
reference sequences, no original UID or patient ID survives, pixels are unchanged.

The IBSI CT phantom's structure set references its CT slices; STS_001's structure set
references SOP instances that are not among the CT files shipped (checked with pydicom), so
there the nested references are checked against the map itself."""

import hashlib
import io

import pytest
from pydicom import dcmread, dcmwrite

from imaging.dicom.deid import HmacUidMap, deidentify
from tests.shared_data import shared_data

KEY = b"shared-data-key-0123456789abcdef"


def write(ds) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def contour_image_references(rt):
    references = set()
    for frame in rt.ReferencedFrameOfReferenceSequence:
        for study in frame.RTReferencedStudySequence:
            for series in study.RTReferencedSeriesSequence:
                references |= {i.ReferencedSOPInstanceUID for i in series.ContourImageSequence}
    for contour_roi in rt.ROIContourSequence:
        for contour in contour_roi.get("ContourSequence", []):
            for image in contour.get("ContourImageSequence", []):
                references.add(image.ReferencedSOPInstanceUID)
    return references


def deidentify_case(image_dir, structure_set_path):
    images = [dcmread(path) for path in sorted(image_dir.glob("*.dcm"))]
    structure_set = dcmread(structure_set_path)
    uid_map = HmacUidMap(KEY)

    def run(ds):
        result = deidentify(ds, uid_map=uid_map, date_offset_days=-777, patient_pseudonym="ANON")
        assert not result.quarantined, result.reason
        return result.dataset

    return images, structure_set, [run(ds) for ds in images], run(structure_set)


def assert_series_consistent_and_nothing_original_left(images, structure_set, outs, out_rt):
    for attr in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert len({str(out[attr].value) for out in outs}) == 1
    assert len({out.SOPInstanceUID for out in outs}) == len(images)
    frame = out_rt.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == outs[0].FrameOfReferenceUID
    originals = [images[0].StudyInstanceUID, images[0].SeriesInstanceUID]
    originals += [ds.SOPInstanceUID for ds in images] + [structure_set.SOPInstanceUID]
    originals += sorted(contour_image_references(structure_set))
    for original, out in zip([*images, structure_set], [*outs, out_rt], strict=True):
        data = write(out)
        assert not [uid for uid in originals if uid.encode() in data]
        patient_id = str(original.PatientID)
        if len(patient_id) >= 3:  # the phantom's ID "1" matches unrelated bytes by chance
            assert patient_id.encode() not in data
        if "PixelData" in original:
            assert hashlib.sha256(out.PixelData).digest() == (
                hashlib.sha256(original.PixelData).digest()
            )


def test_ibsi_phantom_structure_set_still_references_every_deidentified_slice():
    root = shared_data("ibsi", "ibsi_1_ct_radiomics_phantom", "dicom")
    images, structure_set, outs, out_rt = deidentify_case(
        root / "image", next((root / "mask").glob("*.dcm"))
    )
    assert contour_image_references(structure_set) == {ds.SOPInstanceUID for ds in images}
    assert contour_image_references(out_rt) == {out.SOPInstanceUID for out in outs}
    series = out_rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert series.RTReferencedSeriesSequence[0].SeriesInstanceUID == outs[0].SeriesInstanceUID
    assert_series_consistent_and_nothing_original_left(images, structure_set, outs, out_rt)


# STS_001 stores an 18-character Study ID in an SH (max 16); pydicom warns when it reads it.
@pytest.mark.filterwarnings("ignore:The value length .* exceeds the maximum length:UserWarning")
def test_sts_001_structure_set_references_go_through_the_same_map():
    root = shared_data("ibsi_validation_sts_001", "dicom", "STS_001", "CT")
    images, structure_set, outs, out_rt = deidentify_case(root / "image", root / "mask" / "RS.dcm")
    fresh = HmacUidMap(KEY)
    expected = {fresh.get_or_create(uid) for uid in contour_image_references(structure_set)}
    assert expected
    assert contour_image_references(out_rt) == expected
    assert_series_consistent_and_nothing_original_left(images, structure_set, outs, out_rt)
