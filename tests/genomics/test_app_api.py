"""The genomic-report API: personas, one audit event per request, create (201), idempotent
resend (200), conflict (409), and validation errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditAction, AuditEvent
from genomics.models import Actionability, CopyNumberCall, FusionCall, GenomicReport, Variant
from tests.conftest import World
from tests.genomics import app_data

GENOMICS_TABLES = (GenomicReport, Variant, CopyNumberCall, FusionCall, Actionability)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def list_url(world: World) -> str:
    return reverse("api-genomic-report-list", kwargs={"public_id": world.patient.public_id})


def detail_url(world: World, report_id: str) -> str:
    return reverse(
        "api-genomic-report-detail",
        kwargs={"public_id": world.patient.public_id, "report_id": report_id},
    )


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events_after(mark: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))


def no_genomics_rows() -> bool:
    return all(not model.objects.exists() for model in GENOMICS_TABLES)


def post(client: APIClient, world: World, body: dict):
    return client.post(list_url(world), body, format="json")


def test_an_integration_client_stores_a_report_with_one_create_event(
    world: World, api_integration, settings
):
    mark = last_event_id()
    response = post(api_integration, world, app_data.api_body())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == "NGS-0001"
    assert body["tumour_type"] == "LUAD"
    assert body["kb_version"]
    assert [v["gene"] for v in body["variants"]] == ["EGFR"]
    assert body["copy_numbers"] == [
        {"gene": "ERBB2", "call": "amplification", "copy_number": 12.5, "log2_ratio": None}
    ]
    assert body["fusions"][0]["gene_3prime"] == "ALK"
    levelled = {a["kb_entry_id"] for a in body["actionability"] if a["level"]}
    assert "EGFR-L858R-NSCLC" in levelled
    assert any(a["gene"] == "ALK" and a["level"] for a in body["actionability"])
    # One variant over 1.2 Mb.
    assert body["tmb"] == pytest.approx(1 / 1.2)
    assert [(e.action, e.channel) for e in events_after(mark)] == [(AuditAction.CREATE, "api")]
    # The payload is kept as the report's source, under an opaque name.
    report = GenomicReport.objects.get()
    assert (Path(settings.MEDIA_ROOT) / report.source_file).is_file()


def test_resending_the_same_report_returns_it_with_200_and_stores_nothing_new(
    world: World, api_integration
):
    first = post(api_integration, world, app_data.api_body()).json()
    mark = last_event_id()
    again = post(api_integration, world, app_data.api_body())
    assert again.status_code == 200
    assert again.json()["public_id"] == first["public_id"]
    assert GenomicReport.objects.count() == 1
    assert Variant.objects.count() == 1
    assert [e.action for e in events_after(mark)] == [AuditAction.SYNC_UNCHANGED]


def test_a_different_report_under_a_known_external_id_is_a_409(world: World, api_integration):
    post(api_integration, world, app_data.api_body())
    changed = app_data.api_body()
    changed["report"]["variants"][0]["vaf"] = 0.5
    response = post(api_integration, world, changed)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert GenomicReport.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"covered_mb": None}, "covered_mb"),
        ({"covered_mb": 0}, "covered_mb"),
        ({"collection_date": "2022-13-01"}, "collection_date"),
        ({"collection_date": "1950-01-01"}, "collection_date"),
        ({"specimen_type": "saliva"}, "specimen_type"),
        ({"tumour_type": "NOTATYPE"}, "tumour_type"),
        ({"diagnosis_external_id": "nope"}, "diagnosis_external_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_metadata_is_a_400_naming_the_field(world: World, api_integration, change, field):
    body = {**app_data.api_body(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = post(api_integration, world, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert no_genomics_rows()


def test_an_invalid_variant_is_a_400_naming_its_path_and_stores_nothing(
    world: World, api_integration, settings
):
    body = app_data.api_body()
    body["report"]["variants"].append({"chrom": "7", "pos": "many", "ref": "A", "alt": "T"})
    response = post(api_integration, world, body)
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["report.variants[1].pos"]
    assert no_genomics_rows()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_the_list_has_one_list_event_and_no_rows(world: World, api_integration):
    post(api_integration, world, app_data.api_body())
    mark = last_event_id()
    response = api_integration.get(list_url(world))
    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["assay_name"] == "Lung panel v2"
    assert "variants" not in item
    assert [(e.action, e.object_type) for e in events_after(mark)] == [
        (AuditAction.LIST, "genomic_report")
    ]


def test_the_detail_has_one_view_event(world: World, api_integration):
    created = post(api_integration, world, app_data.api_body()).json()
    mark = last_event_id()
    response = api_integration.get(detail_url(world, created["public_id"]))
    assert response.status_code == 200
    assert response.json()["variants"][0]["hgvs_p"] == "p.Leu858Arg"
    assert [(e.action, e.object_id) for e in events_after(mark)] == [
        (AuditAction.VIEW, created["public_id"])
    ]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("member", 200),
        ("outsider", 404),
        ("integration", 200),
        ("foreign", 404),
        ("anonymous", 401),
    ],
)
def test_personas_reading_reports(world: World, persona, expected):
    created = post(_client(world, "integration"), world, app_data.api_body()).json()
    client = _client(world, persona)
    assert client.get(list_url(world)).status_code == expected
    assert client.get(detail_url(world, created["public_id"])).status_code == expected


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("member", 201),
        ("outsider", 404),
        ("integration", 201),
        ("foreign", 404),
        ("anonymous", 401),
    ],
)
def test_personas_storing_a_report(world: World, persona, expected):
    response = post(_client(world, persona), world, app_data.api_body())
    assert response.status_code == expected
    assert GenomicReport.objects.exists() == (expected == 201)


def test_an_unknown_report_of_a_visible_patient_is_a_404(world: World, api_integration):
    url = detail_url(world, "00000000-0000-4000-8000-000000000000")
    assert api_integration.get(url).status_code == 404


def _client(world: World, persona: str) -> APIClient:
    client = APIClient()
    if persona == "integration":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.integration_token}")
    elif persona == "foreign":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.foreign_integration_token}")
    elif persona != "anonymous":
        client.force_authenticate(getattr(world, persona))
    return client


def test_the_list_costs_the_same_queries_for_one_report_or_many(
    world: World, api_integration, django_assert_max_num_queries
):
    for n in range(3):
        post(api_integration, world, app_data.api_body(external_id=f"NGS-{n}", assay_name=f"P{n}"))
    # Auth token, patient lookup, audit insert, count, page: flat in the number of reports.
    with django_assert_max_num_queries(8):
        response = api_integration.get(list_url(world))
    assert len(response.json()["results"]) == 3
