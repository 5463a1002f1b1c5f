"""De-identification (issue 3, section 5): a planted sentinel never survives, UIDs stay
consistent across a series and a re-send, date intervals are kept, pixel data is untouched,
the method is recorded and burned-in annotation is quarantined."""

import copy
import hashlib
import io
import re
from datetime import date

import numpy as np
import pytest
from pydicom import Dataset, dcmwrite
from pydicom.datadict import dictionary_VR
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from imaging.dicom.deid import (
    HmacUidMap,
    InMemoryUidMap,
    ProfileOptions,
    burned_in_annotation_reason,
    deidentify,
    derive_date_offset_days,
    derive_pseudonym,
    resolve_action,
    shift_date,
    shift_datetime,
)
from imaging.dicom.deid_profile import TABLE_E1_1

KEY = b"institution-secret-key-0123456789"
SENTINEL = "SENTINEL-PHI-7Q"
SENTINEL_CS = "SENTINEL_PHI_7Q"  # CS allows neither lower case nor "-"
TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "AE", "UR", "CS"}
BINARY_VRS = {"OB", "OW", "UN", "OB or OW"}
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def ct_slice(index: int, *, study="1.2.3.4.100", series="1.2.3.4.200", frame="1.2.3.4.300"):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.3.4.500.{index}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.SourceApplicationEntityTitle = "HOSPITALPACS"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = f"1.2.3.4.500.{index}"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.FrameOfReferenceUID = frame
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN-0042"
    ds.PatientBirthDate = "19600215"
    ds.PatientSex = "F"
    ds.PatientAge = "064Y"
    ds.PatientWeight = "71.5"
    ds.StudyDate = "20240301"
    ds.StudyTime = "101500"
    ds.SeriesDate = "20240301"
    ds.ContentDate = "20240302"
    ds.AcquisitionDateTime = "20240301101733.250000+0100"
    ds.InstitutionName = "General Hospital"
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.InstanceNumber = index + 1
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = (np.arange(64, dtype=np.uint16) * (index + 1)).tobytes()
    return ds


def write(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def run(ds, *, uid_map=None, offset=-400, options=None):
    return deidentify(
        ds,
        uid_map=uid_map or HmacUidMap(KEY),
        date_offset_days=offset,
        patient_pseudonym="ANON-0001",
        profile_options=options,
    )


def plant(ds: Dataset, tag: int) -> None:
    """Put the sentinel in attribute `tag` in a form its VR can hold."""
    vr = dictionary_VR(tag)
    if vr == "SQ":
        item = Dataset()
        item.CodeMeaning = SENTINEL  # not in the table: only the sequence's action removes it
        item.PersonName = SENTINEL
        ds.add_new(tag, "SQ", Sequence([item]))
    elif vr == "CS":
        ds.add_new(tag, vr, SENTINEL_CS)
    elif vr in TEXT_VRS:
        ds.add_new(tag, vr, SENTINEL)
    elif vr in BINARY_VRS:
        ds.add_new(tag, "OB", SENTINEL.encode() + b" ")


def plantable_tags():
    """Table rows that can hold the sentinel and whose action does not keep the value."""
    for tag in TABLE_E1_1:
        if tag >> 16 < 0x0008:  # command and file meta groups cannot sit in a dataset
            continue
        vr = dictionary_VR(tag)
        action = resolve_action(tag, vr, ProfileOptions())
        if action in ("K", "U*"):
            continue
        if vr in TEXT_VRS | BINARY_VRS | {"SQ"}:
            yield tag


def planted_everywhere() -> Dataset:
    ds = ct_slice(0)
    for tag in plantable_tags():
        plant(ds, tag)
    # Nested: an item of a sequence the table does not list holds every attribute again, one
    # level deeper too, and a referenced-image item (X/Z/U*) holds a patient name.
    nested = Dataset()
    deeper = Dataset()
    for tag in plantable_tags():
        plant(nested, tag)
        plant(deeper, tag)
    nested.ReferencedSOPInstanceUID = "1.2.3.4.999"
    nested.add_new(0x00081115, "SQ", Sequence([deeper]))  # ReferencedSeriesSequence
    ds.ReferencedSeriesSequence = Sequence([nested])
    reference = Dataset()
    reference.ReferencedSOPClassUID = CTImageStorage
    reference.ReferencedSOPInstanceUID = "1.2.3.4.500.7"
    reference.PatientName = SENTINEL
    ds.ReferencedImageSequence = Sequence([reference])
    # Private tags: a creator named like the sentinel, a value, a private sequence, and a
    # private tag inside a standard sequence item.
    block = ds.private_block(0x0009, SENTINEL, create=True)
    block.add_new(0x01, "LO", SENTINEL)
    private_item = Dataset()
    private_item.PatientComments = SENTINEL
    block.add_new(0x02, "SQ", Sequence([private_item]))
    nested.private_block(0x0011, "ACME 1.0", create=True).add_new(0x10, "LT", SENTINEL)
    return ds


def test_sentinel_in_every_profile_attribute_nested_and_private_never_reaches_the_output():
    ds = planted_everywhere()
    planted = write(ds)
    assert planted.count(SENTINEL.encode()) > 500  # the plant really happened
    result = run(ds)
    assert not result.quarantined
    output = write(result.dataset)
    assert SENTINEL.encode() not in output
    assert SENTINEL_CS.encode() not in output
    assert b"Doe^Jane" not in output
    assert b"MRN-0042" not in output
    assert b"General Hospital" not in output
    assert b"HOSPITALPACS" not in output


def test_deidentify_never_modifies_its_input():
    ds = planted_everywhere()
    before = write(copy.deepcopy(ds))
    run(ds)
    assert write(ds) == before


def test_pixel_data_bytes_are_unchanged():
    ds = ct_slice(3)
    out = run(ds).dataset
    assert hashlib.sha256(out.PixelData).digest() == hashlib.sha256(ds.PixelData).digest()


def test_series_uids_map_to_the_same_new_values_for_every_instance():
    uid_map = HmacUidMap(KEY)
    outs = [run(ct_slice(i), uid_map=uid_map).dataset for i in range(3)]
    for attr in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        values = {str(out[attr].value) for out in outs}
        assert len(values) == 1
        assert values != {str(ct_slice(0)[attr].value)}
    assert len({out.SOPInstanceUID for out in outs}) == 3
    for out in outs:
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_new_uids_are_valid_2_25_uids():
    out = run(ct_slice(0)).dataset
    for attr in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        uid = str(out[attr].value)
        assert uid.startswith("2.25.")
        assert len(uid) <= 64
        assert UID_RE.match(uid)
    assert out.SOPClassUID == CTImageStorage  # class UIDs are not instance identity


def test_a_resend_with_the_same_key_maps_identically_and_another_key_does_not():
    first = run(ct_slice(1), uid_map=HmacUidMap(KEY)).dataset
    again = run(ct_slice(1), uid_map=HmacUidMap(KEY)).dataset
    other = run(ct_slice(1), uid_map=HmacUidMap(b"another-institution-key-000000")).dataset
    assert again.SOPInstanceUID == first.SOPInstanceUID
    assert again.StudyInstanceUID == first.StudyInstanceUID
    assert other.SOPInstanceUID != first.SOPInstanceUID


def test_in_memory_map_is_consistent_and_restorable_from_its_saved_form():
    uid_map = InMemoryUidMap()
    first = uid_map.get_or_create("1.2.3")
    assert uid_map.get_or_create("1.2.3\x00") == first
    assert uid_map.get_or_create("1.2.4") != first
    restored = InMemoryUidMap(uid_map.as_dict())
    assert restored.get_or_create("1.2.3") == first


def test_references_inside_sequences_follow_the_referenced_instances():
    uid_map = HmacUidMap(KEY)
    slices = [ct_slice(i) for i in range(2)]
    outs = [run(s, uid_map=uid_map).dataset for s in slices]

    # An RTSTRUCT referencing both slices through the nested reference sequences.
    rt = Dataset()
    rt.SOPClassUID = RTSTRUCT_STORAGE
    rt.SOPInstanceUID = "1.2.3.4.900"
    rt.StudyInstanceUID = slices[0].StudyInstanceUID
    rt.SeriesInstanceUID = "1.2.3.4.901"
    rt.Modality = "RTSTRUCT"
    contour_images = []
    for s in slices:
        item = Dataset()
        item.ReferencedSOPClassUID = CTImageStorage
        item.ReferencedSOPInstanceUID = s.SOPInstanceUID
        contour_images.append(item)
    series_item = Dataset()
    series_item.SeriesInstanceUID = slices[0].SeriesInstanceUID
    series_item.ContourImageSequence = Sequence(contour_images)
    study_item = Dataset()
    study_item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study_item.ReferencedSOPInstanceUID = slices[0].StudyInstanceUID
    study_item.RTReferencedSeriesSequence = Sequence([series_item])
    frame_item = Dataset()
    frame_item.FrameOfReferenceUID = slices[0].FrameOfReferenceUID
    frame_item.RTReferencedStudySequence = Sequence([study_item])
    rt.ReferencedFrameOfReferenceSequence = Sequence([frame_item])
    roi = Dataset()
    roi.ROINumber = 1
    roi.ReferencedFrameOfReferenceUID = slices[0].FrameOfReferenceUID
    rt.StructureSetROISequence = Sequence([roi])
    # A SEG-style reference: Referenced Series Sequence > Referenced Instance Sequence.
    instance_item = Dataset()
    instance_item.ReferencedSOPClassUID = CTImageStorage
    instance_item.ReferencedSOPInstanceUID = slices[1].SOPInstanceUID
    seg_series = Dataset()
    seg_series.SeriesInstanceUID = slices[1].SeriesInstanceUID
    seg_series.ReferencedInstanceSequence = Sequence([instance_item])
    rt.ReferencedSeriesSequence = Sequence([seg_series])

    out_rt = run(rt, uid_map=uid_map).dataset
    frame_out = out_rt.ReferencedFrameOfReferenceSequence[0]
    assert frame_out.FrameOfReferenceUID == outs[0].FrameOfReferenceUID
    study_out = frame_out.RTReferencedStudySequence[0]
    assert study_out.ReferencedSOPInstanceUID == outs[0].StudyInstanceUID
    assert study_out.ReferencedSOPClassUID == "1.2.840.10008.3.1.2.3.1"
    series_out = study_out.RTReferencedSeriesSequence[0]
    assert series_out.SeriesInstanceUID == outs[0].SeriesInstanceUID
    referenced = [i.ReferencedSOPInstanceUID for i in series_out.ContourImageSequence]
    assert referenced == [o.SOPInstanceUID for o in outs]
    assert out_rt.StructureSetROISequence[0].ReferencedFrameOfReferenceUID == (
        outs[0].FrameOfReferenceUID
    )
    seg_out = out_rt.ReferencedSeriesSequence[0]
    assert seg_out.SeriesInstanceUID == outs[1].SeriesInstanceUID
    assert seg_out.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == outs[1].SOPInstanceUID
    assert out_rt.StudyInstanceUID == outs[0].StudyInstanceUID


def test_referenced_image_sequence_keeps_its_items_with_remapped_uids():
    uid_map = HmacUidMap(KEY)
    target = run(ct_slice(5), uid_map=uid_map).dataset
    ds = ct_slice(6)
    item = Dataset()
    item.ReferencedSOPClassUID = CTImageStorage
    item.ReferencedSOPInstanceUID = ct_slice(5).SOPInstanceUID
    ds.ReferencedImageSequence = Sequence([item])
    out = run(ds, uid_map=uid_map).dataset
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == target.SOPInstanceUID


def days_between(a: str, b: str) -> int:
    def parse(text):
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))

    return (parse(a) - parse(b)).days


def test_every_date_moves_by_the_same_offset_and_times_of_day_stay():
    ds = ct_slice(0)
    out = run(ds, offset=-400).dataset
    for attr in ("StudyDate", "SeriesDate", "ContentDate"):
        assert days_between(str(out[attr].value), str(ds[attr].value)) == -400
    assert days_between(out.ContentDate, out.StudyDate) == 1  # the interval survives
    # 2024-03-01 - 400 days = 2023-01-26 (366 days back to 2023-03-01, then 34 more)
    assert out.AcquisitionDateTime == "20230126101733.250000+0100"
    assert out.StudyTime == ds.StudyTime


def test_birth_date_is_emptied_by_default_as_table_e1_1_says():
    out = run(ct_slice(0)).dataset
    assert out.PatientBirthDate == ""


def test_with_birth_date_shifting_the_age_at_the_study_is_kept():
    ds = ct_slice(0)
    out = run(ds, offset=-1234, options=ProfileOptions(shift_birth_date=True)).dataset
    assert out.PatientBirthDate != ds.PatientBirthDate
    assert days_between(out.StudyDate, out.PatientBirthDate) == days_between(
        ds.StudyDate, ds.PatientBirthDate
    )
    assert "Birth date shifted with the other dates (local)" in out.DeidentificationMethod


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240301", -1, "20240229"),  # leap day
        ("20000101", -1, "19991231"),
        ("2004.01.19", 10, "20040129"),  # ACR-NEMA form
        ("20240101-20240131", -31, "20231201-20231231"),  # a range keeps its length
        ("2024", -1, None),  # a partial date cannot be shifted
        ("", -5, ""),
    ],
)
def test_shift_date_moves_whole_days(value, days, expected):
    assert shift_date(value, days) == expected


def test_shift_datetime_keeps_time_fraction_and_offset():
    assert shift_datetime("20240301235959.5-0500", 1) == "20240302235959.5-0500"
    assert shift_datetime("202403", 1) is None


def test_derived_offset_and_pseudonym_are_stable_per_patient_and_differ_between_patients():
    assert derive_date_offset_days(KEY, "MRN-1") == derive_date_offset_days(KEY, "MRN-1")
    assert derive_pseudonym(KEY, "MRN-1") == derive_pseudonym(KEY, "MRN-1")
    assert derive_pseudonym(KEY, "MRN-1") != derive_pseudonym(KEY, "MRN-2")
    offsets = {derive_date_offset_days(KEY, f"MRN-{i}", max_days=365) for i in range(200)}
    assert all(-365 <= o <= -1 for o in offsets)
    assert len(offsets) > 100
    assert "MRN" not in derive_pseudonym(KEY, "MRN-1")


def test_identity_removed_and_method_codes_are_recorded():
    out = run(ct_slice(0)).dataset
    assert out.PatientIdentityRemoved == "YES"
    codes = [
        (i.CodeValue, i.CodingSchemeDesignator) for i in out.DeidentificationMethodCodeSequence
    ]
    assert codes == [("113100", "DCM"), ("113107", "DCM")]
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert all(len(value) <= 64 for value in out.DeidentificationMethod)
    assert out.PatientName == "ANON-0001"
    assert out.PatientID == "ANON-0001"


def test_patient_characteristics_are_removed_unless_the_option_retains_them():
    default = run(ct_slice(0)).dataset
    assert "PatientAge" not in default
    assert "PatientWeight" not in default
    assert default.PatientSex == ""
    kept = run(ct_slice(0), options=ProfileOptions(retain_patient_characteristics=True)).dataset
    assert (kept.PatientAge, kept.PatientSex, kept.PatientWeight) == ("064Y", "F", 71.5)
    assert "113108" in [i.CodeValue for i in kept.DeidentificationMethodCodeSequence]


def test_overlays_curves_and_private_tags_are_removed():
    ds = ct_slice(0)
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60003000, "OW", b"\x01" * 8)
    ds.add_new(0x50000005, "US", 1)
    ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", b"xx")
    result = run(ds)
    remaining = [elem.tag for elem in result.dataset]
    assert not [t for t in remaining if t.is_private or t.group in (0x6000, 0x5000)]
    assert result.actions["X:private"] == 2
    assert result.actions["X:curve-overlay"] == 3


def test_file_meta_is_replaced_and_carries_no_source_application():
    out = run(ct_slice(0)).dataset
    assert "SourceApplicationEntityTitle" not in out.file_meta
    data = write(out)
    assert data[:128] == b"\x00" * 128
    assert data[128:132] == b"DICM"


@pytest.mark.parametrize(
    ("changes", "reason_part"),
    [
        ({"BurnedInAnnotation": "YES"}, "Burned In Annotation"),
        ({"Modality": "US"}, "modality US"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7"}, "Secondary Capture"),
        ({"ConversionType": "WSD"}, "Conversion Type"),
        ({"ImageType": ["DERIVED", "SECONDARY", "SCREEN SAVE"]}, "screen capture"),
    ],
)
def test_images_with_or_likely_to_have_burned_in_annotation_are_quarantined(changes, reason_part):
    ds = ct_slice(0)
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    result = run(ds)
    assert result.quarantined
    assert result.dataset is None
    assert reason_part in result.reason
    assert "Doe" not in result.reason


def test_derived_reformats_and_objects_without_pixels_are_not_quarantined():
    reformat = ct_slice(0)
    reformat.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    assert burned_in_annotation_reason(reformat) is None
    structure_set = Dataset()
    structure_set.Modality = "OT"
    assert burned_in_annotation_reason(structure_set) is None


def test_invalid_pseudonym_is_refused():
    with pytest.raises(ValueError, match="pseudonym"):
        deidentify(ct_slice(0), uid_map=InMemoryUidMap(), date_offset_days=0, patient_pseudonym="")


def test_a_uid_planted_in_every_uid_row_of_the_table_is_replaced_at_every_depth():
    ds = ct_slice(0)
    nested = Dataset()
    planted = []
    for tag, row in TABLE_E1_1.items():
        if tag >> 16 < 0x0008 or dictionary_VR(tag) != "UI" or row.basic not in ("U", "D"):
            continue
        for target in (ds, nested):
            uid = f"1.2.826.0.1.999.{1000 + len(planted)}"
            target.add_new(tag, "UI", uid)
            planted.append(uid)
    ds.ReferencedSeriesSequence = Sequence([nested])
    assert len(planted) > 100
    data = write(run(ds).dataset)
    assert [uid for uid in planted if uid.encode() in data] == []
