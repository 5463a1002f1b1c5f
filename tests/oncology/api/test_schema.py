"""The OpenAPI schema and its docs page: valid, warning-free, and usable offline."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/v1/patients/",
        "/api/v1/patients/bulk/",
        "/api/v1/patients/{public_id}/",
        "/api/v1/me/",
        "/api/v1/patients/{public_id}/predictions/",
        "/api/v1/patients/{public_id}/predictions/{prediction_id}/",
        "/api/v1/outcome-models/",
        "/api/v1/outcome-models/{model_id}/",
    ):
        assert f"{path}:" in text


def test_the_schema_endpoint_serves_the_api(world):
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/patients/bulk/" in response.content.decode()


def test_the_docs_page_loads_only_local_assets_and_no_inline_script(world):
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    refs = _REF.findall(html)
    assert refs, "the page references its assets"
    assert all(ref.startswith(("/static/", "/api/v1/")) for ref in refs), refs
    assert "//" not in "".join(ref.split("?")[0] for ref in refs)
    # script-src 'self' in the site's CSP refuses inline scripts.
    assert not _INLINE_SCRIPT.search(html)


def test_the_docs_start_up_script_is_served_locally(world):
    html = Client().get("/api/v1/docs/").content.decode()
    script = next(ref for ref in _REF.findall(html) if ref.startswith("/api/v1/docs/"))
    response = Client().get(script.replace("&amp;", "&"))
    assert response.status_code == 200
    assert "/api/v1/schema/" in response.content.decode()
