"""Fault injection: processes this test starts and then kills, restarts or cuts off.

Everything here is started by the test on a free loopback port, in a temporary directory, and
stopped by it: a private redis-server (never the shared 6379), a private PostgreSQL cluster
(never the shared 5432), gunicorn serving the app, Celery workers (the parent conftest's
`workers`). Each helper stops only the process ids it started.
"""

from __future__ import annotations

import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.celery import app as celery_app
from core.jobs import jobs_reconcile
from core.models import AuditEvent, Job, JobStatus
from tests.conftest import require_services
from tests.integration.conftest import REPO_ROOT, WorkerPool, _drop_connection_pools
from tests.integration.jobkinds import EFFECT

FINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(what: str) -> None:
    if require_services():
        pytest.fail(f"REQUIRE_SERVICES=1 but {what}", pytrace=False)
    pytest.skip(f"INTEGRATION TESTS SKIPPED: {what}")


def _stop_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stops a process this module started (its own process group), SIGKILL after 15 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- Redis -----------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    """A redis-server of our own; append-only file fsynced on every write, as a broker that
    must not lose messages in a restart is configured."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            _unavailable("redis-server is not installed")
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argument list)
                [
                    str(server),
                    "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", str(self.directory),
                    "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        import redis

        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"private redis did not start:\n{self.log()}", pytrace=False)
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-whatever, as a crashed host would."""
        if self.process is not None:
            _stop_group(self.process, signal.SIGKILL)

    def log(self) -> str:
        return (self.directory / "redis.log").read_text(errors="replace")


@pytest.fixture
def private_redis(integration_services: str, tmp_path: Path) -> Iterator[PrivateRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def redis_workers(private_redis: PrivateRedis, tmp_path: Path) -> Iterator[WorkerPool]:
    """Workers on the private Redis, and this process's Celery app pointed at it (and back)."""
    saved = {
        "task_always_eager": celery_app.conf.task_always_eager,
        "broker_url": celery_app.conf.broker_url,
    }
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = private_redis.url()
    _drop_connection_pools()
    pool = WorkerPool(private_redis.url(), tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        for worker in pool.workers:
            print(f"----- log of worker {worker.name} -----\n{worker.log()}")
        _drop_connection_pools()
        celery_app.conf.update(saved)


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3])
    if not found:
        _unavailable(f"PostgreSQL's {name} is not installed (/usr/lib/postgresql/*/bin)")
    return str(found[-1])


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb, trust auth on loopback, socket in its own
    directory). initdb and the server refuse to run as root: as root they run as `postgres`."""

    root: Path
    port: int = field(default_factory=free_port)

    def _as_owner(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        return ["runuser", "-u", "postgres", "--", *command]

    def _run(self, command: list[str], timeout: float = 60) -> None:
        done = subprocess.run(  # noqa: S603 (fixed argument list)
            self._as_owner(command), capture_output=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(command[:2])} failed:\n{done.stdout.decode()}{done.stderr.decode()}",
                pytrace=False,
            )

    def init(self) -> None:
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                _unavailable("running as root and there is no postgres user to own a cluster")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(
            [
                _pg_bin("initdb"), "-D", str(self.root / "data"), "-U", "postgres",
                "--auth=trust", "-E", "UTF8", "--no-sync",
            ]
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [
                _pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "pg.log"),
                "-o", options, "-w", "-t", "30", "start",
            ]
        )  # fmt: skip

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, running transactions roll back."""
        self._run([_pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"])

    def running(self) -> bool:
        return (self.root / "data" / "postmaster.pid").exists()

    def url(self, database: str = "oncoboard") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.root / "pg.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def private_postgres(integration_services: str) -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
    cluster = PrivatePostgres(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            try:
                cluster.stop()
            except BaseException:  # noqa: BLE001 (best effort; pytest.fail raises Failed)
                print("private PostgreSQL did not stop cleanly")
        print(f"----- log of the private PostgreSQL -----\n{cluster.log()[-4000:]}")
        shutil.rmtree(root, ignore_errors=True)


def copy_database(source_url: str, cluster: PrivatePostgres) -> None:
    """The migrated test database (schema and rows) copied into the private cluster as
    "oncoboard": pg_dump | pg_restore takes a second where `migrate` takes twenty."""
    dump = cluster.root / "copy.dump"
    with dump.open("wb") as out:
        done = subprocess.run(  # noqa: S603 (fixed argument list)
            [_pg_bin("pg_dump"), "-Fc", "--no-owner", "-d", source_url],
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"pg_dump failed: {done.stderr.decode()}", pytrace=False)
    for command in (
        [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
         "oncoboard"],
        [_pg_bin("pg_restore"), "--no-owner", "-d", cluster.url(), str(dump)],
    ):  # fmt: skip
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)  # noqa: S603
        if done.returncode != 0:
            pytest.fail(f"{command[0]} failed: {done.stderr.decode()}", pytrace=False)


# --- the app over HTTP -----------------------------------------------------------------------


@dataclass
class AppServer:
    """gunicorn serving config.wsgi, in its own process group."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, str]:
        """(status, lower-cased headers, body); no redirects followed."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            body = response.read().decode(errors="replace")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            connection.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"gunicorn did not start:\n{self.log()}", pytrace=False)
            time.sleep(0.3)

    def stop(self) -> None:
        _stop_group(self.process)


def start_app_server(tmp_path: Path, env: dict[str, str]) -> AppServer:
    """Starts gunicorn; call `wait_until_up` before the first request (start a worker
    meanwhile: both spend their first seconds importing the project)."""
    port = free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--threads", "4", "--timeout", "60", "--graceful-timeout", "5",
        "--access-logfile", "-", "--error-logfile", "-",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (fixed argument list)
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return AppServer(process, port, log_path)


# --- jobs ------------------------------------------------------------------------------------


def effect_counts(jobs: Iterable[Job]) -> Counter[str]:
    """How many effects (audit rows written by the handler) each job left: the truth about
    "exactly once", whatever the statuses say."""
    ids = {str(job.public_id) for job in jobs}
    rows = AuditEvent.objects.filter(object_type=EFFECT, object_id__in=ids)
    counts = Counter(rows.values_list("object_id", flat=True))
    return Counter({job_id: counts.get(job_id, 0) for job_id in ids})


def wait_for_jobs(
    jobs: list[Job], *, timeout: float, reconcile_every: float | None = 0.5, **reconcile_args: int
) -> dict[str, int]:
    """Polls until every job is final, running the reconciler every `reconcile_every` seconds
    as beat would (only faster: the tests use leases of a few seconds). Returns the summed
    reconciler counts."""
    ids = [job.pk for job in jobs]
    totals: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    next_reconcile = time.monotonic()
    while True:
        pending = Job.objects.filter(pk__in=ids).exclude(status__in=FINAL)
        if not pending.exists():
            return dict(totals)
        if time.monotonic() > deadline:
            statuses = Counter(pending.values_list("status", flat=True))
            pytest.fail(f"jobs not final after {timeout}s: {dict(statuses)}", pytrace=False)
        if reconcile_every is not None and time.monotonic() >= next_reconcile:
            totals.update(jobs_reconcile(**reconcile_args))
            next_reconcile = time.monotonic() + reconcile_every
        time.sleep(0.1)


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (a prefork worker's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing ")".
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state not in {"Z", "X"}:  # a killed one not yet reaped: gone
            found.append(int(entry.name))
    return sorted(found)
