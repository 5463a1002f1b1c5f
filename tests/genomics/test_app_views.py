"""Genomics pages: who may open them, what they show, the one audit event each leaves, and the
upload's preview-then-confirm flow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from core.models import AuditAction, AuditEvent, Role
from genomics import services
from genomics.models import GenomicReport, Variant
from tests.conftest import World
from tests.factories import UserFactory
from tests.genomics import app_data


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def make_report(world: World, **overrides) -> GenomicReport:
    return services.genomic_report_create(
        user=world.member,
        patient=world.patient,
        source=services.ReportSource(format="vcf", data=app_data.vcf(), filename="run.vcf"),
        metadata=services.ReportMetadata(**app_data.metadata_values(**overrides)),
    ).report


def list_url(world: World) -> str:
    return reverse("genomics:report-list", kwargs={"public_id": world.patient.public_id})


def new_url(world: World) -> str:
    return reverse("genomics:report-create", kwargs={"public_id": world.patient.public_id})


def detail_url(world: World, report: GenomicReport) -> str:
    return reverse(
        "genomics:report-detail",
        kwargs={"public_id": world.patient.public_id, "report_id": report.public_id},
    )


def upload_form(data: bytes, name: str = "sample.vcf", **overrides) -> dict:
    values = {
        "file": SimpleUploadedFile(name, data),
        "assay_name": "Lung panel v2",
        "covered_mb": "1.2",
        "specimen_type": "primary",
        "collection_date": "2022-04-01",
        "genes": "EGFR KRAS, TP53",
        "tumour_type": "LUAD",
    }
    values.update(overrides)
    return values


def events_after(mark: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- list and detail --------------------------------------------------------------------------


def test_the_list_shows_the_patients_reports_with_one_list_event(world: World, member_client):
    report = make_report(world)
    mark = last_event_id()
    page = member_client.get(list_url(world))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lung panel v2" in html
    assert detail_url(world, report) in html
    assert [(e.action, e.object_type, e.patient_id) for e in events_after(mark)] == [
        (AuditAction.LIST, "genomic_report", world.patient.pk)
    ]


def test_the_patient_page_links_to_the_genomic_reports(world: World, member_client):
    page = member_client.get(
        reverse("oncology:patient-detail", kwargs={"public_id": world.patient.public_id})
    )
    assert list_url(world) in page.content.decode()


def test_the_detail_highlights_actionable_alterations_as_evidence(world: World, member_client):
    report = make_report(world)
    mark = last_event_id()
    page = member_client.get(detail_url(world, report))
    assert page.status_code == 200
    html = page.content.decode()
    findings = html[html.index('id="actionable"') : html.index('id="variants"')]
    assert "EGFR" in findings
    assert "KRAS" in findings
    assert f"KB {report.kb_version}" in findings
    assert "not treatment instructions" in findings
    assert [(e.action, e.object_id) for e in events_after(mark)] == [
        (AuditAction.VIEW, str(report.public_id))
    ]


@pytest.mark.parametrize(
    ("query", "genes"),
    [
        ({}, {"EGFR", "KRAS", "TP53", "BRCA2"}),
        ({"gene": "KRAS"}, {"KRAS"}),
        ({"consequence": "synonymous_variant"}, {"TP53"}),
        ({"filter_status": "pass"}, {"EGFR", "KRAS", "TP53"}),
        ({"filter_status": "fail"}, {"BRCA2"}),
        ({"vaf_min": "0.2"}, {"EGFR", "KRAS", "TP53"}),
        ({"vaf_min": "0.21"}, {"EGFR", "KRAS"}),
    ],
)
def test_the_variant_table_filters_by_gene_consequence_filter_and_vaf(
    world: World, member_client, query, genes
):
    report = make_report(world)
    html = member_client.get(detail_url(world, report), query).content.decode()
    table = html[html.index('class="data compact variants"') :]
    table = table[: table.index("</table>")]
    shown = set(re.findall(r'<th scope="row" class="mono">([A-Z0-9]+)</th>', table))
    assert shown == genes


def test_an_invalid_filter_shows_every_variant_instead_of_failing(world: World, member_client):
    report = make_report(world)
    page = member_client.get(detail_url(world, report), {"vaf_min": "lots", "gene": "<x>"})
    assert page.status_code == 200
    assert page.content.decode().count('<th scope="row" class="mono">') >= 4


def test_a_report_of_another_patient_is_not_reachable_through_this_patient(
    world: World, member_client
):
    from tests.factories import PatientFactory

    report = make_report(world)
    other = PatientFactory(institution=world.institution, teams=[world.team])
    url = reverse(
        "genomics:report-detail",
        kwargs={"public_id": other.public_id, "report_id": report.public_id},
    )
    assert member_client.get(url).status_code == 404


@pytest.mark.parametrize("name", ["list", "new", "detail"])
def test_a_clinician_outside_the_care_team_gets_404_and_no_event(
    world: World, outsider_client, name
):
    report = make_report(world)
    url = {"list": list_url, "new": new_url}.get(name, lambda w: detail_url(w, report))(world)
    mark = last_event_id()
    assert outsider_client.get(url).status_code == 404
    assert events_after(mark) == []


def test_an_administrator_cannot_upload_a_report(world: World):
    admin = UserFactory(role=Role.ADMINISTRATOR, institution=world.institution, teams=[world.team])
    client = Client()
    client.force_login(admin)
    assert client.get(new_url(world)).status_code == 403
    response = client.post(new_url(world), upload_form(app_data.vcf()))
    assert response.status_code == 403
    assert not GenomicReport.objects.exists()


# --- upload -----------------------------------------------------------------------------------


def test_the_upload_form_shows_with_one_view_event(world: World, member_client):
    mark = last_event_id()
    page = member_client.get(new_url(world))
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()
    assert [e.action for e in events_after(mark)] == [AuditAction.VIEW]


def test_the_preview_shows_what_was_found_and_stores_no_row(world: World, member_client, settings):
    mark = last_event_id()
    page = member_client.post(new_url(world), upload_form(app_data.vcf()))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nothing has been saved yet" in html
    assert "EGFR" in html
    assert 'name="token"' in html
    assert not GenomicReport.objects.exists()
    assert not Variant.objects.exists()
    assert [e.action for e in events_after(mark)] == [AuditAction.VIEW]
    # Only the staged copy waits for the confirmation.
    assert [p.parent.name for p in stored_files(settings)] == ["pending"]


def test_confirming_the_preview_stores_the_report_once(world: World, member_client, settings):
    preview = member_client.post(new_url(world), upload_form(app_data.vcf()))
    token = re.search(r'name="token" value="([^"]+)"', preview.content.decode()).group(1)
    mark = last_event_id()
    response = member_client.post(new_url(world), {"token": token})
    report = GenomicReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(world, report)
    assert report.variants.count() == 4
    assert report.genes == ["EGFR", "KRAS", "TP53"]
    assert report.source_filename == "sample.vcf"
    assert [e.action for e in events_after(mark)] == [AuditAction.CREATE]
    # The staged copy is gone; the stored source remains.
    assert [p.parent.name for p in stored_files(settings)] == ["genomics"]
    # Confirming twice (a double click) does not store it twice.
    member_client.post(new_url(world), {"token": token})
    assert GenomicReport.objects.count() == 1


def test_a_token_of_another_user_is_refused(world: World, member_client):
    preview = member_client.post(new_url(world), upload_form(app_data.vcf()))
    token = re.search(r'name="token" value="([^"]+)"', preview.content.decode()).group(1)
    other = Client()
    other.force_login(world.oncologist)
    response = other.post(new_url(world), {"token": token}, follow=True)
    assert "expired or is not valid" in response.content.decode()
    assert not GenomicReport.objects.exists()


def test_a_malformed_file_previews_its_line_and_stages_nothing(
    world: World, member_client, settings
):
    data, line = app_data.vcf_with_bad_depth()
    page = member_client.post(new_url(world), upload_form(data))
    html = page.content.decode()
    assert page.status_code == 200
    assert f"line {line}</span>: " in html
    assert 'name="token"' not in html
    assert not GenomicReport.objects.exists()
    assert stored_files(settings) == []


def test_invalid_metadata_is_shown_on_the_form_and_stages_nothing(
    world: World, member_client, settings
):
    page = member_client.post(
        new_url(world), upload_form(app_data.vcf(), collection_date="1950-01-01")
    )
    html = page.content.decode()
    assert "collection date is before the date of birth" in html
    assert 'name="token"' not in html
    assert stored_files(settings) == []


def test_a_file_whose_name_gives_no_format_asks_for_one(world: World, member_client):
    page = member_client.post(new_url(world), upload_form(app_data.vcf(), name="report.bin"))
    assert "Choose the format" in page.content.decode()


def test_the_pages_carry_no_inline_script_or_style(world: World, member_client):
    report = make_report(world)
    for url in (list_url(world), new_url(world), detail_url(world, report)):
        html = member_client.get(url).content.decode()
        # Scripts only from files (the base page loads the projector-mode script), never inline.
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert "style=" not in html
        assert "<style" not in html


def test_the_list_page_costs_the_same_queries_for_one_report_or_many(
    world: World, member_client, django_assert_max_num_queries
):
    make_report(world)
    make_report(world, external_id="second", assay_name="Second panel", covered_mb=2.0)
    with django_assert_max_num_queries(12):
        page = member_client.get(list_url(world))
    assert page.content.decode().count("/genomics/") >= 2
