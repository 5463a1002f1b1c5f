"""The three scenarios of issue 8, section 3, against a running app.

1. ``clinicians``: closed loop, N logged-in clinicians browsing their teams' patient pages and
   board case pages with think time, for the duration.
2. ``sync``: open loop, a hospital system at a fixed arrival rate through the REST API (reads
   and writes) while the Celery worker extracts radiomic features; the queue is kept fed during
   the window, then timed until it drains.
3. ``board``: M board members (distinct users) opening the same case, arrivals spread evenly
   over a few seconds, each loading the page and everything it loads, with a browser's six
   connections.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from benchmarks.load.client import Browser, page_assets
from benchmarks.load.fixture import World
from benchmarks.load.stats import (
    GoalRow,
    Recorder,
    Sample,
    dispatch_open_loop,
    fixed_rate_schedule,
    goal_row,
    percentile,
    spread_schedule,
    summarise,
)

BROWSER_CONNECTIONS = 6  # parallel connections per host in Chromium and Firefox
PAGE_KINDS = ("patient page", "case page", "patient list", "meeting page")


@dataclass
class Target:
    host: str
    port: int


@dataclass
class ScenarioResult:
    name: str
    command_goal: str
    duration_s: float
    rows: list[GoalRow]
    per_kind: list[list[str]]
    load: tuple[float, float, float]  # 1-min load average: start, max during, end
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return all(r.met is not False for r in self.rows)


class LoadSampler:
    """The 1-minute load average at the start, its maximum while running, and at the end."""

    def __init__(self) -> None:
        self.start = os.getloadavg()[0]
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            self.peak = max(self.peak, os.getloadavg()[0])

    def finish(self) -> tuple[float, float, float]:
        self._stop.set()
        end = os.getloadavg()[0]
        return self.start, max(self.peak, end), end


def _per_kind(recorder: Recorder, duration_s: float) -> list[list[str]]:
    kinds = sorted({s.kind for s in recorder.of()})
    rows = []
    for kind in kinds:
        s = summarise(recorder.of([kind]), duration_s)
        rows.append(
            [
                kind,
                f"{s.count}",
                f"{s.per_s:.2f}",
                f"{s.p50_ms:.0f}",
                f"{s.p95_ms:.0f}",
                f"{s.p99_ms:.0f}",
                f"{s.max_ms:.0f}",
                f"{s.errors}",
            ]
        )
    return rows


def _fetch_assets(browser: Browser, html: bytes, parallel: int = 1) -> list[float]:
    """Fetch what the page loads that this browser does not hold yet (a browser's cache:
    static files have hashed names and a year's max-age in production)."""
    urls = [u for u in page_assets(html) if u not in browser.cached]
    browser.cached.update(urls)
    if not urls:
        return []
    if parallel <= 1:
        return [browser.request("static", "GET", u).latency_s for u in urls]
    # More connections of the same browser, same cookies (static files need none).
    helpers = [
        Browser(
            browser.host, browser.port, recorder=browser.recorder, clock_zero=browser.clock_zero
        )
        for _ in range(min(parallel, len(urls)))
    ]
    lock = threading.Lock()
    pending = list(urls)
    latencies: list[float] = []

    def work(helper: Browser) -> None:
        while True:
            with lock:
                if not pending:
                    return
                url = pending.pop(0)
            latencies.append(helper.request("static", "GET", url).latency_s)

    threads = [threading.Thread(target=work, args=(h,)) for h in helpers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for h in helpers:
        h.close()
    return latencies


def warm_up(target: Target, world: World, *, timeout_s: float = 120.0) -> tuple[float, int]:
    """Until every gunicorn worker has served each page kind once: rounds of concurrent
    requests until a round's slowest is under a second (a fresh worker imports the app's views
    on its first request). Not measured; returns (seconds, rounds)."""
    person = world.clinicians[0]
    team = person.team
    paths = [
        "/patients/",
        f"/patients/{world.team_patients[team][0]}/",
        f"/boards/cases/{world.team_cases[team][0]}/" if world.team_cases[team] else "/patients/",
        f"/boards/{world.team_meetings[team][0]}/" if world.team_meetings[team] else "/patients/",
    ]
    start = time.perf_counter()
    rounds = 0
    while time.perf_counter() - start < timeout_s:
        rounds += 1
        slowest = [0.0]

        def hit(path: str, slowest: list[float] = slowest) -> None:
            b = Browser(
                target.host, target.port, cookies={world.session_cookie: person.session_key}
            )
            slowest[0] = max(slowest[0], b.request("warm-up", "GET", path).latency_s)
            api = Browser(
                target.host, target.port, headers={"Authorization": f"Token {world.api_token}"}
            )
            public_id = world.sync_patients[0][0]
            api.request("warm-up", "GET", f"/api/v1/patients/{public_id}/")
            b.close()
            api.close()

        threads = [threading.Thread(target=hit, args=(p,)) for p in paths * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if slowest[0] < 1.0 and rounds >= 2:
            break
    return time.perf_counter() - start, rounds


# --- 1. clinicians ---------------------------------------------------------------------------


def clinicians(
    target: Target,
    world: World,
    *,
    duration_s: float,
    think_s: tuple[float, float],
    users: int,
    seed: int,
    goal_p95_ms: float = 500.0,
) -> ScenarioResult:
    recorder = Recorder()
    people = world.clinicians[:users]
    zero = time.perf_counter()
    end = zero + duration_s
    sampler = LoadSampler()

    def browse(index: int) -> None:
        person = people[index]
        rng = random.Random(seed * 1000 + index)
        browser = Browser(
            target.host,
            target.port,
            cookies={world.session_cookie: person.session_key},
            recorder=recorder,
            clock_zero=zero,
        )
        patients = world.team_patients[person.team]
        cases = world.team_cases[person.team] or []
        meetings = world.team_meetings[person.team] or []
        # Already mid-session: start somewhere in the first think interval.
        time.sleep(rng.uniform(0.0, think_s[1]))
        first = True
        while time.perf_counter() < end:
            if first:
                kind, path = "patient list", "/patients/"
                first = False
            else:
                roll = rng.random()
                if roll < 0.55 or not cases:
                    kind, path = "patient page", f"/patients/{rng.choice(patients)}/"
                elif roll < 0.80:
                    kind, path = "case page", f"/boards/cases/{rng.choice(cases)}/"
                elif roll < 0.90 or not meetings:
                    kind, path = "patient list", f"/patients/?page={rng.randint(1, 2)}"
                else:
                    kind, path = "meeting page", f"/boards/{rng.choice(meetings)}/"
            response = browser.request(kind, "GET", path)
            if not response.error:
                _fetch_assets(browser, response.body)
            pause = rng.uniform(*think_s)
            if time.perf_counter() + pause >= end:
                break
            time.sleep(pause)
        browser.close()

    threads = [threading.Thread(target=browse, args=(i,)) for i in range(len(people))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - zero
    load = sampler.finish()
    pages = summarise(recorder.of(PAGE_KINDS), elapsed)
    everything = summarise(recorder.of(), elapsed)
    rows = [
        goal_row("page p50", pages.p50_ms, None),
        goal_row("page p95", pages.p95_ms, goal_p95_ms),
        goal_row("page p99", pages.p99_ms, None),
        goal_row("errors (all requests)", everything.errors, 0, unit=""),
        goal_row("pages/s", pages.per_s, None, unit="/s"),
        goal_row("requests/s incl. static", everything.per_s, None, unit="/s"),
    ]
    return ScenarioResult(
        name=f"1. {len(people)} clinicians browsing, {duration_s:.0f} s",
        command_goal=f"p95 < {goal_p95_ms:.0f} ms, 0 errors",
        duration_s=elapsed,
        rows=rows,
        per_kind=_per_kind(recorder, elapsed),
        load=load,
        notes=[
            f"closed loop, think time uniform {think_s[0]:g}-{think_s[1]:g} s between pages; "
            "pages = patient pages, case pages, patient list, meeting pages; static files "
            "fetched once per user (browser cache)"
        ],
        errors=list(everything.error_examples),
    )


# --- 2. hospital-system sync while workers extract features ----------------------------------

LAB_PANEL = (("718-7", 13.1, "g/dL"), ("2160-0", 0.9, "mg/dL"), ("6690-2", 6.2, "10^9/L"))


@dataclass(frozen=True)
class ApiCall:
    kind: str
    method: str
    path: str
    body: bytes | None
    ok: tuple[int, ...]


def sync_plan(world: World, count: int, seed: int) -> list[ApiCall]:
    """The hospital system's requests, in order: 60 % reads, 40 % writes (see README)."""
    from benchmarks.api_sync import realistic_record

    rng = random.Random(seed)
    rotation = list(world.sync_patients)
    rng.shuffle(rotation)
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).isoformat()
    today = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    calls = []
    writes = 0
    for i in range(count):
        roll = rng.random()
        public_id, mrn = rng.choice(world.sync_patients)
        if roll < 0.35:
            path = f"/api/v1/patients/{public_id}/"
            calls.append(ApiCall("api read record", "GET", path, None, (200,)))
        elif roll < 0.45:
            path = f"/api/v1/patients/?updated_since={since.replace('+', '%2B')}&page_size=50"
            calls.append(ApiCall("api list updated", "GET", path, None, (200,)))
        elif roll < 0.60:
            body = json.dumps({"mrn": mrn}).encode()
            path = "/api/v1/patients/lookup/"
            calls.append(ApiCall("api lookup mrn", "POST", path, body, (200,)))
        else:
            # Writes go round the living patients so one patient is not written twice at once.
            _, mrn = rotation[writes % len(rotation)]
            writes += 1
            if roll < 0.78:
                code, value, unit = LAB_PANEL[i % 3]
                record: dict[str, Any] = {
                    "mrn": mrn,
                    "labs": [
                        {
                            "external_id": f"load-{seed}-{i}",
                            "code": code,
                            "value": round(value * rng.uniform(0.85, 1.15), 2),
                            "unit": unit,
                            "collected_on": today.isoformat(),
                        }
                    ],
                }
                kind = "api write lab"
            elif roll < 0.93:
                record = {
                    "mrn": mrn,
                    "follow_ups": [
                        {
                            "external_id": f"load-{seed}-{i}",
                            "visit_date": today.isoformat(),
                            "disease_status": "stable",
                            "ecog": 1,
                        }
                    ],
                }
                kind = "api write follow-up"
            else:
                record = realistic_record(seed * 100_000 + i, rng)
                record["mrn"] = f"LOAD{seed % 100_000:05d}{i:06d}"
                kind = "api create patient"
            calls.append(
                ApiCall(kind, "POST", "/api/v1/patients/", json.dumps(record).encode(), (200, 201))
            )
    return calls


class RadiomicsFeeder:
    """Keeps ``depth`` radiomics jobs queued or running during the window, through the API as
    a research pipeline would request them; then times the queue until it drains."""

    def __init__(self, target: Target, world: World, *, depth: int, seed: int) -> None:
        self.world = world
        self.depth = depth
        self.target = target
        self.recorder = Recorder()
        self._local = threading.local()
        self._senders = ThreadPoolExecutor(max_workers=4)
        pool = [(t, p) for p in world.presets for t in world.radiomics]
        random.Random(seed).shuffle(pool)
        self.pool = pool
        self.submitted = 0
        self.checks = 0
        self.checks_with_waiting = 0
        self.exhausted_at: float | None = None

    @staticmethod
    def counts() -> dict[str, int]:
        from django.db.models import Count

        from core.models import Job

        rows = Job.objects.filter(kind="radiomics_run").values("status").annotate(n=Count("id"))
        return {r["status"]: r["n"] for r in rows}

    def submit(self, how_many: int, now: float) -> None:
        """Request the next ``how_many`` runs, four at a time (one client waiting on each
        answer in turn falls behind the worker when the server is slow)."""
        batch = []
        for _ in range(how_many):
            if self.submitted >= len(self.pool):
                if self.exhausted_at is None:
                    self.exhausted_at = now
                break
            batch.append(self.pool[self.submitted])
            self.submitted += 1

        def one(item: tuple[Any, str]) -> None:
            t, preset = item
            browser = getattr(self._local, "browser", None)
            if browser is None:
                browser = Browser(
                    self.target.host,
                    self.target.port,
                    headers={"Authorization": f"Token {self.world.research_token}"},
                    recorder=self.recorder,
                )
                self._local.browser = browser
            path = (
                f"/api/v1/patients/{t.patient_public_id}/imaging/series/"
                f"{t.series_public_id}/radiomics/"
            )
            body = json.dumps({"mask_id": t.mask_id, "preset": preset}).encode()
            browser.request("radiomics request", "POST", path, body, "application/json", ok=(202,))

        list(self._senders.map(one, batch))

    def feed(self, zero: float, end: float) -> None:
        from django.db import connection

        try:
            while time.perf_counter() < end:
                counts = self.counts()
                active = counts.get("queued", 0) + counts.get("running", 0)
                self.checks += 1
                self.checks_with_waiting += counts.get("queued", 0) > 0
                if active < self.depth:
                    self.submit(self.depth - active, time.perf_counter() - zero)
                time.sleep(0.25)
        finally:
            connection.close()

    def close(self) -> None:
        self._senders.shutdown()

    def drain(self, timeout_s: float) -> float | None:
        """Seconds until no radiomics job is queued or running, or None after ``timeout_s``."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout_s:
            counts = self.counts()
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                return time.perf_counter() - start
            time.sleep(0.25)
        return None


def sync(
    target: Target,
    world: World,
    *,
    duration_s: float,
    rate_per_s: float,
    worker_concurrency: int,
    seed: int,
    goal_p95_ms: float = 300.0,
    drain_timeout_s: float = 600.0,
) -> ScenarioResult:
    schedule = fixed_rate_schedule(rate_per_s, duration_s)
    plan = sync_plan(world, len(schedule), seed)
    recorder = Recorder()
    feeder = RadiomicsFeeder(target, world, depth=4 + 4 * worker_concurrency, seed=seed)
    # Fill the queue first, so the worker is busy from the first request on.
    feeder.submit(feeder.depth, 0.0)
    local = threading.local()
    lags: list[float] = []
    from_schedule: list[float] = []
    zero = time.perf_counter()
    end = zero + duration_s
    sampler = LoadSampler()

    def send(index: int, scheduled: float) -> None:
        call = plan[index]
        browser = getattr(local, "browser", None)
        if browser is None:
            browser = Browser(
                target.host,
                target.port,
                headers={"Authorization": f"Token {world.api_token}"},
                recorder=recorder,
                clock_zero=zero,
            )
            local.browser = browser
        lags.append(time.perf_counter() - zero - scheduled)
        content_type = "application/json" if call.body is not None else None
        browser.request(call.kind, call.method, call.path, call.body, content_type, ok=call.ok)
        # What the hospital system waited from the moment it meant to send (open loop: a
        # request that could not leave on time waited too).
        from_schedule.append(time.perf_counter() - zero - scheduled)

    feeding = threading.Thread(target=feeder.feed, args=(zero, end))
    feeding.start()
    # Enough threads that no request waits for a free one unless answers take ~10 s.
    dispatch_open_loop(schedule, send, workers=max(64, int(rate_per_s * 10)), zero=zero)
    sent_for = time.perf_counter() - zero
    feeding.join()
    window_end = time.perf_counter()
    drained = feeder.drain(drain_timeout_s)
    feeder.close()
    load = sampler.finish()
    counts = feeder.counts()
    api = summarise(recorder.of(), sent_for)
    radiomics = summarise(feeder.recorder.of(), sent_for)
    busy = feeder.checks_with_waiting / feeder.checks if feeder.checks else 0.0
    rows = [
        goal_row("API p50", api.p50_ms, None),
        goal_row("API p95", api.p95_ms, goal_p95_ms),
        goal_row("API p99", api.p99_ms, None),
        goal_row("API errors", api.errors, 0, unit=""),
        goal_row("achieved requests/s", api.per_s, None, unit="/s"),
        goal_row("max send lag (client)", max(lags) * 1000 if lags else 0.0, None),
        goal_row(
            "API p95 from the scheduled time",
            percentile([t * 1000 for t in from_schedule], 95) if from_schedule else 0.0,
            None,
        ),
        goal_row("radiomics jobs requested", feeder.submitted, None, unit=""),
        goal_row("radiomics request errors", radiomics.errors, 0, unit=""),
        goal_row("radiomics jobs failed", counts.get("failed", 0), 0, unit=""),
    ]
    drain_text = f"{drained:.1f} s" if drained is not None else f"> {drain_timeout_s:.0f} s"
    rows.append(
        GoalRow("queue drained after the window", drain_text, "drains", "-", drained is not None)
    )
    notes = [
        f"open loop at {rate_per_s:g} requests/s ({len(plan)} requests), token auth, mix: 35 % "
        "record reads, 10 % updated-since lists, 15 % MRN lookups, 18 % new labs, 15 % new "
        "follow-ups, 7 % new patients",
        f"radiomics: {feeder.submitted} runs requested through the API on {len(world.radiomics)} "
        f"synthetic CT series x {len(world.presets)} presets, at most {feeder.depth} queued or "
        f"running at a time; a job was waiting for the worker ({worker_concurrency} process(es)) "
        f"at {busy:.0%} of the 0.25-s checks during the window; succeeded "
        f"{counts.get('succeeded', 0)}, failed {counts.get('failed', 0)}",
        f"window ended {window_end - zero:.1f} s after the first request",
    ]
    if feeder.exhausted_at is not None:
        notes.append(
            f"WARNING: every (series, preset) pair was requested by t={feeder.exhausted_at:.0f} s:"
            " the worker may have idled before the end (more --radiomics-series)"
        )
    return ScenarioResult(
        name=f"2. hospital system at {rate_per_s:g} requests/s for {duration_s:.0f} s "
        "while the worker extracts features",
        command_goal=f"p95 < {goal_p95_ms:.0f} ms, 0 errors, the queue drains",
        duration_s=sent_for,
        rows=rows,
        per_kind=_per_kind(recorder, sent_for) + _per_kind(feeder.recorder, sent_for),
        load=load,
        notes=notes,
        errors=list(api.error_examples) + list(radiomics.error_examples),
    )


# --- 3. the board opens one case -------------------------------------------------------------


def board(
    target: Target,
    world: World,
    *,
    members: int,
    window_s: float,
    goal_p95_ms: float = 2000.0,
) -> ScenarioResult:
    recorder = Recorder()
    loads = Recorder()
    people = world.board_members[:members]
    schedule = spread_schedule(len(people), window_s)
    path = f"/boards/cases/{world.board_case}/"
    zero = time.perf_counter()
    sampler = LoadSampler()

    def open_case(person_index: int, at: float) -> None:
        person = people[person_index]
        browser = Browser(
            target.host,
            target.port,
            cookies={world.session_cookie: person.session_key},
            recorder=recorder,
            clock_zero=zero,
        )
        delay = zero + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        start = time.perf_counter()
        page = browser.request("case page", "GET", path)
        error = page.error
        if not error:
            _fetch_assets(browser, page.body, parallel=BROWSER_CONNECTIONS)
        browser.close()
        took = time.perf_counter() - start
        loads.add(Sample("page load", start - zero, took, page.status, error))

    threads = [threading.Thread(target=open_case, args=(i, at)) for i, at in enumerate(schedule)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - zero
    load = sampler.finish()
    full = summarise(loads.of(), elapsed)
    page = summarise(recorder.of(["case page"]), elapsed)
    everything = summarise(recorder.of(), elapsed)
    rows = [
        goal_row("page load p95 (HTML + assets)", full.p95_ms, goal_p95_ms),
        goal_row("page load p50", full.p50_ms, None),
        goal_row("page load max", full.max_ms, None),
        goal_row("case page (HTML) p95", page.p95_ms, goal_p95_ms),
        goal_row("errors (all requests)", everything.errors, 0, unit=""),
    ]
    per_kind = _per_kind(recorder, elapsed) + _per_kind(loads, elapsed)
    return ScenarioResult(
        name=f"3. {len(people)} board members open the same case within {window_s:g} s",
        command_goal=f"p95 < {goal_p95_ms:.0f} ms",
        duration_s=elapsed,
        rows=rows,
        per_kind=per_kind,
        load=load,
        notes=[
            f"arrivals evenly spread over {window_s:g} s, each a distinct user with an empty "
            f"browser cache: the case page, then its {_static_per_load(recorder)} static files "
            f"over {BROWSER_CONNECTIONS} connections; the survival plot's data is inline in the "
            "page (no separate data request)"
        ],
        errors=list(everything.error_examples),
    )


def _static_per_load(recorder: Recorder) -> int:
    pages = len(recorder.of(["case page"]))
    return len(recorder.of(["static"])) // pages if pages else 0


Scenario = Callable[..., ScenarioResult]
