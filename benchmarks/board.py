"""The tumour-board case page with the demo cohort, against the < 1 s target.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncoboard .venv/bin/python benchmarks/board.py

Drops and recreates its own database (``oncoboard_bench_board``, or BENCH_DATABASE), runs
``demo_setup`` (the 400-patient demo cohort and its active outcome model), creates the demo
meeting (``oncology.demo.board.demo_board_create``: three ready lung cases with two CT studies,
a seed-outlined mask each and a genomic report, plus one case missing items) and then times,
through the full Django stack (test client: middleware, session auth, ATOMIC_REQUESTS, audit),
as the demo oncologist:

- the first GET of each case page (cold: measuring the masks assembles the volumes), then
- BENCH_ROUNDS rounds over every case page (warm), median and worst; target < 1 s;
- the meeting page, the meeting list and the PDF case report, for information.

Ratios are target / measured (>= 1.00x meets the target). Environment: BENCH_ROUNDS (20),
BENCH_PATIENTS (400, the demo cohort).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._django import setup_django  # noqa: E402  (needs ROOT on the path)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
PATIENTS = os.environ.get("BENCH_PATIENTS", "400")
TARGET_S = 1.0


def _timed_get(client, url: str) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        sys.exit(f"GET {url} answered {response.status_code}")
    return elapsed


def _row(name: str, times: list[float], target: float | None = None) -> None:
    med, worst = statistics.median(times), max(times)
    ratio = f"  {target / med:6.2f}x (median)  {target / worst:6.2f}x (worst)" if target else ""
    tgt = f"< {target * 1000:.0f} ms" if target else "-"
    print(f"{name:<34} {med * 1000:9.1f} ms {worst * 1000:9.1f} ms   {tgt:>9}{ratio}")


def main() -> None:
    setup_django("oncoboard_bench_board")
    from io import StringIO

    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from core.models import User
    from oncology.demo.board import demo_board_create

    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    start = time.perf_counter()
    call_command("demo_setup", "--patients", PATIENTS, stdout=StringIO())
    print(
        f"demo_setup ({PATIENTS} patients and the demo outcome model): "
        f"{time.perf_counter() - start:.1f} s"
    )
    start = time.perf_counter()
    demo = demo_board_create()
    print(f"demo meeting (imaging, genomics, predictions): {time.perf_counter() - start:.1f} s")

    from oncology.selectors_board import case_prediction

    shown = sum(case_prediction(case=c) is not None for c in demo.meeting.cases.all())
    print(f"cases with a prediction to show: {shown} of {demo.meeting.cases.count()}")
    client = Client()
    client.force_login(User.objects.get(username="demo-oncologist"))
    cases = list(demo.meeting.cases.order_by("position"))
    urls = [reverse("board:case-detail", kwargs={"case_id": c.public_id}) for c in cases]
    print(f"{'page':<34} {'median':>12} {'worst':>12}   {'target':>9}")
    _row("case page, first GET (cold)", [_timed_get(client, u) for u in urls])
    warm = [_timed_get(client, u) for _ in range(ROUNDS) for u in urls]
    _row(f"case page ({len(urls)} cases x {ROUNDS})", warm, TARGET_S)
    meeting = reverse("board:meeting-detail", kwargs={"meeting_id": demo.meeting.public_id})
    _row("meeting page", [_timed_get(client, meeting) for _ in range(ROUNDS)])
    _row("meeting list", [_timed_get(client, reverse("board:meeting-list")) for _ in range(5)])
    report = reverse("board:case-report", kwargs={"case_id": cases[0].public_id})
    _row("PDF case report", [_timed_get(client, report) for _ in range(5)])
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
