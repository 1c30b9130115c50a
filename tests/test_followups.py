"""Follow-ups: a finished chat job's outcome posted to its response_url, with retries."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge import followups as followup
from bridge import models
from tests.conftest import free_port, wait_until


def finished_job(services: Any, notify: dict[str, Any] | None, **fields: Any) -> int:
    """A finished job row as a sync leaves it; its id."""
    values: dict[str, Any] = {
        "profile_id": "4eb854340acb04e870000010",
        "account": "default",
        "client": "tests",
        "source": "slack",
        "kind": "set",
        "params": {"kind": "set", "days": ["mon"], "times": ["09:00"]},
        "status": models.SUCCEEDED,
        "result": {"diff": {"mon": {"before": ["12:00"], "after": ["09:00"]}}},
        "notify": notify,
        **fields,
    }
    with services.db.session() as session:
        job = models.Job(**values)
        session.add(job)
        session.flush()
        return job.id


def test_posts_the_outcome(services, receiver):
    job_id = finished_job(services, {"kind": "slack", "response_url": receiver.url})
    assert followup.deliver(services, job_id) == "sent"
    (posted,) = receiver.received
    assert posted["path"] == "/commands/T1/42/s3cr3tpath"
    assert posted["json"]["response_type"] == "ephemeral"
    assert posted["json"]["replace_original"] is False
    assert (
        posted["json"]["text"]
        == f"Done, job {job_id} (4eb854340acb04e870000010): mon: 12:00 → 09:00"
    )


def test_failed_job_says_what_buffer_said(services, receiver):
    job_id = finished_job(
        services,
        {"kind": "mattermost", "response_url": receiver.url},
        status=models.FAILED,
        result=None,
        error_status=403,
        error_code=1013,
        error_message="You've reached the schedule limit of 25 posts a day for this profile",
    )
    followup.deliver(services, job_id)
    text = receiver.received[0]["json"]["text"]
    assert text.startswith(f"Failed, job {job_id}")
    assert "does not allow this change" in text
    assert '"You\'ve reached the schedule limit of 25 posts a day for this profile"' in text
    assert "(HTTP 403, code 1013)" in text


@pytest.mark.parametrize(
    "notify", [None, {"kind": "email", "response_url": "x"}, {"kind": "slack"}]
)
def test_jobs_without_a_chat_target_are_skipped(services, notify):
    assert followup.deliver(services, finished_job(services, notify)) == "skipped"
    assert followup.deliver(services, 999_999) == "skipped"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_ask_for_a_retry_without_logging_the_url(services, receiver, status, caplog):
    receiver.failures, receiver.fail_status = 1, status
    job_id = finished_job(services, {"kind": "slack", "response_url": receiver.url})
    with pytest.raises(followup.RetryLater) as caught:
        followup.deliver(services, job_id)
    assert f"HTTP {status}" in str(caught.value)
    assert "s3cr3tpath" not in str(caught.value)


def test_unreachable_url_asks_for_a_retry(services):
    url = f"http://127.0.0.1:{free_port()}/commands/s3cr3tpath"
    job_id = finished_job(services, {"kind": "slack", "response_url": url})
    with pytest.raises(followup.RetryLater) as caught:
        followup.deliver(services, job_id)
    assert "s3cr3tpath" not in str(caught.value)


def test_refused_follow_up_is_not_retried(services, receiver, caplog):
    receiver.failures, receiver.fail_status = 1, 404  # e.g. an expired response URL
    job_id = finished_job(services, {"kind": "slack", "response_url": receiver.url})
    assert followup.deliver(services, job_id) == "refused"
    assert "HTTP 404" in caplog.text and "s3cr3tpath" not in caplog.text


def test_the_task_declares_the_one_backoff_rule():
    from tasks.notify import notify_job

    assert notify_job.autoretry_for == (followup.RetryLater,)
    assert notify_job.max_retries == followup.MAX_RETRIES
    assert notify_job.retry_backoff == 2.0 and notify_job.retry_jitter is True
    assert notify_job.retry_backoff_max == followup.BACKOFF_MAX


def test_worker_task_retries_until_delivered(services, receiver, celery_worker, caplog):
    caplog.set_level(logging.INFO)
    receiver.failures = 2
    job_id = finished_job(services, {"kind": "slack", "response_url": receiver.url})
    services.queue.send("tasks.notify.notify_job", job_id)
    wait_until(lambda: receiver.received, timeout=20)
    assert receiver.received[0]["json"]["text"].startswith(f"Done, job {job_id}")
    assert "s3cr3tpath" not in caplog.text
