"""The cohort CSV parser: strict about the file, precise about each row, silent about values."""

from __future__ import annotations

import pytest

from oncology.imports.cohort_csv import (
    COLUMNS,
    REQUIRED_COLUMNS,
    column_of,
    parse_cohort_csv,
    row_errors_by_column,
)
from oncology.models import RECORD_SECTIONS
from oncology.services.payload import section_fields

HEADER = "mrn,given_name,family_name,sex,birth_date,care_teams"
PATIENT = "A100,Ann,Test,female,1960-01-02,thoracic"


def _csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def test_every_column_fills_a_real_field_of_the_record_payload() -> None:
    patient_fields = {"mrn", "given_name", "family_name", "sex", "birth_date", "care_teams"}
    patient_fields |= {
        "smoking_status",
        "smoking_pack_years",
        "vital_status",
        "death_date",
        "last_contact_date",
    }
    for column in COLUMNS:
        if column.section is None:
            assert column.field in patient_fields, column.name
        else:
            assert column.section in RECORD_SECTIONS, column.name
            assert column.field in section_fields(column.section), column.name


def test_a_full_row_becomes_the_canonical_payload_with_stable_external_ids() -> None:
    parsed = parse_cohort_csv(
        _csv(
            HEADER + ",primary_site,morphology,diagnosis_date,clinical_t,ecog,ecog_date,"
            "surgery_procedure,surgery_date,systemic_regimen,systemic_category,systemic_drugs,"
            "systemic_cycles,systemic_start_date,smoking_pack_years,event_type,event_date",
            PATIENT + ",C34.1,8140/3,2021-03-02,T2a,1,2021-03-01,Lobectomy,2021-04-01,"
            "carboplatin-pemetrexed,chemotherapy,carboplatin 5 AUC; folinic acid 400 mg/m2,"
            "4,2021-05-01,20.5,progression,2022-01-05",
        )
    )
    assert parsed.ok
    [row] = parsed.rows
    assert row.row == 2
    assert row.errors == {}
    assert row.record == {
        "mrn": "A100",
        "given_name": "Ann",
        "family_name": "Test",
        "sex": "female",
        "birth_date": "1960-01-02",
        "care_teams": ["thoracic"],
        "smoking_pack_years": 20.5,
        "diagnoses": [
            {
                "primary_site": "C34.1",
                "morphology": "8140/3",
                "diagnosis_date": "2021-03-02",
                "clinical_t": "T2a",
                "external_id": "csv-dx1",
            }
        ],
        "performance_statuses": [
            {"ecog": 1, "assessed_on": "2021-03-01", "external_id": "csv-ecog1"}
        ],
        "surgeries": [
            {
                "procedure": "Lobectomy",
                "performed_on": "2021-04-01",
                "external_id": "csv-surgery1",
                "diagnosis_external_id": "csv-dx1",
            }
        ],
        "systemic_therapies": [
            {
                "regimen": "carboplatin-pemetrexed",
                "category": "chemotherapy",
                "drugs": [
                    {"name": "carboplatin", "dose": 5.0, "unit": "AUC"},
                    {"name": "folinic acid", "dose": 400.0, "unit": "mg/m2"},
                ],
                "cycles": 4,
                "start_date": "2021-05-01",
                "external_id": "csv-systemic1",
                "diagnosis_external_id": "csv-dx1",
            }
        ],
        "disease_events": [
            {
                "event_type": "progression",
                "event_date": "2022-01-05",
                "external_id": "csv-event1",
                "diagnosis_external_id": "csv-dx1",
            }
        ],
    }


def test_empty_optional_cells_and_empty_sections_are_left_out_of_the_payload() -> None:
    parsed = parse_cohort_csv(
        _csv(HEADER + ",smoking_status,primary_site,surgery_date", PATIENT + ",,,")
    )
    [row] = parsed.rows
    assert row.errors == {}
    assert set(row.record) == {
        "mrn",
        "given_name",
        "family_name",
        "sex",
        "birth_date",
        "care_teams",
    }


def test_a_treatment_without_a_diagnosis_in_its_row_is_not_linked_to_one() -> None:
    parsed = parse_cohort_csv(_csv(HEADER + ",surgery_procedure", PATIENT + ",Lobectomy"))
    assert "diagnosis_external_id" not in parsed.rows[0].record["surgeries"][0]


def test_several_care_teams_are_separated_by_semicolons() -> None:
    parsed = parse_cohort_csv(_csv(HEADER, "A1,Ann,Test,female,1960-01-02, thoracic ;breast"))
    assert parsed.rows[0].record["care_teams"] == ["thoracic", "breast"]


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + _csv(HEADER, "A1,Zoë,Müller,female,1960-01-02,t")
    parsed = parse_cohort_csv(data)
    assert parsed.ok
    assert parsed.rows[0].record["given_name"] == "Zoë"


def test_a_file_that_is_not_utf8_is_refused_as_a_whole() -> None:
    latin1 = "\r\n".join([HEADER, "A1,Zoë,Müller,female,1960-01-02,t"]).encode("latin-1")
    parsed = parse_cohort_csv(latin1)
    assert not parsed.ok
    assert parsed.rows == []
    assert "not UTF-8" in parsed.file_errors[0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (HEADER + ",favourite_colour", "unknown columns: 'favourite_colour'"),
        ("mrn,given_name,family_name,sex,care_teams", "missing required columns: birth_date"),
        (HEADER + ",ecog,ecog", "repeated columns: 'ecog'"),
    ],
)
def test_a_header_that_is_not_the_cohort_format_refuses_the_file(
    header: str, expected: str
) -> None:
    parsed = parse_cohort_csv(_csv(header, PATIENT))
    assert not parsed.ok
    assert expected in parsed.file_errors[0]


def test_a_header_cell_that_looks_like_data_is_not_echoed() -> None:
    parsed = parse_cohort_csv(_csv(HEADER + ",Smith: stage IV!", PATIENT + ",x"))
    assert "Smith" not in parsed.file_errors[0]
    assert "(unreadable)" in parsed.file_errors[0]


def test_each_row_error_names_its_row_and_column_without_quoting_the_value() -> None:
    parsed = parse_cohort_csv(
        _csv(
            HEADER + ",ecog,smoking_pack_years",
            PATIENT + ",1,10",
            "A101,Bob,Test,male,17/05/1960,thoracic,one,1e3",
            "A102,,Test,male,1960-02-30,thoracic,,",
        )
    )
    assert parsed.ok
    assert [r.row for r in parsed.rows] == [2, 3, 4]
    assert parsed.rows[0].errors == {}
    assert parsed.rows[1].errors == {
        "birth_date": ["Not a date in the form YYYY-MM-DD."],
        "ecog": ["Not a whole number."],
        "smoking_pack_years": ["Not a number (use a dot as decimal separator)."],
    }
    assert parsed.rows[2].errors == {
        "given_name": ["This column is required."],
        "birth_date": ["Not a valid calendar date."],
    }
    assert "17/05/1960" not in str(parsed.rows[1].errors)


def test_a_repeated_mrn_is_an_error_on_its_later_row() -> None:
    parsed = parse_cohort_csv(_csv(HEADER, PATIENT, PATIENT.replace("Ann", "Anne")))
    assert parsed.rows[0].errors == {}
    assert parsed.rows[1].errors == {"mrn": ["The same MRN is already in row 2."]}


def test_a_row_with_the_wrong_number_of_cells_is_an_error_of_the_row() -> None:
    parsed = parse_cohort_csv(_csv(HEADER, PATIENT + ",extra"))
    assert parsed.rows[0].errors == {"": ["The row has 7 cells; the header has 6."]}
    assert "extra" not in str(parsed.rows[0].errors)


def test_a_drug_entry_that_is_not_name_dose_unit_is_an_error() -> None:
    parsed = parse_cohort_csv(_csv(HEADER + ",systemic_drugs", PATIENT + ",carboplatin; x 5 mg"))
    assert parsed.rows[0].errors == {
        "systemic_drugs": ["Drug 1 is not 'name dose unit' (e.g. 'carboplatin 5 AUC')."]
    }


def test_blank_lines_are_skipped_and_row_numbers_count_patients() -> None:
    parsed = parse_cohort_csv(_csv(HEADER, PATIENT, ",,,,,", "", "A2,Bo,Test,male,1950-01-01,t"))
    assert [r.row for r in parsed.rows] == [2, 3]


def test_more_rows_than_the_cap_refuse_the_file() -> None:
    rows = [f"A{i},Ann,Test,female,1960-01-02,t" for i in range(4)]
    parsed = parse_cohort_csv(_csv(HEADER, *rows), max_rows=3)
    assert parsed.file_errors == ["The file has more than 3 patient rows; split it."]


def test_a_file_larger_than_the_cap_is_refused() -> None:
    parsed = parse_cohort_csv(_csv(HEADER, PATIENT), max_bytes=20)
    assert not parsed.ok
    assert "larger than" in parsed.file_errors[0]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "The file is empty."),
        (_csv(HEADER), "The file has a header but no patient rows."),
        (_csv(HEADER, 'A1,"Ann,Test,female,1960-01-02,t'), "The file is not valid CSV"),
        (_csv(HEADER, "A1,Ann\x00,Test,female,1960-01-02,t"), "The file contains NUL"),
    ],
)
def test_empty_headerless_or_broken_files_are_refused(data: bytes, expected: str) -> None:
    parsed = parse_cohort_csv(data)
    assert parsed.file_errors[0].startswith(expected)


def test_required_columns_are_the_fields_a_new_patient_needs() -> None:
    assert REQUIRED_COLUMNS == (
        "mrn",
        "given_name",
        "family_name",
        "sex",
        "birth_date",
        "care_teams",
    )


@pytest.mark.parametrize(
    ("path", "column"),
    [
        ("sex", "sex"),
        ("care_teams[1]", "care_teams"),
        ("diagnoses[0].clinical_t", "clinical_t"),
        ("surgeries[0].performed_on", "surgery_date"),
        ("radiotherapies[0].total_dose_gy", "rt_total_dose_gy"),
        ("systemic_therapies[0].drugs[1].dose", "systemic_drugs"),
        ("performance_statuses[0].ecog", "ecog"),
        ("follow_ups[0].visit_date", "follow_up_date"),
        ("surgeries[0].diagnosis_external_id", "diagnosis_date"),
        ("non_field_errors", ""),
    ],
)
def test_sync_error_paths_are_reported_by_csv_column(path: str, column: str) -> None:
    assert column_of(path) == column


def test_sync_errors_are_regrouped_by_column() -> None:
    errors = {"care_teams[0]": ["Unknown care team code."], "care_teams": ["Name one."]}
    assert row_errors_by_column(errors) == {"care_teams": ["Unknown care team code.", "Name one."]}
