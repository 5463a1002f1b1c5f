"""Production settings as a browser sees them: one HTTPS request to the login page in a fresh
interpreter with DJANGO_ENV=production (settings are read once at import), checking the real
response headers and cookies. tests/core/test_production_settings.py covers `check --deploy`
and the start-up refusals; tests/core/test_security.py the lockout, the idle timeout and the CSP
of the development settings. This file adds what only production turns on, and no-store and
the CSP on the pages and API responses that carry patient data."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.conftest import World
from tests.core.test_production_settings import run_manage

HOST = "oncoboard.hospital.example"
# Hashed static names need collectstatic's manifest; the page is rendered with plain names.
PROBE = f"""
import json
from django.conf import settings
from django.test import Client, override_settings
storages = {{**settings.STORAGES, "staticfiles": {{
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}}}
with override_settings(STORAGES=storages):
    client = Client()
    https = client.get("/accounts/login/", secure=True, HTTP_HOST="{HOST}")
    http = client.get("/accounts/login/", HTTP_HOST="{HOST}")
print(json.dumps({{
    "status": https.status_code,
    "headers": dict(https.headers),
    "cookies": {{name: {{"secure": bool(c["secure"]), "httponly": bool(c["httponly"]),
                        "samesite": c["samesite"]}} for name, c in https.cookies.items()}},
    "http_status": http.status_code,
    "http_location": http.headers.get("Location"),
    "session": [settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_SECURE,
                settings.SESSION_COOKIE_HTTPONLY, settings.SESSION_COOKIE_AGE,
                settings.SESSION_SAVE_EVERY_REQUEST],
    "lockout": [settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME],
}}))
"""


@pytest.fixture(scope="module")
def production_response(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp_path: Path = tmp_path_factory.mktemp("production")
    result = run_manage(
        tmp_path,
        "shell",
        "-c",
        PROBE,
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS=HOST,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_sends_hsts_for_a_year_with_subdomains_and_preload(
    production_response: dict,
) -> None:
    assert production_response["status"] == 200
    hsts = production_response["headers"]["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains; preload"


def test_production_redirects_plain_http_to_https(production_response: dict) -> None:
    assert production_response["http_status"] == 301
    assert production_response["http_location"] == f"https://{HOST}/accounts/login/"


def test_production_pages_send_csp_nosniff_no_store_and_deny_framing(
    production_response: dict,
) -> None:
    headers = production_response["headers"]
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_production_cookies_are_host_only_secure_and_http_only(production_response: dict) -> None:
    csrf = production_response["cookies"]["__Host-csrftoken"]
    assert csrf == {"secure": True, "httponly": True, "samesite": "Lax"}
    name, secure, httponly, idle_seconds, renewed = production_response["session"]
    assert name == "__Host-sessionid"
    assert secure is True
    assert httponly is True
    assert 0 < idle_seconds <= 3600  # idle timeout (renewed on every request)
    assert renewed is True
    failures, hours = production_response["lockout"]
    assert 0 < failures <= 10
    assert hours > 0


def test_every_response_with_patient_data_is_no_store(
    world: World, member_client: Client, api_integration: APIClient
) -> None:
    public_id = world.patient.public_id
    pages = [
        reverse("oncology:patient-list"),
        reverse("oncology:patient-detail", kwargs={"public_id": public_id}),
        reverse("genomics:report-list", kwargs={"public_id": public_id}),
        reverse("imaging:study-list", kwargs={"public_id": public_id}),
        reverse("imaging:radiomics", kwargs={"public_id": public_id}),
    ]
    for url in pages:
        response = member_client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url
        assert "default-src 'self'" in response["Content-Security-Policy"], url
        assert response["X-Content-Type-Options"] == "nosniff", url
    for url in ["/api/v1/patients/", f"/api/v1/patients/{public_id}/"]:
        response = api_integration.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url
        assert response["X-Content-Type-Options"] == "nosniff", url
    # A refusal is no-store too: it must not be served from a cache to the next user.
    refused = APIClient().get(f"/api/v1/patients/{public_id}/")
    assert refused.status_code == 401
    assert refused["Cache-Control"] == "no-store"
