"""Shared set-up of the benchmark scripts: a fresh PostgreSQL database and Django on it."""

from __future__ import annotations

import os
import sys
import tempfile
from urllib.parse import urlsplit, urlunsplit


def bench_database(default_name: str) -> str:
    """Drop and recreate the benchmark's own database on DATABASE_URL's server; its URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the target is measured on PostgreSQL).")
    import psycopg

    name = os.environ.get("BENCH_DATABASE", default_name)
    if not name.replace("_", "").isalnum():
        sys.exit("BENCH_DATABASE must be a plain identifier.")
    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup_django(default_database: str) -> None:
    """Django on a fresh, migrated benchmark database, with the rate limit out of the way."""
    os.environ["DATABASE_URL"] = bench_database(default_database)
    os.environ.setdefault("ONCO_VAR_DIR", tempfile.mkdtemp(prefix="oncoboard-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # A client sending thousands of records or instances is the point here, not the rate limit.
    os.environ.setdefault("API_RATE_LIMIT", "100000/min")
    # One connection for the whole run, so its backend's CPU time can be read.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "3600")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
