"""Integration tests: a real Celery worker process on real Redis and PostgreSQL.

They need the test database on PostgreSQL (DATABASE_URL=postgres://...) and a Redis database to
use as broker (TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/15; scripts/test.sh sets both when
the services answer on 127.0.0.1). Without them the tests are skipped with a loud reason and a
banner at the end of the run; with REQUIRE_SERVICES=1 (CI) they fail instead.

The worker runs the project's own command line against the test database pytest-django
created, so every test here is django_db(transaction=True): rows must be committed for the
worker to see them, and the worker's writes are visible to the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from core.models import Job, JobStatus
from tests.conftest import require_services

SKIP_BANNER = "INTEGRATION TESTS SKIPPED"
WORKER_READY_SECONDS = 60
REPO_ROOT = Path(__file__).resolve().parents[2]


def _missing_services() -> str:
    """Why the integration tests cannot run here, or "" when they can."""
    problems = []
    if connection.vendor != "postgresql":
        problems.append(
            f"the test database is {connection.vendor}, not PostgreSQL (set DATABASE_URL)"
        )
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    if not redis_url:
        problems.append("TEST_REDIS_URL is not set")
    else:
        import redis

        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis at TEST_REDIS_URL does not answer ({type(exc).__name__})")
    return "; ".join(problems)


@pytest.fixture(scope="session")
def integration_services() -> str:
    """The broker URL, after checking PostgreSQL and Redis; skips (or fails on CI) without."""
    missing = _missing_services()
    if missing:
        if require_services():
            pytest.fail(f"REQUIRE_SERVICES=1 but {missing}", pytrace=False)
        pytest.skip(f"{SKIP_BANNER}: {missing}")
    return os.environ["TEST_REDIS_URL"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # A skip among hundreds of passes is easy to miss; a banner is not.
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and SKIP_BANNER in str(longrepr[-1]):
            reasons.add(str(longrepr[-1]).removeprefix("Skipped: "))
    if reasons:
        terminalreporter.write_sep("!", SKIP_BANNER, red=True, bold=True)
        for reason in sorted(reasons):
            terminalreporter.write_line(reason, red=True)
        terminalreporter.write_line(
            "Run with PostgreSQL (DATABASE_URL) and Redis (TEST_REDIS_URL), e.g. scripts/test.sh."
        )


@pytest.fixture
def broker(integration_services: str) -> Iterator[str]:
    """Points this process's Celery app at the real broker, and back afterwards."""
    import redis

    redis.Redis.from_url(integration_services).flushdb()  # no messages left from a past run
    saved = {
        "task_always_eager": celery_app.conf.task_always_eager,
        "broker_url": celery_app.conf.broker_url,
    }
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = integration_services
    _drop_connection_pools()
    try:
        yield integration_services
    finally:
        _drop_connection_pools()
        celery_app.conf.update(saved)


def _drop_connection_pools() -> None:
    # Celery builds its connection and producer pools for the broker URL of the first send
    # (even an eager one) and keeps them; a changed URL needs fresh pools.
    from kombu import pools

    pools.reset()  # kombu's global registry of producer pools, keyed by connection
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _database_url() -> str:
    db = connection.settings_dict  # NAME is the test database's once pytest-django set it up
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Worker:
    """One `celery worker` process group and its log file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    name: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group, as a machine dying mid-job would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class WorkerPool:
    broker_url: str
    tmp_path: Path
    workers: list[Worker] = field(default_factory=list)

    def start(self, *, lease_seconds: int = 900, extra_env: dict[str, str] | None = None) -> Worker:
        """A worker process; `extra_env` adds variables (e.g. CACHE_URL for a shared cache)."""
        name = f"it-{uuid.uuid4().hex[:8]}"
        log_path = self.tmp_path / f"{name}.log"
        celery = Path(sys.executable).with_name("celery")
        command = [
            str(celery) if celery.exists() else sys.executable,
            *([] if celery.exists() else ["-m", "celery"]),
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
            "-n",
            f"{name}@%h",
            "--include",
            "tests.integration.jobkinds",
        ]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"REDIS_URL", "CACHE_URL", "TEST_DATABASE_NAME", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            DJANGO_ENV="test",
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=_database_url(),
            CELERY_BROKER_URL=self.broker_url,
            ONCO_VAR_DIR=str(self.tmp_path / "var"),
            MEDIA_ROOT=str(settings.MEDIA_ROOT),  # the worker reads files the test uploads
            JOB_LEASE_SECONDS=str(lease_seconds),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 (fixed argument list)
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so killpg reaches the pool
            )
        worker = Worker(process, log_path, name)
        self.workers.append(worker)
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while " ready." not in worker.log():
            if process.poll() is not None or time.monotonic() > deadline:
                worker.kill()
                pytest.fail(f"worker {name} did not start:\n{worker.log()}", pytrace=False)
            time.sleep(0.2)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def workers(broker: str, tmp_path: Path) -> Iterator[WorkerPool]:
    """Starts workers on demand; stops them all afterwards and prints their logs (pytest shows
    a test's teardown output only when it failed)."""
    pool = WorkerPool(broker, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        for worker in pool.workers:
            print(f"----- log of worker {worker.name} -----\n{worker.log()}")


@pytest.fixture
def worker(workers: WorkerPool) -> Worker:
    return workers.start()


def wait_for_job(
    job: Job,
    statuses: set[str] | None = None,
    *,
    timeout: float = 30,
    until: Callable[[Job], bool] | None = None,
) -> Job:
    """Polls the job row until it reaches one of `statuses` (default: a final state)."""
    statuses = statuses or {JobStatus.SUCCEEDED, JobStatus.FAILED}
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if job.status in statuses and (until is None or until(job)):
            return job
        if time.monotonic() > deadline:
            pytest.fail(
                f"job {job.pk} still {job.status} (attempts {job.attempts}) after {timeout}s",
                pytrace=False,
            )
        time.sleep(0.1)


def wait_for_log(worker: Worker, text: str, count: int = 1, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while worker.log().count(text) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} not seen {count}x in the log of {worker.name}", pytrace=False)
        time.sleep(0.1)
