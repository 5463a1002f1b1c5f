"""The processes the harness starts, each in its own process group, and stops by that group.

Nothing here touches a process the harness did not start: ``Process.stop`` signals the group
of the child it created (``start_new_session``), never a name.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "oncoboard"


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM to the group this harness created, SIGKILL after ``grace_s``."""
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        except ProcessLookupError:
            pass


def _start(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(  # noqa: S603 (fixed argument list)
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log_path)


def _bin(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else name


def start_gunicorn(*, env: dict[str, str], port: int, workers: int, log_dir: Path) -> Process:
    """The app as docs/deploy.md serves it: gunicorn sync workers behind a proxy (loopback)."""
    command = [
        _bin("gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--log-level",
        "warning",
    ]
    env = {k: v for k, v in env.items() if k != "GUNICORN_CMD_ARGS"}
    return _start("gunicorn", command, env, log_dir)


def start_worker(*, env: dict[str, str], concurrency: int, log_dir: Path) -> Process:
    """One Celery worker (prefork), as docs/deploy.md step 6 runs it."""
    command = [
        _bin("celery"),
        "-A",
        "config",
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "-Q",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "info",
        "-n",
        f"load-{os.getpid()}@%h",
    ]
    return _start("celery-worker", command, env, log_dir)


def wait_http_ready(process: Process, port: int, timeout_s: float = 300.0) -> None:
    """Until ``/healthz`` answers 200 (the database answers too), or SystemExit. Booting five
    workers takes minutes on a busy 2-core machine (each imports the app)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if not process.alive():
            raise SystemExit(f"{process.name} exited:\n{process.log_tail()}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
            status = conn.getresponse().status
            if status == 200:
                return
            last = f"HTTP {status}"
        except (OSError, http.client.HTTPException) as exc:
            last = type(exc).__name__
        finally:
            conn.close()
        time.sleep(0.5)
    raise SystemExit(
        f"{process.name} did not answer /healthz in {timeout_s:.0f} s (last: {last}):\n"
        f"{process.log_tail()}"
    )


def wait_worker_ready(process: Process, timeout_s: float = 300.0) -> None:
    """Until the worker logs that it is ready to take tasks, or SystemExit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.alive():
            raise SystemExit(f"{process.name} exited:\n{process.log_tail()}")
        if " ready." in process.log_path.read_text(errors="replace"):
            return
        time.sleep(0.3)
    raise SystemExit(f"{process.name} was not ready in {timeout_s:.0f} s")
