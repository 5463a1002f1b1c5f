"""Outages at the edges of the job plumbing, without the services (the fault tests in
tests/integration/faults run them for real): the broker refusing a send, the database
unreachable when a message arrives, and the 503 answer of a request that meets a database
outage. The broker's and the database's failures are raised by stand-ins: they are the system
edges under test."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from core import tasks
from core.db_unavailable import server_error
from core.jobs import job_enqueue, job_send, jobs_reconcile, register_job_kind
from core.models import Job, JobStatus
from core.tasks import run_job


@register_job_kind("test_outage_noop")
def _noop(job: Job) -> dict[str, Any]:
    return {"ran": job.attempts}


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.django_db
def test_a_send_the_broker_refuses_leaves_the_job_queued_and_marked_unsent(monkeypatch) -> None:
    job = Job.objects.create(kind="test_outage_noop", idempotency_key="refused")
    monkeypatch.setattr(run_job, "apply_async", _refuse)

    assert job_send(job.pk) is False

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.enqueued_at is None


@pytest.mark.django_db(transaction=True)
def test_a_job_submitted_while_the_broker_is_down_is_kept_and_sent_by_the_reconciler(
    monkeypatch,
) -> None:
    monkeypatch.setattr(run_job, "apply_async", _refuse)
    job = job_enqueue(kind="test_outage_noop", payload={})  # on commit: refused, no exception
    job.refresh_from_db()
    assert (job.status, job.enqueued_at) == (JobStatus.QUEUED, None)
    monkeypatch.undo()  # the broker is back

    assert jobs_reconcile()["resent"] == 0  # a minute's grace for an on-commit send under way
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    assert jobs_reconcile()["resent"] == 1  # not 5 minutes: no message was ever sent

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED  # eager: it ran when sent
    assert job.result == {"ran": 1}


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_message_meeting_a_database_outage_is_sent_again_later(monkeypatch, error) -> None:
    def unreachable(job_id: int) -> None:
        raise error("connection failed: Connection refused")

    retries: list[dict[str, Any]] = []

    def retry(**kwargs: Any) -> Exception:
        retries.append(kwargs)
        return RuntimeError("retry scheduled")

    monkeypatch.setattr(tasks, "job_execute", unreachable)
    monkeypatch.setattr(run_job, "retry", retry)

    with pytest.raises(RuntimeError, match="retry scheduled"):
        run_job(42)

    assert len(retries) == 1
    assert retries[0]["countdown"] == tasks.DB_RETRY_SECONDS == 5
    assert retries[0]["max_retries"] == tasks.DB_RETRY_MAX == 60
    assert isinstance(retries[0]["exc"], error)


def _handled(path: str, exc: Exception):
    request = RequestFactory().get(path)
    try:
        raise exc
    except Exception:
        assert sys.exc_info()[1] is exc  # handler500 runs while Django handles the exception
        return server_error(request)


def test_the_api_answers_a_database_outage_with_a_json_503_and_retry_after() -> None:
    response = _handled(
        "/api/v1/patients/", OperationalError('connection to "db" failed: MRN0001 Doe')
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["error"]["code"] == "service_unavailable"
    assert "MRN0001" not in response.content.decode()


def test_a_page_answers_a_database_outage_with_a_plain_503_page() -> None:
    response = _handled("/patients/", InterfaceError("connection already closed: Doe"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    text = response.content.decode()
    assert "Temporarily unavailable" in text
    assert "Doe" not in text


def test_any_other_error_is_still_a_500() -> None:
    response = _handled("/patients/", ValueError("a bug"))

    assert response.status_code == 500
    assert "Retry-After" not in response
