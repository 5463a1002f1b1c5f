"""Production settings are checked in a fresh interpreter: settings are read once at import."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_"))
    }
    base.update({"ONCO_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def production_env() -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "oncoboard.hospital.example",
    }


def test_production_settings_pass_the_deploy_check_at_warning_level(
    tmp_path: Path, production_env: dict[str, str]
) -> None:
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production_env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_with_debug_on(
    tmp_path: Path, production_env: dict[str, str]
) -> None:
    result = run_manage(tmp_path, "check", **production_env, DJANGO_DEBUG="1")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be off" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(
    tmp_path: Path, production_env: dict[str, str]
) -> None:
    production_env.pop("DJANGO_SECRET_KEY")
    result = run_manage(tmp_path, "check", **production_env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_trivial_secret_key(
    tmp_path: Path, production_env: dict[str, str]
) -> None:
    result = run_manage(tmp_path, "check", **{**production_env, "DJANGO_SECRET_KEY": "a" * 60})
    assert result.returncode != 0
    assert "too short or too simple" in result.stderr


def test_an_unknown_environment_name_is_refused(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "check", DJANGO_ENV="prod")
    assert result.returncode != 0
    assert "DJANGO_ENV must be development, test or production" in result.stderr


def test_development_defaults_need_no_environment_and_keep_the_secret_private(
    tmp_path: Path,
) -> None:
    result = run_manage(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "secret_key"
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o077 == 0
