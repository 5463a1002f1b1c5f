"""Regression tests for bugs the schemathesis run (test_api_schemathesis.py) found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.conftest import World
from tests.genomics.test_app_views import make_report


def test_updated_since_with_an_offset_postgresql_rejects_is_a_filter_not_a_500(
    world: World, api_integration: APIClient
) -> None:
    # ISO 8601 allows offsets to +-23:59; PostgreSQL refused -18:35 with a DataError (500).
    response = api_integration.get(
        "/api/v1/patients/", {"updated_since": "2000-01-23T06:00:09-18:35"}
    )
    assert response.status_code == 200
    assert [p["public_id"] for p in response.json()["results"]] == [str(world.patient.public_id)]
    # A moment that leaves datetime's range in UTC: before everything, after everything.
    early = api_integration.get("/api/v1/patients/", {"updated_since": "0001-01-01T00:00+05:00"})
    assert early.status_code == 200
    assert early.json()["count"] == 1
    late = api_integration.get("/api/v1/patients/", {"updated_since": "9999-12-31T23:00-05:00"})
    assert late.status_code == 200
    assert late.json()["count"] == 0


def test_a_sub_record_entered_on_a_page_reads_back_with_a_null_external_id_the_schema_allows(
    world: World, api_integration: APIClient
) -> None:
    # DiagnosisFactory, like the record forms, leaves external_id empty (null).
    record = api_integration.get(f"/api/v1/patients/{world.patient.public_id}/").json()
    assert record["diagnoses"][0]["external_id"] is None
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    read = components["DiagnosesItemOut"]["properties"]["external_id"]
    assert read.get("nullable") is True
    # A write still has to name it.
    write = components["DiagnosesItemRequest"]
    assert "external_id" in write["required"]
    assert not write["properties"]["external_id"].get("nullable")


def test_a_genomic_report_without_msi_status_reads_back_as_the_schema_allows(
    world: World, api_integration: APIClient, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    report = make_report(world)
    url = f"/api/v1/patients/{world.patient.public_id}/genomic-reports/{report.public_id}/"
    body = api_integration.get(url).json()
    assert body["msi_status"] == ""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    refs = [
        option["$ref"].rsplit("/", 1)[1]
        for option in components["GenomicReportOut"]["properties"]["msi_status"]["oneOf"]
    ]
    allowed = {value for name in refs for value in components[name]["enum"]}
    assert body["msi_status"] in allowed
    assert {"MSI-H", "MSS"} <= allowed
