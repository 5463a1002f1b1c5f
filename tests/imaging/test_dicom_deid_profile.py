"""Table E.1-1 as data: every row names a real attribute, and spot rows match the published
table (DICOM PS3.15 2024b, Annex E, Table E.1-1, columns "Basic Prof." and "Rtn. Long. Modif.
Dates Opt."; https://dicom.nema.org/medical/dicom/2024b/output/chtml/part15/chapter_E.html)."""

import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from imaging.dicom.deid_profile import (
    PATIENT_CHARACTERISTICS_OPTION,
    TABLE_E1_1,
    table_row_count,
)

CODES = {"D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}


def test_every_row_names_an_attribute_in_the_pydicom_dictionary():
    for tag, row in TABLE_E1_1.items():
        assert keyword_for_tag(tag) == row.name
        assert tag_for_keyword(row.name) == tag


def test_every_row_uses_an_action_code_of_the_standard():
    for row in TABLE_E1_1.values():
        assert row.basic in CODES
        assert row.modified_dates in (None, "C")


def test_the_modified_dates_option_only_cleans_dates_times_and_timestamps():
    # The option's "C" column covers DA/DT/TM attributes plus three timestamps of other VRs.
    others = {"CertifiedTimestamp", "FrameOriginTimestamp", "TimezoneOffsetFromUTC"}
    for tag, row in TABLE_E1_1.items():
        if row.modified_dates == "C":
            assert dictionary_VR(tag) in ("DA", "DT", "TM") or row.name in others


def test_the_table_covers_most_of_table_e1_1():
    # The 2024b table has a little over 600 rows; a few recent ones are unknown to pydicom 3.0.2.
    assert table_row_count() >= 600


@pytest.mark.parametrize(
    ("keyword", "basic", "modified_dates"),
    [
        ("PatientName", "Z", None),
        ("PatientID", "Z/D", None),
        ("PatientBirthDate", "Z", None),
        ("PatientAge", "X", None),
        ("PatientSex", "Z", None),
        ("AccessionNumber", "Z", None),
        ("StudyDate", "Z", "C"),
        ("StudyTime", "Z", "C"),
        ("SeriesDate", "X/D", "C"),
        ("ContentDate", "Z/D", "C"),
        ("AcquisitionDateTime", "X/Z/D", "C"),
        ("InstitutionName", "X/Z/D", None),
        ("InstitutionAddress", "X", None),
        ("ReferringPhysicianName", "Z", None),
        ("OperatorsName", "X/Z/D", None),
        ("PerformingPhysicianName", "X", None),
        ("StudyDescription", "X", None),
        ("SeriesDescription", "X", None),
        ("ProtocolName", "X/D", None),
        ("ImageComments", "X", None),
        ("StudyInstanceUID", "U", None),
        ("SeriesInstanceUID", "U", None),
        ("SOPInstanceUID", "U", None),
        ("FrameOfReferenceUID", "U", None),
        ("ReferencedSOPInstanceUID", "U", None),
        ("ReferencedImageSequence", "X/Z/U*", None),
        ("SourceImageSequence", "X/Z/U*", None),
        ("RequestAttributesSequence", "X", None),
        ("ContentSequence", "D", None),
        ("OtherPatientIDsSequence", "X", None),
    ],
)
def test_spot_rows_match_the_published_table(keyword, basic, modified_dates):
    row = TABLE_E1_1[tag_for_keyword(keyword)]
    assert (row.basic, row.modified_dates) == (basic, modified_dates)


def test_patient_characteristics_option_keeps_age_sex_size_and_weight():
    # PS3.15 E.3.7 Retain Patient Characteristics Option, column "Rtn. Pat. Chars. Opt.".
    kept = {keyword_for_tag(tag) for tag, code in PATIENT_CHARACTERISTICS_OPTION.items()}
    assert {"PatientAge", "PatientSex", "PatientSize", "PatientWeight"} <= kept
    assert all(tag in TABLE_E1_1 for tag in PATIENT_CHARACTERISTICS_OPTION)
