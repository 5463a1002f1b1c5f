"""Site-wide pages: sign-in, the audit trail, and the error pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.audit import audit_record
from core.models import Role
from tests.conftest import World
from tests.factories import UserFactory


@pytest.fixture
def admin_client(world: World) -> Client:
    admin = UserFactory(username="admin", role=Role.ADMINISTRATOR, institution=world.institution)
    client = Client()
    client.force_login(admin)
    return client


def test_sign_in_page_labels_its_fields_and_has_a_skip_link(db: None) -> None:
    body = Client().get(reverse("login")).content.decode()
    assert '<label for="id_username">' in body
    assert '<label for="id_password">' in body
    assert 'href="#main"' in body


def test_audit_trail_is_for_administrators_only(world: World, admin_client: Client) -> None:
    url = reverse("audit:trail")
    assert admin_client.get(url).status_code == 200
    member = Client()
    member.force_login(world.member)
    assert member.get(url).status_code == 403
    integration = Client()
    integration.force_login(world.integration)
    assert integration.get(url).status_code == 403
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))


def test_audit_trail_lists_and_filters_events(world: World, admin_client: Client) -> None:
    audit_record(
        actor=world.member,
        action="view",
        object_type="patient",
        object_id="abc",
        patient_id=world.patient.pk,
    )
    audit_record(actor=world.oncologist, action="update", object_type="surgery", object_id=7)
    url = reverse("audit:trail")
    body = admin_client.get(url).content.decode()
    assert "member" in body
    assert "oncologist" in body
    assert 'for="f-actor"' in body
    filtered = admin_client.get(url, {"action": "update"}).content.decode()
    assert "surgery" in filtered
    assert "Viewed" not in filtered
    # Events hold identifiers only: the trail shows no patient names.
    assert world.patient.family_name not in body


def test_error_pages_are_the_sites_own(world: World) -> None:
    member = Client()
    member.force_login(world.member)
    outsider = Client()
    outsider.force_login(world.outsider)
    not_found = outsider.get(reverse("oncology:patient-detail", args=[world.patient.public_id]))
    assert not_found.status_code == 404
    assert "outside your care teams" in not_found.content.decode()
    forbidden = member.get(reverse("audit:trail"))
    assert forbidden.status_code == 403
    assert "Your role cannot open this page" in forbidden.content.decode()
