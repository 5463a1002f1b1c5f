"""The load harness's statistics and schedules (benchmarks/load/stats.py), against values
computed by hand. No database, no network, no timing: the open-loop dispatcher runs on a fake
clock."""

from __future__ import annotations

import math
import threading

import pytest

from benchmarks.load.stats import (
    Sample,
    dispatch_open_loop,
    fixed_rate_schedule,
    goal_row,
    percentile,
    spread_schedule,
    summarise,
)


def test_percentile_interpolates_between_closest_ranks() -> None:
    ten = [float(v) for v in range(10, 0, -1)]  # 1..10, given unsorted
    # rank h = (n - 1) q / 100: p50 -> 4.5 -> 5 + 0.5 * (6 - 5); p95 -> 8.55 -> 9.55;
    # p99 -> 8.91 -> 9.91
    assert percentile(ten, 50) == pytest.approx(5.5)
    assert percentile(ten, 95) == pytest.approx(9.55)
    assert percentile(ten, 99) == pytest.approx(9.91)
    assert percentile(ten, 0) == 1.0
    assert percentile(ten, 100) == 10.0
    # The textbook example of linear interpolation: 40th percentile of 15, 20, 35, 40, 50 is
    # 20 + 0.6 * (35 - 20) = 29 (rank 1.6).
    assert percentile([15, 20, 35, 40, 50], 40) == pytest.approx(29.0)
    assert percentile([7.0], 95) == 7.0


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside 0-100"):
        percentile([1.0], 101)


def test_fixed_rate_schedule() -> None:
    times = fixed_rate_schedule(20, 60)
    assert len(times) == 1200
    assert times[0] == 0.0
    assert times[-1] == pytest.approx(59.95)
    assert all(b - a == pytest.approx(0.05) for a, b in zip(times, times[1:], strict=False))
    assert fixed_rate_schedule(2.5, 1) == pytest.approx([0.0, 0.4, 0.8])
    with pytest.raises(ValueError, match="positive"):
        fixed_rate_schedule(0, 10)


def test_spread_schedule() -> None:
    times = spread_schedule(30, 5.0)
    assert len(times) == 30
    assert times[0] == 0.0
    assert times[1] == pytest.approx(1 / 6)
    assert times[-1] == pytest.approx(29 / 6)
    assert max(times) < 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_open_loop_dispatches_on_schedule_while_earlier_requests_hang() -> None:
    clock = FakeClock()
    schedule = fixed_rate_schedule(4, 1.0)  # 0, 0.25, 0.5, 0.75
    release = threading.Event()
    started: list[int] = []
    lock = threading.Lock()

    def send(index: int, at: float) -> None:
        with lock:
            started.append(index)
            if len(started) == len(schedule):
                release.set()  # only once every request is out
        assert release.wait(timeout=10), "a request was held back until another one answered"

    dispatched = dispatch_open_loop(
        schedule, send, workers=len(schedule), clock=clock, sleep=clock.sleep
    )
    # Each request left exactly at its time on the fake clock, though none had answered.
    assert dispatched == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert clock.slept == pytest.approx([0.25, 0.25, 0.25])
    assert sorted(started) == [0, 1, 2, 3]


def test_open_loop_reraises_a_failed_send() -> None:
    def send(index: int, at: float) -> None:
        if index == 1:
            raise RuntimeError("boom")

    clock = FakeClock()
    with pytest.raises(RuntimeError, match="boom"):
        dispatch_open_loop([0.0, 0.1], send, workers=2, clock=clock, sleep=clock.sleep)


def test_summarise_counts_errors_and_rate() -> None:
    samples = [
        Sample(
            "page",
            i * 0.1,
            (i + 1) / 100.0,
            500 if i in (3, 7) else 200,
            "HTTP 500" if i in (3, 7) else "",
        )
        for i in range(10)
    ]  # latencies 10, 20, ..., 100 ms
    s = summarise(samples, duration_s=5.0)
    assert s.count == 10
    assert s.errors == 2
    assert s.p50_ms == pytest.approx(55.0)
    assert s.p95_ms == pytest.approx(95.5)  # rank 8.55: 90 + 0.55 * 10
    assert s.max_ms == pytest.approx(100.0)
    assert s.per_s == pytest.approx(2.0)
    assert s.error_examples == ("page: HTTP 500",)
    empty = summarise([], 5.0)
    assert empty.count == 0
    assert math.isnan(empty.p95_ms)


def test_goal_rows() -> None:
    met = goal_row("p95", 250.0, 500.0)
    assert met.cells() == ["p95", "250.0 ms", "< 500 ms", "0.50", "yes"]
    missed = goal_row("p95", 750.0, 500.0)
    assert missed.ratio == "1.50"
    assert missed.met is False
    assert goal_row("errors", 0, 0, unit="").met is True
    assert goal_row("errors", 3, 0, unit="").cells()[-1] == "NO"
    assert goal_row("p50", 12.0, None).met is None
