"""Progress of a running job through the cache (core.jobs.job_progress_set / job_progress):
what a running job publishes is read back by key, and a cache outage never fails the job."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.cache import cache

from core.jobs import PROGRESS_KEY_PREFIX, job_progress, job_progress_set
from core.models import Job


@pytest.fixture
def job(db: None) -> Job:
    return Job.objects.create(kind="radiomics_run", idempotency_key="progress", attempts=2)


def test_published_progress_is_read_back_with_the_attempt(job: Job) -> None:
    assert job_progress(job) is None
    job_progress_set(job, stage="features", done=3, total=11)
    assert job_progress(job) == {"stage": "features", "done": 3, "total": 11, "attempt": 2}
    other = Job.objects.create(kind="radiomics_run", idempotency_key="other")
    assert job_progress(other) is None  # keyed by the job's public id


def test_something_else_under_the_key_is_no_progress(job: Job) -> None:
    cache.set(f"{PROGRESS_KEY_PREFIX}{job.public_id.hex}", "not a dict")
    assert job_progress(job) is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_a_cache_outage_neither_fails_the_job_nor_the_reader(
    job: Job, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    job_progress_set(job, stage="volume", done=0, total=11)  # no exception
    assert job_progress(job) is None
    assert "cache unavailable" in caplog.text
