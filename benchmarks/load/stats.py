"""Statistics and schedules of the load harness: pure Python, no Django, no network.

- ``percentile``: linear interpolation between the closest ranks (Hyndman & Fan type 7, the
  default of numpy and of spreadsheet PERCENTILE.INC);
- ``fixed_rate_schedule``: open-loop arrivals at a fixed rate (request i at i / rate);
- ``spread_schedule``: n arrivals spread evenly over a window (i * window / n);
- ``dispatch_open_loop``: sends each request at its scheduled time on a thread pool;
- ``Recorder``: every request's latency, status and error, thread-safe;
- ``summarise`` and ``goal_row``: the per-scenario figures and the table rows.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0 <= q <= 100) of ``values``, linearly interpolated (type 7).

    For sorted x[0..n-1] the rank is h = (n - 1) * q / 100 and the value
    x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0-100")
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def fixed_rate_schedule(rate_per_s: float, duration_s: float) -> list[float]:
    """Send times (seconds from the start) of an open-loop client at a fixed arrival rate:
    request i at i / rate, every time before ``duration_s`` (rate x duration requests)."""
    if rate_per_s <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    count = math.ceil(rate_per_s * duration_s - 1e-9)
    return [i / rate_per_s for i in range(count)]


def spread_schedule(count: int, window_s: float) -> list[float]:
    """``count`` arrivals spread evenly over ``window_s``: arrival i at i * window / count
    (the first at 0, the last one step before the end of the window)."""
    if count <= 0 or window_s <= 0:
        raise ValueError("count and window must be positive")
    return [i * window_s / count for i in range(count)]


def dispatch_open_loop(
    schedule: Sequence[float],
    send: Callable[[int, float], object],
    *,
    workers: int,
    zero: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], object] = time.sleep,
) -> list[float]:
    """Open loop: hand request i to a pool of ``workers`` threads at ``zero + schedule[i]``,
    whatever the earlier requests are doing (a slow answer does not delay the next arrival, as
    it would in a closed loop). Returns when every send has returned (re-raising the first
    exception); the list holds each request's dispatch time relative to ``zero``."""
    start = clock() if zero is None else zero
    dispatched: list[float] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = []
        for index, at in enumerate(schedule):
            delay = start + at - clock()
            if delay > 0:
                sleep(delay)
            dispatched.append(clock() - start)
            futures.append(pool.submit(send, index, at))
        for future in futures:
            future.result()
    return dispatched


@dataclass(frozen=True)
class Sample:
    kind: str  # request class, e.g. "patient page", "static", "api read"
    start_s: float  # send time, seconds from the scenario's start
    latency_s: float  # send to last byte of the response
    status: int  # HTTP status, 0 when no response came
    error: str  # "" when the request succeeded


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def of(self, kinds: Sequence[str] | None = None) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if kinds is None or s.kind in kinds]


@dataclass(frozen=True)
class Summary:
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    per_s: float  # requests per second over ``duration_s``
    error_examples: tuple[str, ...]


def summarise(samples: Sequence[Sample], duration_s: float) -> Summary:
    """Percentiles of every sample's latency (failed ones included: a slow error is slow),
    the error count, and the rate over the scenario's duration."""
    if not samples:
        return Summary(0, 0, math.nan, math.nan, math.nan, math.nan, 0.0, ())
    latencies = [s.latency_s * 1000.0 for s in samples]
    failed = [s for s in samples if s.error]
    examples: dict[str, None] = {}
    for s in failed:
        examples.setdefault(f"{s.kind}: {s.error}", None)
    return Summary(
        count=len(samples),
        errors=len(failed),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies),
        per_s=len(samples) / duration_s if duration_s > 0 else math.nan,
        error_examples=tuple(list(examples)[:5]),
    )


def ratio(measured: float, goal: float) -> str:
    """measured / goal, as the brief of issue 8 asks (<= 1.00 meets an upper bound)."""
    if goal == 0:
        return "-"
    return f"{measured / goal:.2f}"


@dataclass(frozen=True)
class GoalRow:
    metric: str
    measured: str
    goal: str
    ratio: str
    met: bool | None  # None: no goal, information only

    def cells(self) -> list[str]:
        verdict = "" if self.met is None else ("yes" if self.met else "NO")
        return [self.metric, self.measured, self.goal, self.ratio, verdict]


def goal_row(metric: str, measured: float, goal: float | None, unit: str = "ms") -> GoalRow:
    """A row for an upper-bound goal (latency, errors); ``goal=None`` for information."""
    shown = f"{measured:,.0f}" if unit == "" else f"{measured:,.1f} {unit}"
    if goal is None:
        return GoalRow(metric, shown, "-", "-", None)
    goal_text = f"{goal:,.0f}" if unit == "" else f"< {goal:,.0f} {unit}"
    if goal == 0:  # "0 errors": the ratio is undefined; met when nothing failed
        return GoalRow(metric, shown, "0", "-", measured == 0)
    return GoalRow(metric, shown, goal_text, ratio(measured, goal), measured < goal)


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A Markdown pipe table, padded so it also reads in a terminal."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
