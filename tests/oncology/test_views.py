"""The record pages: who may open them, what they show, and the audit event each leaves."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent, Role
from oncology import catalogues
from oncology import models as m
from oncology.models import RECORD_SECTIONS
from tests.conftest import World
from tests.factories import PatientFactory, UserFactory


def catalogue_key(choices: list[tuple[str, str]], preferred: str) -> str:
    """`preferred` when the catalogue lists it, else the catalogue's first entry."""
    keys = [k for k, _ in choices]
    if not keys or preferred in keys:
        return preferred
    return keys[0]


def biomarker_name() -> str:
    return catalogue_key(catalogues.biomarker_choices(), "EGFR")


def charlson_condition() -> str:
    return catalogue_key(catalogues.charlson_choices(), "diabetes_uncomplicated")


def ctcae_term() -> str:
    return catalogue_key(catalogues.ctcae_choices(), "nausea")


# Haemoglobin, LOINC 718-7, in g/dL: a common lab with a well-known plausible range.
LAB_CODE, LAB_UNIT, LAB_VALUE = "718-7", "g/dL", 12.5


def make_full_record(patient: m.Patient, *, comorbidity: bool = True) -> dict[str, Any]:
    """One sub-record of every section, dated consistently after the diagnosis (2021-03-02).

    A condition is recorded once per patient: `comorbidity=False` when building a second set.
    """
    diagnosis = patient.diagnoses.first() or m.Diagnosis.objects.create(
        patient=patient,
        primary_site="C34.1",
        morphology="8140/3",
        diagnosis_date=dt.date(2021, 3, 2),
    )
    d = dt.date
    records: dict[str, Any] = {
        "diagnoses": diagnosis,
        "biomarkers": m.Biomarker.objects.create(
            patient=patient,
            diagnosis=diagnosis,
            name=biomarker_name(),
            result="positive",
            test_date=d(2021, 3, 10),
        ),
        "performance_statuses": m.PerformanceStatus.objects.create(
            patient=patient, assessed_on=d(2021, 3, 5), ecog=1
        ),
        "comorbidities": (
            m.Comorbidity.objects.create(patient=patient, condition=charlson_condition())
            if comorbidity
            else None
        ),
        "labs": m.LabResult.objects.create(
            patient=patient,
            code=LAB_CODE,
            value=LAB_VALUE,
            unit=LAB_UNIT,
            collected_on=d(2021, 3, 4),
        ),
        "measurements": m.BodyMeasurement.objects.create(
            patient=patient, measured_on=d(2021, 3, 4), weight_kg=70.0, height_cm=170.0
        ),
        "surgeries": m.Surgery.objects.create(
            patient=patient,
            diagnosis=diagnosis,
            procedure="Right upper lobectomy",
            performed_on=d(2021, 4, 12),
            margin_status="R0",
        ),
        "radiotherapies": m.RadiotherapyCourse.objects.create(
            patient=patient,
            diagnosis=diagnosis,
            target="Mediastinum",
            total_dose_gy=60.0,
            fractions=30,
            technique="IMRT",
            start_date=d(2021, 5, 10),
            end_date=d(2021, 6, 18),
        ),
        "systemic_therapies": m.SystemicTherapy.objects.create(
            patient=patient,
            diagnosis=diagnosis,
            regimen="cisplatin-vinorelbine",
            category="chemotherapy",
            drugs=[
                {"name": "cisplatin", "dose": 75.0, "unit": "mg/m2"},
                {"name": "vinorelbine", "dose": 25.0, "unit": "mg/m2"},
            ],
            cycles=4,
            start_date=d(2021, 5, 10),
            end_date=d(2021, 7, 20),
            intent="adjuvant",
        ),
        "follow_ups": m.FollowUp.objects.create(
            patient=patient, visit_date=d(2021, 9, 1), disease_status="ned", ecog=0
        ),
        "disease_events": m.DiseaseEvent.objects.create(
            patient=patient,
            diagnosis=diagnosis,
            event_type="distant_recurrence",
            event_date=d(2022, 2, 1),
        ),
        "toxicities": m.Toxicity.objects.create(
            patient=patient,
            term=ctcae_term(),
            grade=2,
            onset_date=d(2021, 5, 20),
            attributed_to="systemic",
        ),
    }
    assert set(records) == set(RECORD_SECTIONS)
    return {k: v for k, v in records.items() if v is not None}


def valid_posts(diagnosis_pk: int) -> dict[str, dict[str, Any]]:
    """A form submission the clinical validators accept, for every section."""
    return {
        "diagnoses": {
            "primary_site": "C34.1",
            "morphology": "8140/3",
            "laterality": "right",
            "diagnosis_date": "2021-03-02",
            "grade": "G2",
            "clinical_t": "T2a",
            "clinical_n": "N0",
            "clinical_m": "M0",
            "clinical_stage": "",
        },
        "biomarkers": {
            "name": biomarker_name(),
            "result": "negative",
            "test_date": "2021-03-12",
            "diagnosis": str(diagnosis_pk),
        },
        "performance_statuses": {"assessed_on": "2021-04-01", "ecog": "1"},
        "comorbidities": {"condition": charlson_condition(), "diagnosed_on": "2015-06-01"},
        "labs": {"code": LAB_CODE, "value": "13.1", "unit": LAB_UNIT, "collected_on": "2021-04-01"},
        "measurements": {"measured_on": "2021-04-01", "weight_kg": "68.5", "height_cm": "170"},
        "surgeries": {
            "procedure": "Mediastinal lymph node dissection",
            "performed_on": "2021-04-12",
            "intent": "curative",
            "margin_status": "R0",
            "diagnosis": str(diagnosis_pk),
        },
        "radiotherapies": {
            "target": "Right upper lobe",
            "technique": "SBRT",
            "total_dose_gy": "54",
            "fractions": "3",
            "start_date": "2021-05-03",
            "end_date": "2021-05-10",
            "intent": "curative",
            "diagnosis": str(diagnosis_pk),
        },
        "systemic_therapies": {
            "regimen": "carboplatin-paclitaxel",
            "category": "chemotherapy",
            "drugs": "carboplatin, 5, AUC\npaclitaxel, 200, mg/m2",
            "cycles": "4",
            "start_date": "2021-05-10",
            "intent": "adjuvant",
            "diagnosis": str(diagnosis_pk),
        },
        "follow_ups": {"visit_date": "2021-10-01", "disease_status": "ned", "ecog": "1"},
        "disease_events": {
            "event_type": "progression",
            "event_date": "2022-03-01",
            "diagnosis": str(diagnosis_pk),
        },
        "toxicities": {
            "term": ctcae_term(),
            "grade": "2",
            "onset_date": "2021-06-01",
            "attributed_to": "radiotherapy",
        },
    }


def patient_post(patient: m.Patient, **changes: str) -> dict[str, str]:
    data = {
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "mrn": patient.mrn,
        "sex": patient.sex,
        "birth_date": patient.birth_date.isoformat(),
        "smoking_status": patient.smoking_status,
        "smoking_pack_years": "",
        "vital_status": patient.vital_status,
        "death_date": patient.death_date.isoformat() if patient.death_date else "",
        "last_contact_date": "",
    }
    data.update(changes)
    return data


def patient_routes(patient: m.Patient, records: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, url) of every page about one patient."""
    pid = patient.public_id
    routes = [
        ("patient-detail", reverse("oncology:patient-detail", args=[pid])),
        ("patient-edit", reverse("oncology:patient-edit", args=[pid])),
    ]
    for section, record in records.items():
        routes += [
            (f"{section}-new", reverse("oncology:record-create", args=[pid, section])),
            (f"{section}-edit", reverse("oncology:record-edit", args=[pid, section, record.pk])),
            (
                f"{section}-delete",
                reverse("oncology:record-delete", args=[pid, section, record.pk]),
            ),
        ]
    return routes


@pytest.fixture
def records(world: World) -> dict[str, Any]:
    return make_full_record(world.patient)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------------------------
# Access: the four personas on every route
# ---------------------------------------------------------------------------------------------


def test_care_team_member_opens_every_patient_page(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    for name, url in patient_routes(world.patient, records):
        assert member_client.get(url).status_code == 200, name


def test_clinician_outside_care_team_gets_404_on_every_patient_page(
    world: World, records: dict[str, Any], outsider_client: Client
) -> None:
    for name, url in patient_routes(world.patient, records):
        assert outsider_client.get(url).status_code == 404, name
        assert outsider_client.post(url, {}).status_code in {404, 405}, name
    assert not AuditEvent.objects.exists()


def test_integration_client_cannot_use_pages(world: World, records: dict[str, Any]) -> None:
    # Integration clients have no password; even with a session they are refused.
    client = login(world.integration)
    urls = [url for _, url in patient_routes(world.patient, records)]
    urls += [
        reverse("oncology:patient-list"),
        reverse("oncology:patient-create"),
        reverse("oncology:tnm-options"),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert not world.integration.has_usable_password()
    assert not AuditEvent.objects.exists()


def test_anonymous_user_is_sent_to_sign_in_from_every_page(
    world: World, records: dict[str, Any]
) -> None:
    client = Client()
    urls = [url for _, url in patient_routes(world.patient, records)]
    urls += [
        reverse("oncology:patient-list"),
        reverse("oncology:patient-create"),
        reverse("oncology:tnm-options"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert not AuditEvent.objects.exists()


def test_list_and_create_pages_are_open_to_any_clinician_but_list_only_their_patients(
    world: World, outsider_client: Client, member_client: Client
) -> None:
    assert outsider_client.get(reverse("oncology:patient-create")).status_code == 200
    response = outsider_client.get(reverse("oncology:patient-list"))
    assert response.status_code == 200
    assert world.patient.family_name not in response.content.decode()
    response = member_client.get(reverse("oncology:patient-list"))
    assert world.patient.family_name in response.content.decode()


def test_read_only_role_sees_the_record_but_gets_403_on_every_edit_route(
    world: World, records: dict[str, Any]
) -> None:
    admin = UserFactory(
        username="admin1",
        role=Role.ADMINISTRATOR,
        institution=world.institution,
        teams=[world.team],
    )
    client = login(admin)
    for name, url in patient_routes(world.patient, records):
        expected = 200 if name == "patient-detail" else 403
        assert client.get(url).status_code == expected, name
    page = client.get(reverse("oncology:patient-detail", args=[world.patient.public_id]))
    assert "Add diagnosis" not in page.content.decode()
    assert client.get(reverse("oncology:patient-create")).status_code == 403
    listing = client.get(reverse("oncology:patient-list")).content.decode()
    assert "New patient" not in listing


def test_sub_record_of_another_patient_is_404_and_untouched(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    # Both patients are visible to the member: the pk of one must not reach through the other.
    other = PatientFactory(institution=world.institution, teams=[world.team])
    other_records = make_full_record(other)
    pid = world.patient.public_id
    for section, record in other_records.items():
        edit = reverse("oncology:record-edit", args=[pid, section, record.pk])
        delete = reverse("oncology:record-delete", args=[pid, section, record.pk])
        assert member_client.get(edit).status_code == 404, section
        assert member_client.post(edit, {}).status_code == 404, section
        assert member_client.post(delete).status_code == 404, section
        assert type(record).objects.filter(pk=record.pk, patient=other).exists(), section
    assert not AuditEvent.objects.exists()


def test_unknown_section_is_404(world: World, member_client: Client) -> None:
    url = f"/patients/{world.patient.public_id}/prescriptions/new/"
    assert member_client.get(url).status_code == 404


def test_delete_needs_post(world: World, records: dict[str, Any], member_client: Client) -> None:
    surgery = records["surgeries"]
    url = reverse("oncology:record-delete", args=[world.patient.public_id, "surgeries", surgery.pk])
    page = member_client.get(url)
    assert page.status_code == 200
    assert "Delete this surgery?" in page.content.decode()
    assert m.Surgery.objects.filter(pk=surgery.pk).exists()
    response = member_client.post(url)
    assert response.status_code == 302
    assert not m.Surgery.objects.filter(pk=surgery.pk).exists()


# ---------------------------------------------------------------------------------------------
# What the pages show
# ---------------------------------------------------------------------------------------------


def test_patient_list_searches_by_name_mrn_and_research_id_and_paginates(
    world: World, member_client: Client
) -> None:
    others = [
        PatientFactory(institution=world.institution, teams=[world.team], family_name=f"Zed{i:02d}")
        for i in range(30)
    ]
    url = reverse("oncology:patient-list")
    page1 = member_client.get(url).content.decode()
    assert "Page 1 of 2" in page1
    for term in (world.patient.family_name, world.patient.mrn, world.patient.research_id):
        response = member_client.post(url, {"q": term}, follow=True)
        # The term never appears in a URL (history, access logs): it is kept in the session.
        assert [hop for hop, _ in response.redirect_chain] == [url]
        body = response.content.decode()
        assert world.patient.research_id in body, term
        assert others[0].research_id not in body, term
    response = member_client.post(url, {"q": "nobody-like-this"}, follow=True)
    assert "No patient matches" in response.content.decode()
    # Clearing the search lists everyone again, and the next page keeps only its number.
    cleared = member_client.post(url, {"q": ""}, follow=True).content.decode()
    assert "Page 1 of 2" in cleared
    assert 'href="?page=2"' in cleared


def test_patient_list_shows_age_primary_diagnosis_stage_and_vital_status(
    world: World, member_client: Client
) -> None:
    body = member_client.get(reverse("oncology:patient-list")).content.decode()
    assert "C34.1" in body
    assert "8140/3" in body
    assert ">IB<" in body
    assert "Alive" in body
    assert "Female" in body


def test_patient_page_header_shows_latest_ecog_bmi_and_identifiers(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    body = member_client.get(
        reverse("oncology:patient-detail", args=[world.patient.public_id])
    ).content.decode()
    assert world.patient.mrn in body
    assert world.patient.research_id in body
    # Latest ECOG: follow-up on 2021-09-01 scored 0, after the 2021-03-05 assessment of 1.
    assert re.search(r"ECOG \(latest\)</dt><dd>0<span class=\"stat-note\">2021-09-01", body)
    # BMI = 70 kg / (1.70 m)^2 = 24.2 (WHO definition of body-mass index).
    assert "24.2" in body


def test_patient_page_timeline_is_chronological_and_covers_every_kind_of_event(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    patient = world.patient
    patient.vital_status = m.VitalStatus.DEAD
    patient.death_date = dt.date(2022, 6, 1)
    patient.save()
    body = member_client.get(
        reverse("oncology:patient-detail", args=[patient.public_id])
    ).content.decode()
    timeline = body[body.index('<ol class="timeline">') :]
    dates = re.findall(r'<time datetime="(\d{4}-\d{2}-\d{2})"', timeline)
    assert dates == sorted(dates)
    for kind in (
        "Diagnosis",
        "Biomarker",
        "Surgery",
        "Radiotherapy",
        "Systemic therapy",
        "Lab",
        "Follow-up",
        "Disease event",
        "Toxicity",
        "Death",
    ):
        assert f'<span class="tl-kind">{kind}</span>' in timeline, kind
    assert dates[-1] == "2022-06-01"


def test_synthetic_patients_are_labelled(world: World, member_client: Client) -> None:
    url = reverse("oncology:patient-detail", args=[world.patient.public_id])
    assert "Synthetic demo data" not in member_client.get(url).content.decode()
    world.patient.is_synthetic = True
    world.patient.save()
    assert "Synthetic demo data" in member_client.get(url).content.decode()
    listing = member_client.get(reverse("oncology:patient-list")).content.decode()
    assert "tag-synthetic" in listing


def test_patient_page_query_count_does_not_grow_with_the_record(
    world: World, member_client: Client, django_assert_max_num_queries: Any
) -> None:
    url = reverse("oncology:patient-detail", args=[world.patient.public_id])
    make_full_record(world.patient)
    # session, user, patient, audit insert, care teams + 12 sections, the imaging studies,
    # session save, and PostgreSQL's savepoints: 23 whatever the record's size.
    with django_assert_max_num_queries(23):
        assert member_client.get(url).status_code == 200
    for _ in range(5):
        make_full_record(world.patient, comorbidity=False)
        m.LabResult.objects.create(
            patient=world.patient,
            code=LAB_CODE,
            value=11.0,
            unit=LAB_UNIT,
            collected_on=dt.date(2021, 8, 1),
        )
    with django_assert_max_num_queries(23):
        assert member_client.get(url).status_code == 200


def test_patient_list_query_count_is_flat(
    world: World, member_client: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(20):
        p = PatientFactory(institution=world.institution, teams=[world.team])
        m.Diagnosis.objects.create(
            patient=p, primary_site="C50.4", morphology="8500/3", diagnosis_date=dt.date(2020, 1, 1)
        )
    # session, user, count, page, diagnoses of the page, audit insert, session save, savepoints
    with django_assert_max_num_queries(12):
        assert member_client.get(reverse("oncology:patient-list")).status_code == 200


def test_tnm_options_offer_the_site_categories_and_derive_the_stage(member_client: Client) -> None:
    url = reverse("oncology:tnm-options")
    data = member_client.get(url, {"site": "C34.1", "t": "T2a", "n": "N0", "m": "M0"}).json()
    # UICC TNM 8th edition, lung: T2a N0 M0 is stage IB.
    assert data["stage"] == "IB"
    assert "T1mi" in data["categories"]["t"]
    assert data["categories"]["m"][:2] == ["M0", "M1"] or "M0" in data["categories"]["m"]


# ---------------------------------------------------------------------------------------------
# Audit: exactly one event per request that touches patient data
# ---------------------------------------------------------------------------------------------


def _events_since(last_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=last_id).order_by("id"))


def _last_id() -> int:
    last = AuditEvent.objects.order_by("-id").first()
    return last.id if last else 0


def test_every_patient_page_get_writes_exactly_one_view_event(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    for name, url in patient_routes(world.patient, records):
        mark = _last_id()
        assert member_client.get(url).status_code == 200, name
        events = _events_since(mark)
        assert len(events) == 1, name
        assert events[0].action == "view", name
        assert events[0].patient_id == world.patient.pk, name
        assert events[0].actor == world.member, name


def test_patient_list_writes_one_list_event(world: World, member_client: Client) -> None:
    mark = _last_id()
    member_client.post(reverse("oncology:patient-list"), {"q": world.patient.mrn}, follow=True)
    events = _events_since(mark)
    assert [e.action for e in events] == ["list"]
    # The search term (an MRN) is never written to the trail.
    assert world.patient.mrn not in str(events[0].detail)


def test_every_valid_post_writes_exactly_one_event_naming_the_record_and_changed_fields(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    patient = world.patient
    pid = patient.public_id
    posts = valid_posts(records["diagnoses"].pk)
    for section, data in posts.items():
        model_name = RECORD_SECTIONS[section]._meta.model_name
        # Create
        mark = _last_id()
        if section == "comorbidities":
            records[section].delete()  # one row per condition: make room for the new one
        response = member_client.post(reverse("oncology:record-create", args=[pid, section]), data)
        assert response.status_code == 302, (section, response.content.decode()[-3000:])
        events = _events_since(mark)
        assert len(events) == 1, section
        created = events[0]
        assert (created.action, created.object_type, created.patient_id) == (
            "create",
            model_name,
            patient.pk,
        ), section
        new = RECORD_SECTIONS[section].objects.get(pk=int(created.object_id))
        assert new.patient_id == patient.pk
        assert set(created.detail["fields"]) <= set(data) | {"clinical_stage"}
        # Update: the same values again change nothing but still leave one event.
        mark = _last_id()
        url = reverse("oncology:record-edit", args=[pid, section, new.pk])
        assert member_client.post(url, data).status_code == 302, section
        events = _events_since(mark)
        assert [(e.action, e.object_id) for e in events] == [("update", str(new.pk))], section
        assert events[0].detail == {"fields": []}, section
        # Delete
        mark = _last_id()
        url = reverse("oncology:record-delete", args=[pid, section, new.pk])
        assert member_client.post(url).status_code == 302, section
        events = _events_since(mark)
        assert [(e.action, e.object_type, e.object_id, e.patient_id) for e in events] == [
            ("delete", model_name, str(new.pk), patient.pk)
        ], section


def test_patient_edit_post_writes_one_update_event_with_field_names_only(
    world: World, member_client: Client
) -> None:
    mark = _last_id()
    url = reverse("oncology:patient-edit", args=[world.patient.public_id])
    response = member_client.post(url, patient_post(world.patient, given_name="Renamed"))
    assert response.status_code == 302
    events = _events_since(mark)
    assert [(e.action, e.object_type, e.patient_id) for e in events] == [
        ("update", "patient", world.patient.pk)
    ]
    assert events[0].detail == {"fields": ["given_name"]}
    assert "Renamed" not in str(events[0].detail)


def test_patient_create_writes_one_create_event_and_shares_the_patient_with_the_team(
    world: World, member_client: Client
) -> None:
    mark = _last_id()
    data = {
        "care_team": str(world.team.pk),
        "given_name": "Ada",
        "family_name": "Newcase",
        "mrn": "NEW-0001",
        "sex": "female",
        "birth_date": "1955-01-31",
        "smoking_status": "never",
        "vital_status": "alive",
    }
    response = member_client.post(reverse("oncology:patient-create"), data)
    assert response.status_code == 302
    created = m.Patient.objects.get(mrn="NEW-0001")
    assert response["Location"] == reverse("oncology:patient-detail", args=[created.public_id])
    assert list(created.care_teams.all()) == [world.team]
    assert created.institution == world.institution
    events = _events_since(mark)
    assert [(e.action, e.patient_id) for e in events] == [("create", created.pk)]


def test_patient_create_refuses_a_team_the_user_is_not_in(
    world: World, member_client: Client
) -> None:
    data = {
        "care_team": str(world.other_team.pk),
        "given_name": "Ada",
        "family_name": "Newcase",
        "mrn": "NEW-0002",
        "sex": "female",
        "birth_date": "1955-01-31",
        "smoking_status": "never",
        "vital_status": "alive",
    }
    response = member_client.post(reverse("oncology:patient-create"), data)
    assert response.status_code == 200
    assert "care_team" in response.context["form"].errors
    assert not m.Patient.objects.filter(mrn="NEW-0002").exists()


def test_duplicate_mrn_in_the_institution_is_a_field_error(
    world: World, member_client: Client
) -> None:
    data = {
        "care_team": str(world.team.pk),
        "given_name": "Ada",
        "family_name": "Twin",
        "mrn": world.patient.mrn,
        "sex": "female",
        "birth_date": "1955-01-31",
        "smoking_status": "never",
        "vital_status": "alive",
    }
    response = member_client.post(reverse("oncology:patient-create"), data)
    assert response.status_code == 200
    assert "mrn" in response.context["form"].errors
    assert not m.Patient.objects.filter(family_name="Twin").exists()


def test_a_rejected_post_re_renders_with_one_view_event_and_writes_nothing(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    pid = world.patient.public_id
    before = m.Surgery.objects.count()
    mark = _last_id()
    response = member_client.post(
        reverse("oncology:record-create", args=[pid, "surgeries"]),
        {"procedure": "", "performed_on": "not a date", "intent": "curative"},
    )
    assert response.status_code == 200
    assert m.Surgery.objects.count() == before
    events = _events_since(mark)
    assert [(e.action, e.object_type, e.patient_id) for e in events] == [
        ("view", "surgery", world.patient.pk)
    ]


# ---------------------------------------------------------------------------------------------
# Content security policy: nothing inline
# ---------------------------------------------------------------------------------------------

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_STYLE_ATTR = re.compile(r"\sstyle\s*=", re.IGNORECASE)
_STYLE_TAG = re.compile(r"<style\b", re.IGNORECASE)
_EVENT_ATTR = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_pages_have_no_inline_script_or_style(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    admin = UserFactory(username="auditor", role=Role.ADMINISTRATOR, institution=world.institution)
    urls = [url for _, url in patient_routes(world.patient, records)]
    urls += [reverse("oncology:patient-list"), reverse("oncology:patient-create")]
    pages = [(url, member_client.get(url)) for url in urls]
    pages.append(("audit", login(admin).get(reverse("audit:trail"))))
    pages.append(("login", Client().get(reverse("login"))))
    # A form re-rendered with errors too.
    pages.append(
        (
            "invalid",
            member_client.post(
                reverse("oncology:record-create", args=[world.patient.public_id, "labs"]), {}
            ),
        )
    )
    for url, response in pages:
        assert response.status_code == 200, url
        body = response.content.decode()
        assert not _INLINE_SCRIPT.search(body), url
        assert not _STYLE_ATTR.search(body), url
        assert not _STYLE_TAG.search(body), url
        assert not _EVENT_ATTR.search(body), url
        assert "default-src 'self'" in response["Content-Security-Policy"], url


def test_pages_are_accessible_by_construction(
    world: World, records: dict[str, Any], member_client: Client
) -> None:
    url = reverse("oncology:record-create", args=[world.patient.public_id, "radiotherapies"])
    body = member_client.get(url).content.decode()
    assert 'class="skip-link" href="#main"' in body
    assert 'id="main"' in body
    # Every visible control has a label.
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', body)
    hidden = set(re.findall(r'<input type="hidden"[^>]*\bid="([^"]+)"', body))
    for control in set(ids) - hidden:
        assert f'for="{control}"' in body, control
