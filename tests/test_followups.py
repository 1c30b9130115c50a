"""Follow-ups: a finished chat job's outcome posted to its response_url, with retries."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bridge import followups as followup
from bridge import models, safehttp
from bridge.services import Services
from tests.conftest import Receiver, free_port, make_settings, wait_until


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


def mattermost_client(services: Any, server: str | None, name: str = "tests") -> None:
    """The API client `finished_job`'s jobs belong to, on Mattermost server `server`."""
    from bridge import auth

    with services.db.session() as session:
        auth.create_client(session, name, mattermost_token="mm-token", mattermost_url=server)


def server_of(url: str) -> str:
    return url.split("/commands/", 1)[0]


def test_failed_job_says_what_buffer_said(services, receiver):
    mattermost_client(services, server_of(receiver.url))
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
    from bridge.errors import DatabaseUnavailable
    from tasks.notify import notify_job

    # a receiver's refusal, and our own database down (tasks/outage.py)
    assert notify_job.autoretry_for == (followup.RetryLater, DatabaseUnavailable)
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


# -- issue 9, item 5: where a follow-up may go (blind SSRF through response_url)


@pytest.fixture
def production(settings: Any) -> Iterator[Services]:
    """Services with the production default: no FOLLOWUP_ALLOW_PRIVATE_HOSTS."""
    built = Services(make_settings(**{**settings.environ, "FOLLOWUP_ALLOW_PRIVATE_HOSTS": ""}))
    yield built
    built.close()


def notify_of(services: Any, job_id: int) -> dict[str, Any]:
    with services.db.session() as session:
        return dict(session.get(models.Job, job_id).notify)


def test_the_test_allowance_is_off_by_default():
    assert make_settings().followup_private_hosts == frozenset()


@pytest.mark.parametrize(
    ("kind", "server", "url"),
    [
        ("mattermost", "https://127.0.0.1", "https://127.0.0.1/hooks/abc"),
        ("mattermost", "https://10.0.0.7", "https://10.0.0.7/hooks/abc"),
        ("mattermost", "https://169.254.169.254", "https://169.254.169.254/latest/meta-data"),
        ("mattermost", "https://[::1]:8065", "https://[::1]:8065/hooks/abc"),
        ("mattermost", "https://[::ffff:127.0.0.1]", "https://[::ffff:127.0.0.1]/hooks/abc"),
        ("mattermost", "https://chat.example.com", "https://evil.example.com/hooks/abc"),
        ("mattermost", None, "https://chat.example.com/hooks/abc"),
        ("slack", None, "http://hooks.slack.com/commands/T1/42/abc"),
        ("slack", None, "https://hooks.slack.com.evil.example/commands/T1/42/abc"),
        ("slack", None, "https://127.0.0.1/commands/T1/42/abc"),
    ],
)
def test_production_refuses_targets_outside_the_allow_list(production, kind, server, url):
    mattermost_client(production, server)
    job_id = finished_job(production, {"kind": kind, "response_url": url})
    assert followup.deliver(production, job_id) == "refused"
    assert notify_of(production, job_id)["state"] == "refused"


def test_production_refuses_the_local_receiver(production, receiver):
    mattermost_client(production, server_of(receiver.url))
    job_id = finished_job(production, {"kind": "mattermost", "response_url": receiver.url})
    assert followup.deliver(production, job_id) == "refused"
    assert receiver.received == []


def test_a_host_name_resolving_to_loopback_is_refused_after_resolution(production, receiver):
    port = receiver.server.server_port
    mattermost_client(production, f"https://localhost:{port}")
    url = f"https://localhost:{port}/commands/s3cr3tpath"
    followup.check_target("mattermost", url, f"https://localhost:{port}", frozenset())
    job_id = finished_job(production, {"kind": "mattermost", "response_url": url})
    assert followup.deliver(production, job_id) == "refused"
    assert "public address" in notify_of(production, job_id)["reason"]
    assert receiver.received == []
    with pytest.raises(followup.RefusedTarget):
        safehttp.resolve_checked("localhost", 443, safehttp.Policy())


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch):
    """One lookup, checked, then connected to: a second answer (DNS rebinding) is never used."""
    answers = [[("127.0.0.1", 443)], [("93.184.215.14", 443)]]
    calls = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        return [(2, 1, 6, "", address) for address in answers[min(len(calls) - 1, 1)]]

    monkeypatch.setattr("socket.getaddrinfo", getaddrinfo)
    session = followup.guarded_session(frozenset())
    with pytest.raises(followup.RefusedTarget):
        session.post("https://rebind.example/hook", json={}, timeout=1)
    assert calls == ["rebind.example"]


def test_a_redirect_is_never_followed(services, receiver):
    with Receiver() as internal:
        receiver.redirect_to = internal.url.replace("s3cr3tpath", "internal-admin")
        job_id = finished_job(services, {"kind": "slack", "response_url": receiver.url})
        assert followup.deliver(services, job_id) == "refused"
        assert internal.received == []


# -- issue 9, item 14: follow-ups survive a lost task


def queued_then_finished(services: Any, notify: dict[str, Any], ago: float) -> int:
    """A job that asked for a follow-up, finished `ago` seconds ago through Job.succeed."""
    job_id = finished_job(services, notify, status=models.QUEUED, result=None)
    with services.db.session() as session:
        job = session.get(models.Job, job_id)
        job.start()
        job.succeed({"diff": {}})
        job.finished_at = models.utcnow() - dt.timedelta(seconds=ago)
    return job_id


def test_a_follow_up_lost_with_redis_is_resent_by_the_reconciler(services, receiver):
    from bridge import reconcile

    job_id = queued_then_finished(services, {"kind": "slack", "response_url": receiver.url}, 300)
    assert notify_of(services, job_id)["state"] == "pending"  # its task never ran
    services.redis.flushall()
    reconcile.rewake(services)
    assert services.redis.llen("bridge") == 1  # the notify task, sent again
    assert followup.deliver(services, job_id) == "sent"
    assert notify_of(services, job_id)["state"] == "sent"
    assert followup.overdue(services) == []
    assert len(receiver.received) == 1


def test_a_follow_up_gives_up_after_its_last_retry(services, receiver):
    receiver.failures = 100
    job_id = queued_then_finished(services, {"kind": "slack", "response_url": receiver.url}, 0)
    for _ in range(followup.MAX_RETRIES):
        with pytest.raises(followup.RetryLater):
            followup.deliver(services, job_id)
    assert followup.deliver(services, job_id) == "gave_up"
    notify = notify_of(services, job_id)
    assert (notify["state"], notify["attempts"]) == ("gave_up", followup.MAX_RETRIES + 1)
