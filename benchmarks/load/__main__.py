"""Load test of issue 8, section 3: see benchmarks/load/README.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncoboard REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python -m benchmarks.load [--scenario all] [--duration 60] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load import scenarios, servers  # noqa: E402
from benchmarks.load.cpu import CpuMeter, cpu_rows  # noqa: E402
from benchmarks.load.stats import table  # noqa: E402

SCENARIOS = ("clinicians", "sync", "board")


def _args(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (scenarios 1, 2)")
    parser.add_argument(
        "--quick", action="store_true", help="a 10 s smoke run with fewer radiomics series"
    )
    parser.add_argument(
        "--web-workers",
        type=int,
        default=2 * cores + 1,
        help="gunicorn sync workers (default 2 x cores + 1, gunicorn's rule)",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=cores,
        help="Celery worker processes (scenario 2; default: cores, as docs/deploy.md)",
    )
    parser.add_argument("--clinicians", type=int, default=50)
    parser.add_argument("--think", default="1,5", help="think time range, seconds (scenario 1)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s (scenario 2)")
    parser.add_argument("--board-members", type=int, default=30)
    parser.add_argument("--board-window", type=float, default=5.0)
    parser.add_argument("--patients", type=int, default=400, help="demo cohort size")
    parser.add_argument("--radiomics-series", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument(
        "--var-dir",
        default=os.environ.get("LOAD_VAR_DIR", str(Path(tempfile.gettempdir()) / "load-var")),
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 10.0)
        args.radiomics_series = min(args.radiomics_series, 8)
    low, _, high = args.think.partition(",")
    args.think_s = (float(low), float(high or low))
    return args


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cpus = f"{os.cpu_count()} CPUs ({model or platform.machine()})"
    return f"{cpus}{mem}, Python {platform.python_version()}"


def _environment(args: argparse.Namespace, database_url: str, run_dir: Path) -> dict[str, str]:
    """What the app's processes and this process share: production settings, one secret key
    (sessions made here are valid there), this run's database and files."""
    env = dict(os.environ)
    for key in ("DJANGO_SETTINGS_MODULE", "CACHE_URL", "CELERY_BROKER_URL", "TEST_DATABASE_NAME"):
        env.pop(key, None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        ONCO_VAR_DIR=str(Path(args.var_dir)),  # collected static files, shared between runs
        MEDIA_ROOT=str(run_dir / "media"),
        IMAGING_CACHE_DIR=str(run_dir / "cache"),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    chosen = SCENARIOS if args.scenario == "all" else (args.scenario,)
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to the PostgreSQL server to create the database on.")
    redis_url = os.environ.get("REDIS_URL", "")
    if "sync" in chosen and not redis_url:
        raise SystemExit("Set REDIS_URL to a Redis database of your own for scenario 2.")
    admin_url = urlunsplit(urlsplit(base_url)._replace(path="/postgres"))
    db_name = f"oncoboard_load_{os.getpid()}"
    run_dir = Path(args.var_dir) / f"run-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    started: list[servers.Process] = []

    from benchmarks.load import fixture

    print(f"machine: {_machine()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(f"command: python -m benchmarks.load {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    database_url = fixture.create_database(admin_url, db_name)
    results: list[scenarios.ScenarioResult] = []
    try:
        env = _environment(args, database_url, run_dir)
        # This process builds the world with jobs inline and no radiomics runs queued.
        os.environ.update({**env, "RADIOMICS_ON_NEW_MASKS": "false"})
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from django.core.management import call_command

        start = time.perf_counter()
        world = fixture.build_world(
            patients=args.patients, radiomics_series=args.radiomics_series, seed=args.seed
        )
        call_command("collectstatic", interactive=False, verbosity=0)
        from django.db import connections

        connections.close_all()
        print(
            f"set-up {time.perf_counter() - start:.0f} s in database {db_name}: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in world.timings.items())
        )
        server_env = {**env}
        if redis_url:
            server_env["REDIS_URL"] = redis_url
            import redis

            redis.Redis.from_url(redis_url).flushdb()  # this run's broker and cache only
        port = servers.free_port()
        web = servers.start_gunicorn(
            env=server_env, port=port, workers=args.web_workers, log_dir=run_dir
        )
        started.append(web)
        servers.wait_http_ready(web, port)
        target = scenarios.Target("127.0.0.1", port)
        took, rounds = scenarios.warm_up(target, world)
        print(
            f"gunicorn: {args.web_workers} sync workers on 127.0.0.1:{port}; warm-up (not "
            f"measured: each fresh worker imports the views) {took:.1f} s, {rounds} rounds"
        )
        if "sync" in chosen:
            worker = servers.start_worker(
                env=server_env, concurrency=args.worker_concurrency, log_dir=run_dir
            )
            started.append(worker)
            servers.wait_worker_ready(worker)
            print(f"celery worker: prefork, concurrency {args.worker_concurrency}")
        meter = CpuMeter(
            web_pgid=web.popen.pid,
            worker_pgid=started[1].popen.pid if len(started) > 1 else None,
            admin_url=admin_url,
            db_name=db_name,
        )
        for name in chosen:
            cpu_before = meter.read()
            clock = time.perf_counter()
            if name == "clinicians":
                result = scenarios.clinicians(
                    target,
                    world,
                    duration_s=args.duration,
                    think_s=args.think_s,
                    users=args.clinicians,
                    seed=args.seed,
                )
            elif name == "sync":
                result = scenarios.sync(
                    target,
                    world,
                    duration_s=args.duration,
                    rate_per_s=args.rate,
                    worker_concurrency=args.worker_concurrency,
                    seed=args.seed,
                )
            else:
                result = scenarios.board(
                    target, world, members=args.board_members, window_s=args.board_window
                )
            requests = sum(int(row[1]) for row in result.per_kind if row[0] != "page load")
            result.notes.extend(
                cpu_rows(meter.since(cpu_before), time.perf_counter() - clock, requests)
            )
            results.append(result)
            _print(result)
            for process in started:
                if not process.alive():
                    raise SystemExit(f"{process.name} died:\n{process.log_tail()}")
    finally:
        for process in reversed(started):
            process.stop()
        if not args.keep:
            try:
                fixture.drop_database(admin_url, db_name)
            except Exception as exc:  # noqa: BLE001 (report, do not mask the real error)
                print(f"could not drop {db_name}: {exc}")
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"kept database {db_name} and {run_dir}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0 if all(r.met for r in results) else 1


def _print(result: scenarios.ScenarioResult) -> None:
    print()
    print(f"## {result.name}")
    print(f"goal: {result.command_goal}; measured over {result.duration_s:.1f} s")
    start, peak, end = result.load
    print(f"load average (1 min): {start:.2f} at start, {peak:.2f} max, {end:.2f} at end")
    header = ["metric", "measured", "goal", "measured/goal", "met"]
    print(table([r.cells() for r in result.rows], header))
    print()
    print(
        table(
            result.per_kind,
            ["requests", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"],
        )
    )
    for note in result.notes:
        print(f"- {note}")
    for error in result.errors:
        print(f"- error: {error}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
