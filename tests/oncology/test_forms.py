"""Form validation on the record pages: each impossible entry is reported next to its field,
in the clinician's words, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent
from oncology import models as m
from oncology.forms import DiagnosisForm, DrugListField, LabResultForm
from tests.conftest import World
from tests.oncology.test_views import make_full_record, patient_post, valid_posts


def _post_section(client: Client, world: World, section: str, data: dict[str, Any]) -> Any:
    return client.post(
        reverse("oncology:record-create", args=[world.patient.public_id, section]), data
    )


def _field_errors(response: Any, field: str) -> list[str]:
    assert response.status_code == 200, "a rejected form is shown again, not redirected"
    return list(response.context["form"].errors.get(field, []))


def _shown_next_to_field(response: Any, field: str, message: str) -> bool:
    # The message is rendered in the field's own error list, which precedes its input.
    body = response.content.decode()
    start = body.index(f'id="id_{field}_errors"')
    return message in body[start : body.index(f'id="id_{field}"', start)]


@pytest.fixture
def records(world: World) -> dict[str, Any]:
    return make_full_record(world.patient)


def _count_all(patient: m.Patient) -> dict[str, int]:
    return {
        name: model.objects.filter(patient=patient).count()
        for name, model in m.RECORD_SECTIONS.items()
    }


# ---------------------------------------------------------------------------------------------
# The five cases the record must refuse
# ---------------------------------------------------------------------------------------------


def test_death_before_diagnosis_is_refused_on_the_death_date(
    world: World, member_client: Client
) -> None:
    # The diagnosis is dated 2021-03-02 (factory); a death on 2021-01-01 cannot precede it.
    url = reverse("oncology:patient-edit", args=[world.patient.public_id])
    response = member_client.post(
        url, patient_post(world.patient, vital_status="dead", death_date="2021-01-01")
    )
    errors = _field_errors(response, "death_date")
    assert errors == ["Diagnosis date is after the date of death"]
    assert _shown_next_to_field(response, "death_date", errors[0])
    world.patient.refresh_from_db()
    assert world.patient.death_date is None
    assert world.patient.vital_status == "alive"


def test_surgery_before_birth_is_refused_on_the_surgery_date(
    world: World, member_client: Client
) -> None:
    before = _count_all(world.patient)
    data = valid_posts(world.patient.diagnoses.get().pk)["surgeries"]
    response = _post_section(
        member_client, world, "surgeries", {**data, "performed_on": "1950-01-01"}
    )
    errors = _field_errors(response, "performed_on")
    assert errors == ["Surgery date is before the date of birth"]
    assert _shown_next_to_field(response, "performed_on", errors[0])
    assert _count_all(world.patient) == before


def test_tnm_category_that_does_not_exist_is_refused(world: World, member_client: Client) -> None:
    before = _count_all(world.patient)
    data = valid_posts(world.patient.diagnoses.get().pk)["diagnoses"]
    response = _post_section(member_client, world, "diagnoses", {**data, "clinical_t": "T9"})
    errors = _field_errors(response, "clinical_t")
    assert len(errors) == 1
    assert "'T9' is not a TNM T category" in errors[0]
    assert _shown_next_to_field(response, "clinical_t", "T9")
    assert _count_all(world.patient) == before


def test_lung_t_category_of_another_organ_is_refused_and_the_valid_ones_named(
    world: World, member_client: Client
) -> None:
    # T4d exists only for breast (AJCC 8th, inflammatory carcinoma), not for lung.
    data = valid_posts(world.patient.diagnoses.get().pk)["diagnoses"]
    response = _post_section(member_client, world, "diagnoses", {**data, "clinical_t": "T4d"})
    (error,) = _field_errors(response, "clinical_t")
    assert "T4d is not a T category of the lung" in error
    assert "T1mi" in error


def test_out_of_range_lab_value_is_refused(world: World, member_client: Client) -> None:
    before = _count_all(world.patient)
    data = valid_posts(world.patient.diagnoses.get().pk)["labs"]
    # Haemoglobin 250 g/dL is ten times the highest survivable value (labs catalogue: 1-25).
    response = _post_section(member_client, world, "labs", {**data, "value": "250"})
    errors = _field_errors(response, "value")
    assert errors == ["Haemoglobin is outside the possible range 1-25 g/dL"]
    assert _shown_next_to_field(response, "value", errors[0])
    assert _count_all(world.patient) == before


def test_radiotherapy_dose_out_of_range_is_refused(world: World, member_client: Client) -> None:
    before = _count_all(world.patient)
    data = valid_posts(world.patient.diagnoses.get().pk)["radiotherapies"]
    response = _post_section(
        member_client,
        world,
        "radiotherapies",
        {**data, "technique": "IMRT", "total_dose_gy": "500", "fractions": "30"},
    )
    errors = _field_errors(response, "total_dose_gy")
    assert errors == ["Total dose above 90 Gy is not plausible for external beam"]
    assert _shown_next_to_field(response, "total_dose_gy", errors[0])
    assert _count_all(world.patient) == before


# ---------------------------------------------------------------------------------------------
# More cross-field and cross-record rules
# ---------------------------------------------------------------------------------------------


def test_death_date_before_an_existing_surgery_names_the_conflict(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    # Surgery on 2021-04-12; a death on 2021-04-01 conflicts with it (and with later records).
    url = reverse("oncology:patient-edit", args=[world.patient.public_id])
    response = member_client.post(
        url, patient_post(world.patient, vital_status="dead", death_date="2021-04-01")
    )
    errors = _field_errors(response, "death_date")
    assert "Surgery date is after the date of death" in errors
    assert "Radiotherapy start date is after the date of death" in errors


def test_a_pre_existing_conflict_elsewhere_does_not_block_an_unrelated_edit(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    # A hospital feed left a follow-up dated before birth; fixing the weight must still save.
    m.FollowUp.objects.create(
        patient=world.patient, visit_date="1950-01-01", disease_status="unknown"
    )
    measurement = records["measurements"]
    url = reverse(
        "oncology:record-edit", args=[world.patient.public_id, "measurements", measurement.pk]
    )
    data = {"measured_on": "2021-03-04", "weight_kg": "71", "height_cm": "170"}
    assert member_client.post(url, data).status_code == 302
    measurement.refresh_from_db()
    assert measurement.weight_kg == 71.0


def test_entered_stage_group_is_checked_against_tnm(world: World, member_client: Client) -> None:
    data = valid_posts(world.patient.diagnoses.get().pk)["diagnoses"]
    # UICC 8th lung: T2a N0 M0 is IB, so IIIA is inconsistent.
    response = _post_section(member_client, world, "diagnoses", {**data, "clinical_stage": "IIIA"})
    assert _field_errors(response, "clinical_stage")


def test_empty_stage_group_is_derived_from_tnm(world: World, member_client: Client) -> None:
    data = valid_posts(world.patient.diagnoses.get().pk)["diagnoses"]
    data = {**data, "diagnosis_date": "2022-01-05", "clinical_t": "T3", "clinical_stage": ""}
    response = _post_section(member_client, world, "diagnoses", data)
    assert response.status_code == 302
    created = world.patient.diagnoses.get(diagnosis_date="2022-01-05")
    # UICC 8th lung: T3 N0 M0 is stage IIB.
    assert created.clinical_stage == "IIB"


def test_end_before_start_is_refused_on_the_end_date(world: World, member_client: Client) -> None:
    data = valid_posts(world.patient.diagnoses.get().pk)["systemic_therapies"]
    response = _post_section(
        member_client,
        world,
        "systemic_therapies",
        {**data, "start_date": "2021-06-01", "end_date": "2021-05-01"},
    )
    assert _field_errors(response, "end_date") == ["End date is before the start date"]


def test_fatal_toxicity_on_a_living_patient_is_refused_on_the_grade(
    world: World, member_client: Client
) -> None:
    data = valid_posts(world.patient.diagnoses.get().pk)["toxicities"]
    response = _post_section(member_client, world, "toxicities", {**data, "grade": "5"})
    errors = _field_errors(response, "grade")
    assert any("grade 5" in e for e in errors)
    assert not m.Toxicity.objects.filter(patient=world.patient).exists()


def test_implausible_drug_dose_is_reported_on_the_drugs_field(
    world: World, member_client: Client
) -> None:
    data = valid_posts(world.patient.diagnoses.get().pk)["systemic_therapies"]
    # Carboplatin is dosed to AUC 2-7 (Calvert formula); AUC 50 is not plausible.
    response = _post_section(
        member_client, world, "systemic_therapies", {**data, "drugs": "carboplatin, 50, AUC"}
    )
    errors = _field_errors(response, "drugs")
    assert any("carboplatin" in e and "AUC" in e for e in errors)


def test_unparseable_drug_line_names_the_line(world: World, member_client: Client) -> None:
    data = valid_posts(world.patient.diagnoses.get().pk)["systemic_therapies"]
    response = _post_section(
        member_client, world, "systemic_therapies", {**data, "drugs": "cisplatin 75 mg/m2"}
    )
    (error,) = _field_errors(response, "drugs")
    assert error.startswith("Line 1:")


def test_same_comorbidity_twice_is_a_field_error_not_a_crash(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    condition = records["comorbidities"].condition
    response = _post_section(member_client, world, "comorbidities", {"condition": condition})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert m.Comorbidity.objects.filter(patient=world.patient).count() == 1


def test_diagnosis_link_of_another_patient_is_not_a_choice(
    world: World, member_client: Client
) -> None:
    other = make_full_record(
        m.Patient.objects.create(
            institution=world.institution,
            mrn="OTHER1",
            given_name="O",
            family_name="Ther",
            sex="male",
            birth_date="1950-01-01",
        )
    )
    data = valid_posts(world.patient.diagnoses.get().pk)["surgeries"]
    response = _post_section(
        member_client, world, "surgeries", {**data, "diagnosis": str(other["diagnoses"].pk)}
    )
    assert _field_errors(response, "diagnosis")
    assert not m.Surgery.objects.filter(patient=world.patient).exists()


def test_rejected_form_keeps_the_stored_values_on_the_page_header(
    world: World, member_client: Client
) -> None:
    url = reverse("oncology:patient-edit", args=[world.patient.public_id])
    response = member_client.post(
        url,
        patient_post(
            world.patient, family_name="Changed", death_date="2021-01-01", vital_status="dead"
        ),
    )
    assert response.status_code == 200
    assert f"{world.patient.family_name}, {world.patient.given_name}" in response.content.decode()
    assert AuditEvent.objects.filter(action="update").count() == 0


# ---------------------------------------------------------------------------------------------
# The forms themselves
# ---------------------------------------------------------------------------------------------


def test_diagnosis_form_offers_icdo3_codes_and_the_site_tnm_categories(world: World) -> None:
    form = DiagnosisForm(patient=world.patient, instance=world.patient.diagnoses.get())
    sites = [value for value, _ in form.fields["primary_site"].choices]
    assert "C34.1" in sites
    assert "C50.4" in sites
    morphologies = [value for value, _ in form.fields["morphology"].choices]
    assert "8140/3" in morphologies
    # UICC 8th lung T categories include T1mi (minimally invasive adenocarcinoma).
    assert "T1mi" in form.tnm_options["t"]
    assert form.fields["clinical_t"].widget.attrs["list"] == "tnm-t-options"


def test_lab_form_offers_loinc_codes_and_units(world: World) -> None:
    form = LabResultForm(patient=world.patient)
    codes = dict(form.fields["code"].choices)
    assert "718-7" in codes
    assert "Haemoglobin" in codes["718-7"]
    assert "g/dL" in form.unit_options


def test_drug_list_field_reads_one_drug_a_line() -> None:
    field = DrugListField(required=False)
    assert field.clean("Cisplatin, 75, mg/m2\n\nvinorelbine , 25 , mg/m2 ") == [
        {"name": "cisplatin", "dose": 75.0, "unit": "mg/m2"},
        {"name": "vinorelbine", "dose": 25.0, "unit": "mg/m2"},
    ]
    assert field.prepare_value([{"name": "cisplatin", "dose": 75.0, "unit": "mg/m2"}]) == (
        "cisplatin, 75, mg/m2"
    )


def test_stored_code_missing_from_the_catalogue_stays_selectable(world: World) -> None:
    diagnosis = world.patient.diagnoses.get()
    diagnosis.primary_site = "C99.9"
    form = DiagnosisForm(patient=world.patient, instance=diagnosis)
    assert ("C99.9", "C99.9 (not in catalogue)") in form.fields["primary_site"].choices


def test_an_unusual_histology_for_the_site_saves_with_a_warning(
    world: World, member_client: Client
) -> None:
    # Ductal carcinoma (8500/3) is a breast histology; in the sigmoid colon it is rare enough
    # that the ICD-O-3 catalogue asks for a second look, but it is not impossible.
    data = {
        "primary_site": "C18.7",
        "morphology": "8500/3",
        "laterality": "not_applicable",
        "diagnosis_date": "2022-01-05",
    }
    response = _post_section(member_client, world, "diagnoses", data)
    assert response.status_code == 302
    page = member_client.get(response["Location"]).content.decode()
    assert "Please check:" in page
    assert "unusual for a colorectal primary" in page
    assert world.patient.diagnoses.filter(primary_site="C18.7").exists()
