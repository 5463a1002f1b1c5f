"""PostgreSQL stopped and started again under a running app server and worker.

A private cluster (initdb on a free port, socket in its own temporary directory) holds a copy
of the migrated test database with a care team's patient, an integration token and a logged-in
session. gunicorn serves the app from it and a Celery worker runs jobs from it; the shared
server on 5432 is not touched (the test database there is only the source of the copy). During
the outage the API answers 503 in its JSON error format and pages a plain 503 page, with
Retry-After, no traceback and no patient data; afterwards both recover without a restart (the
persistent connection is health-checked, CONN_HEALTH_CHECKS). Jobs cut off mid-attempt and
jobs whose message arrived while the database was down all finish, once each.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from core.jobs import jobs_reconcile
from core.models import Job
from core.tasks import run_job
from tests.conftest import World
from tests.integration.conftest import WorkerPool, _database_url
from tests.integration.faults.conftest import (
    PrivatePostgres,
    copy_database,
    start_app_server,
)
from tests.integration.jobkinds import EFFECT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 5


def _app_env(database_url: str, broker_url: str, var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "CACHE_URL", "TEST_DATABASE_NAME", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_ENV="test",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        DJANGO_SECRET_KEY=settings.SECRET_KEY,  # the session below was signed with it
        ONCO_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


def _jobs(database_url: str, ids: list[int]) -> dict[int, tuple[str, int, int]]:
    """{job id: (status, attempts, effects)} read straight from the private database."""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT j.id, j.status, j.attempts, count(a.id) FROM core_job j "
            "LEFT JOIN core_auditevent a ON a.object_type = %s "
            "AND a.object_id = j.public_id::text WHERE j.id = ANY(%s) "
            "GROUP BY j.id, j.status, j.attempts",
            (EFFECT, ids),
        ).fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


@contextmanager
def _connected_to(cluster: PrivatePostgres) -> Iterator[None]:
    """This process's default connection on the private database for a moment (to run the
    reconciler there, as beat would), then back on the test database."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(cluster.port), NAME="oncoboard")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def test_postgres_restart_answers_clean_503s_recovers_by_itself_and_cut_off_jobs_finish(
    private_postgres: PrivatePostgres, workers: WorkerPool, world: World, tmp_path: Path
) -> None:
    browser = Client()
    browser.force_login(world.member)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    job_ids = [
        Job.objects.create(
            kind="it_effect", idempotency_key=f"pg-{i}", payload={"sleep_on": [1], "sleep": 1.5}
        ).pk
        for i in range(6)
    ]
    copy_database(_database_url(), private_postgres)
    database_url = private_postgres.url()
    env = _app_env(database_url, workers.broker_url, tmp_path / "var")
    server = start_app_server(tmp_path, env)
    try:
        worker = workers.start(
            lease_seconds=LEASE_SECONDS, extra_env={"DATABASE_URL": database_url}
        )
        server.wait_until_up()
        api = {"Authorization": f"Token {world.integration_token}"}
        page = {"Cookie": cookie}
        patient = world.patient
        status, _, body = server.get("/api/v1/patients/", api)
        assert status == 200
        assert patient.mrn in body
        status, _, body = server.get("/patients/", page)
        assert status == 200
        assert patient.family_name in body

        for job_id in job_ids:  # two run at once (concurrency 2), 1.5 s on their first attempt
            run_job.apply_async(args=(job_id,))
        deadline = time.monotonic() + 60
        while sum(s == "running" for s, _, _ in _jobs(database_url, job_ids).values()) < 2:
            if time.monotonic() > deadline:
                pytest.fail("the worker did not start the jobs", pytrace=False)
            time.sleep(0.05)

        private_postgres.stop()  # fast shutdown: both running attempts lose their connection
        stopped = time.monotonic()
        outage = [
            ("/api/v1/patients/", api),
            (f"/api/v1/patients/{patient.public_id}/", api),
            ("/patients/", page),
            (f"/patients/{patient.public_id}/", page),
            ("/healthz", {}),
        ]
        for path, headers in outage:
            status, response_headers, body = server.get(path, headers)
            assert status == 503, (path, status, body[:500])
            for secret in (patient.mrn, patient.family_name, patient.given_name):
                assert secret not in body
            assert "Traceback" not in body
            assert "psycopg" not in body
            assert "OperationalError" not in body
            if path == "/healthz":
                continue
            assert response_headers["retry-after"] == "5"
            if path.startswith("/api/"):
                assert response_headers["content-type"] == "application/json"
                assert json.loads(body)["error"]["code"] == "service_unavailable"
            else:
                assert response_headers["content-type"] == "text/html; charset=utf-8"
                assert "Temporarily unavailable" in body
        # The two attempts end while the database is down (cannot commit, cannot record their
        # failure) and the next messages' claims fail: each message is sent again in 5 s.
        time.sleep(max(0.0, stopped + 4 - time.monotonic()))
        private_postgres.start()
        started = time.monotonic()

        deadline = time.monotonic() + 30  # recovers by itself: same server processes
        while server.get("/healthz")[0] != 200:
            if time.monotonic() > deadline:
                pytest.fail("the app did not reconnect within 30 s", pytrace=False)
            time.sleep(0.2)
        recovered = time.monotonic() - started
        status, _, body = server.get("/api/v1/patients/", api)
        assert status == 200
        assert patient.mrn in body
        status, _, body = server.get(f"/patients/{patient.public_id}/", page)
        assert status == 200
        assert patient.family_name in body
        assert server.process.poll() is None

        # Cut-off attempts stay `running` until their lease expires; the reconciler (beat's
        # task in a deployment) re-queues them.
        deadline = time.monotonic() + 90
        next_reconcile = time.monotonic() + LEASE_SECONDS
        reconciled = []
        while True:
            jobs = _jobs(database_url, job_ids)
            if all(s == "succeeded" for s, _, _ in jobs.values()):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"jobs not done: {jobs}", pytrace=False)
            if time.monotonic() >= next_reconcile:
                with _connected_to(private_postgres):
                    reconciled.append(jobs_reconcile())
                next_reconcile = time.monotonic() + 2
            time.sleep(0.2)
        done = time.monotonic() - started
        worker.kill()  # done with it: no warm shutdown to wait for
    finally:
        server.stop()
        print(f"----- log of gunicorn -----\n{server.log()[-6000:]}")

    assert [effects for _, _, effects in jobs.values()] == [1] * 6  # once each
    cut_off = [job_id for job_id, (_, attempts, _) in jobs.items() if attempts >= 2]
    assert len(cut_off) >= 2  # the two attempts running at the stop never committed
    log = worker.log()
    assert "Retry in 5s" in log  # messages met the outage and were sent again
    assert ": 'succeeded'" in log
    print(
        f"FAULTS postgres-restart: outage {started - stopped:.1f}s, app answering again "
        f"{recovered:.1f}s after the start, 6 jobs ({len(cut_off)} re-run) done {done:.1f}s "
        f"after it; message retries {log.count('Retry in 5s')}; reconciler: {reconciled}"
    )
