"""Where the machine's CPU went during a scenario (Linux /proc): the app's web processes, its
PostgreSQL backends, the Celery worker, this harness, and everything else. On a shared
machine the latencies depend on what the others take; these figures say how much that was,
and what one request costs the server."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of process group ``pgid``, plus what
    their reaped children used."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(entry)
        # After the ")": state, ppid, pgrp, ..., utime (index 11), stime, cutime, cstime.
        if fields is not None and int(fields[2]) == pgid:
            total += sum(int(v) for v in fields[11:15])
    return total / TICK


def pid_cpu_s(pid: int) -> float | None:
    fields = _stat(str(pid))
    return None if fields is None else (int(fields[11]) + int(fields[12])) / TICK


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent not idle (all cores), since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuReading:
    web: float
    worker: float
    database: float
    harness: float
    machine: float
    backends: dict[int, float]  # PostgreSQL backend pid -> its CPU seconds


class CpuMeter:
    def __init__(self, *, web_pgid: int, worker_pgid: int | None, admin_url: str, db_name: str):
        self.web_pgid, self.worker_pgid = web_pgid, worker_pgid
        self.admin_url, self.db_name = admin_url, db_name

    def _backends(self) -> dict[int, float]:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.db_name]
            ).fetchall()
        found = {int(r[0]): pid_cpu_s(int(r[0])) for r in rows}
        return {pid: cpu for pid, cpu in found.items() if cpu is not None}

    def read(self) -> CpuReading:
        backends = self._backends()
        return CpuReading(
            web=group_cpu_s(self.web_pgid),
            worker=group_cpu_s(self.worker_pgid) if self.worker_pgid else 0.0,
            database=sum(backends.values()),
            harness=own_cpu_s(),
            machine=machine_busy_s(),
            backends=backends,
        )

    def since(self, start: CpuReading) -> CpuReading:
        """CPU seconds used since ``start``. Database: the backends of this run's database
        alive at the end (a backend that closed in between is not counted; the app keeps its
        connections for 60 s)."""
        now = self.read()
        database = sum(cpu - start.backends.get(pid, 0.0) for pid, cpu in now.backends.items())
        return CpuReading(
            web=now.web - start.web,
            worker=now.worker - start.worker,
            database=database,
            harness=now.harness - start.harness,
            machine=now.machine - start.machine,
            backends={},
        )


def cpu_rows(used: CpuReading, elapsed_s: float, requests: int) -> list[str]:
    """Notes: cores used by each part, and the server's CPU per request."""
    cores = os.cpu_count() or 1
    ours = used.web + used.worker + used.database
    others = max(used.machine - ours - used.harness, 0.0)

    def share(seconds: float) -> str:
        return f"{seconds / elapsed_s:.2f}"

    lines = [
        f"CPU over the scenario, in cores of {cores}: web {share(used.web)}, database "
        f"{share(used.database)}, worker {share(used.worker)}, this harness "
        f"{share(used.harness)}, every other process on the machine {share(others)}"
    ]
    if requests:
        lines.append(
            f"server CPU per request (web + database, all requests): "
            f"{(used.web + used.database) / requests * 1000:.1f} ms"
        )
    return lines
