"""The demo in the database: `load_demo_cohort` through the sync service and `demo_setup`
(institution, teams, users, credentials file, banner)."""

from __future__ import annotations

import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import AuditEvent, Role, User
from oncology.demo import setup as demo_setup
from oncology.demo.setup import (
    DEMO_INSTITUTION_NAME,
    DEMO_USERS,
    INTEGRATION_USERNAME,
    SYNTHETIC_NOTICE,
    read_credentials,
)
from oncology.models import RECORD_SECTIONS, CareTeam, Institution, Patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def _run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _record_counts() -> dict[str, int]:
    return {name: model.objects.count() for name, model in RECORD_SECTIONS.items()}


# --- load_demo_cohort ---------------------------------------------------------------------------


def test_loading_30_patients_creates_30_synthetic_patients_without_errors() -> None:
    output = _run("load_demo_cohort", "--patients", "30", "--seed", "11")
    assert "30 created" in output
    assert SYNTHETIC_NOTICE in output
    patients = Patient.objects.filter(institution__code="DEMO")
    assert patients.count() == 30
    assert patients.filter(is_synthetic=True).count() == 30
    assert not patients.filter(care_teams__isnull=True).exists()
    assert set(patients.values_list("given_name", flat=True)) == {"Demo"}
    counts = _record_counts()
    assert counts["diagnoses"] == 30
    assert counts["labs"] > 30
    assert counts["follow_ups"] > 30


def test_reloading_the_same_cohort_changes_nothing() -> None:
    _run("load_demo_cohort", "--patients", "30", "--seed", "11")
    before = _record_counts()
    stamps = dict(Patient.objects.values_list("mrn", "updated_at"))
    output = _run("load_demo_cohort", "--patients", "30", "--seed", "11")
    assert "0 created, 0 updated, 30 unchanged" in output
    assert _record_counts() == before
    assert dict(Patient.objects.values_list("mrn", "updated_at")) == stamps


def test_the_load_writes_as_the_demo_integration_client_and_is_audited() -> None:
    _run("load_demo_cohort", "--patients", "5")
    events = AuditEvent.objects.filter(object_type="patient", action="create")
    assert events.count() == 5
    assert set(events.values_list("actor_username", flat=True)) == {INTEGRATION_USERNAME}


def test_a_rejected_generated_record_fails_loudly_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oncology.demo.cohort import generate_cohort

    def broken(n: int, seed: int) -> list[dict[str, Any]]:
        records = generate_cohort(n, seed)
        # Stage IV without distant metastasis contradicts its own T, N, M at any site.
        records[1]["diagnoses"][0]["clinical_m"] = "M0"
        records[1]["diagnoses"][0]["clinical_stage"] = "IV"
        return records

    monkeypatch.setattr(demo_setup, "generate_cohort", broken)
    with pytest.raises(CommandError, match=r"DEMO-000002 diagnoses\[0\]\.clinical_stage"):
        _run("load_demo_cohort", "--patients", "4")
    assert Patient.objects.count() == 0


# --- demo_setup -----------------------------------------------------------------------------


def test_demo_setup_creates_institution_teams_users_token_and_cohort(tmp_path: Path) -> None:
    output = _run("demo_setup", "--patients", "8")
    institution = Institution.objects.get(code="DEMO")
    assert institution.name == DEMO_INSTITUTION_NAME
    assert set(CareTeam.objects.filter(institution=institution).values_list("code", flat=True)) == {
        "thoracic",
        "breast",
        "colorectal",
        "hepatobiliary",
    }
    assert Patient.objects.filter(institution=institution, is_synthetic=True).count() == 8
    for spec in DEMO_USERS:
        user = User.objects.get(username=spec.username)
        assert user.role == spec.role
        assert user.institution == institution
        assert user.care_teams.count() == (4 if spec.in_all_teams else 0)
    integration = User.objects.get(username=INTEGRATION_USERNAME)
    assert integration.role == Role.INTEGRATION
    assert not integration.has_usable_password()
    assert Token.objects.filter(user=integration).exists()
    assert "http://127.0.0.1:8000" in output
    assert SYNTHETIC_NOTICE in output


def test_printed_passwords_are_those_in_the_owner_only_file_and_they_work(tmp_path: Path) -> None:
    output = _run("demo_setup", "--patients", "0")
    path = tmp_path / "demo-credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = read_credentials(path)
    assert set(creds.passwords) == {spec.username for spec in DEMO_USERS}
    for username, password in creds.passwords.items():
        assert f"username: {username}" in output
        assert password in output
        assert len(password) >= 20
        assert User.objects.get(username=username).check_password(password)
    assert creds.token == Token.objects.get(user__username=INTEGRATION_USERNAME).key
    assert creds.token in output
    # Hashed in the database, never stored in clear.
    assert not User.objects.filter(password__in=list(creds.passwords.values())).exists()


def test_running_demo_setup_twice_is_idempotent_and_prints_the_same_credentials(
    tmp_path: Path,
) -> None:
    first = _run("demo_setup", "--patients", "6")
    counts = (User.objects.count(), CareTeam.objects.count(), Patient.objects.count())
    records = _record_counts()
    second = _run("demo_setup", "--patients", "6")
    assert "already loaded" in second
    assert (User.objects.count(), CareTeam.objects.count(), Patient.objects.count()) == counts
    assert _record_counts() == records
    banner = first[first.index("=" * 20) :]
    assert banner == second[second.index("=" * 20) :]


def test_a_lost_credentials_file_resets_the_demo_passwords(tmp_path: Path) -> None:
    _run("demo_setup", "--patients", "0")
    path = tmp_path / "demo-credentials.txt"
    old = read_credentials(path)
    path.unlink()
    output = _run("demo_setup", "--patients", "0")
    new = read_credentials(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for username in old.passwords:
        assert new.passwords[username] != old.passwords[username]
        assert new.passwords[username] in output
        user = User.objects.get(username=username)
        assert user.check_password(new.passwords[username])
        assert not user.check_password(old.passwords[username])
    assert new.token == old.token  # the token was never lost: it lives in the database


def test_the_printed_token_authenticates_the_api_as_the_demo_integration_client(
    tmp_path: Path,
) -> None:
    _run("demo_setup", "--patients", "0")
    token = read_credentials(tmp_path / "demo-credentials.txt").token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["username"] == INTEGRATION_USERNAME
    assert response.json()["institution"]["code"] == "DEMO"


def test_demo_setup_refuses_to_take_over_a_real_account_of_the_same_name() -> None:
    other = Institution.objects.create(code="north", name="North Hospital")
    User.objects.create_user(
        username="demo-admin", password="x" * 20, role=Role.CLINICIAN, institution=other
    )
    with pytest.raises(RuntimeError, match="is not the demo"):
        _run("demo_setup", "--patients", "0")


def test_demo_setup_refuses_to_run_in_production(settings: Any) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        _run("demo_setup", "--patients", "0")
    assert not User.objects.filter(username__startswith="demo-").exists()


@pytest.mark.django_db
def test_the_demo_administrator_manages_users_and_teams_in_the_admin_but_sees_no_patients(
    tmp_path: Path,
) -> None:
    institution, teams = demo_setup.demo_institution_ensure()
    creds = demo_setup.demo_users_ensure(
        institution=institution, teams=teams, path=tmp_path / "c.txt"
    )
    admin_name = next(u for u, role in creds.roles.items() if role == "administrator")
    client = Client()
    signed_in = client.post(
        "/accounts/login/", {"username": admin_name, "password": creds.passwords[admin_name]}
    )
    assert signed_in.status_code == 302
    assert client.get("/admin/core/user/").status_code == 200
    assert client.get("/admin/oncology/careteam/").status_code == 200
    assert client.get("/admin/core/auditevent/").status_code == 404  # not administered there
