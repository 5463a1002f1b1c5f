from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import World


def test_login_locks_the_account_after_repeated_failures(world: World) -> None:
    client = Client()
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "member", "password": "wrong-password-123"})
        assert response.status_code == 200  # the form again, with an error
    response = client.post(url, {"username": "member", "password": "wrong-password-123"})
    assert response.status_code == 429  # the failure that reaches the limit locks
    # Now even the right password is refused until the cool-off ends.
    response = client.post(url, {"username": "member", "password": "correct-horse-battery-9"})
    assert response.status_code == 429
    assert b"temporarily locked" in response.content
    assert "_auth_user_id" not in client.session


def test_login_with_the_right_password_succeeds_before_lockout(world: World) -> None:
    client = Client()
    response = client.post(
        reverse("login"), {"username": "member", "password": "correct-horse-battery-9"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(world.member.pk)


def test_passwords_are_hashed_with_argon2(world: World) -> None:
    world.member.refresh_from_db()
    assert world.member.password.startswith("argon2$")


def test_sessions_expire_after_idle_time_and_renew_on_activity(member_client: Client) -> None:
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert 0 < settings.SESSION_COOKIE_AGE <= 60 * 60
    url = reverse("oncology:patient-list")
    assert member_client.get(url).status_code == 200
    session = Session.objects.get(session_key=member_client.session.session_key)
    # Activity pushed the server-side expiry a full idle period ahead.
    remaining = (session.expire_date - timezone.now()).total_seconds()
    assert settings.SESSION_COOKIE_AGE - 60 < remaining <= settings.SESSION_COOKIE_AGE
    # After the idle period the same cookie no longer authenticates.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now())
    response = member_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_patient_pages_are_not_cached() -> None:
    response = Client().get(reverse("healthz"), HTTP_X_REQUEST_ID="abcdef12-3456")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abcdef12-3456"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_a_request_id_that_could_smuggle_text_into_logs_is_replaced() -> None:
    response = Client().get(reverse("healthz"), HTTP_X_REQUEST_ID="Smith, John\nDOB 1960")
    assert response["X-Request-ID"] != "Smith, John\nDOB 1960"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_pages_send_a_content_security_policy_that_allows_only_this_origin() -> None:
    response = Client().get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_only_administrators_browse_the_audit_trail(world: World, member_client: Client) -> None:
    assert member_client.get(reverse("audit:trail")).status_code == 403
    admin = Client()
    world.member.role = "administrator"
    world.member.save()
    admin.force_login(world.member)
    response = admin.get(reverse("audit:trail"))
    assert response.status_code == 200
    assert b"Audit trail" in response.content
