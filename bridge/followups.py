"""Post a finished job's outcome to the chat that asked for it (its `response_url`).

Response URLs carry their own credential, so they never appear in a log line:
failures are logged with the job id and the HTTP status only.

A response URL comes from the request, so it is an address an attacker may choose
(blind SSRF: the worker would POST wherever it says). Only two kinds of target pass:
Slack's `https://hooks.slack.com/...`, and for Mattermost the client's own configured
server (`bridge clients create NAME --mattermost-url https://chat.example.com`). The
check runs at intake (`check_target`, so a bad URL is refused at once) and again at
delivery, where the host is also resolved, every address it resolves to must be
global (no loopback, private, link-local, reserved or multicast address), and the
connection is made to the address that was checked (no second lookup, so no DNS
rebinding; `bridge.safehttp`, shared with outbound events). Redirects are never
followed. FOLLOWUP_ALLOW_PRIVATE_HOSTS names hosts exempt from these rules, for tests
and local development only.

Each follow-up's state lives in the job's `notify` (`state`: pending, sent, refused,
gave_up; `attempts`; `attempted_at`), set to pending when the job finishes, so a
follow-up whose task was lost with Redis is found and re-sent by the reconciler.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from bridge import models, outcome, profiles, safehttp
from bridge.models import utcnow
from bridge.queue import NOTIFY
from bridge.services import Services

log = logging.getLogger(__name__)

KINDS = ("slack", "mattermost")
TIMEOUT = (3.0, 10.0)  # (connect, read) seconds
MAX_RETRIES = 5  # with backoff about a minute in all, well within a response URL's life
BACKOFF_MAX = 30.0
SLACK_HOST = "hooks.slack.com"
# Slack keeps a response URL 30 minutes: a follow-up still pending after this is dropped
RESEND_WINDOW = dt.timedelta(hours=1)
PENDING, SENT, REFUSED, GAVE_UP = "pending", "sent", "refused", "gave_up"


class RetryLater(Exception):
    """The chat tool could not take the message now (timeout, 429, 5xx): try again."""


RefusedTarget = safehttp.RefusedTarget  # a response URL the bridge will not post to


# -- where a follow-up may go


def check_target(
    kind: str, url: str, mattermost_url: str | None, private_hosts: Collection[str]
) -> None:
    """Raise RefusedTarget unless `url` is an allowed follow-up target for `kind`.

    Slack: https://hooks.slack.com/ only. Mattermost: under the client's configured
    base URL (same scheme, host and port), and nowhere without one. An address written
    as an IP literal must be global. Hosts in `private_hosts` (tests, dev) are exempt
    from the https, host and address rules, but a Mattermost URL must still be under
    the client's base URL. No DNS lookup is made here: see `guarded_session`."""
    parts = _split(url)
    host = parts.hostname or ""
    exempt = host in private_hosts
    if parts.scheme != "https" and not exempt:
        raise RefusedTarget("the follow-up URL must use https")
    if kind == "slack":
        if host != SLACK_HOST and not exempt:
            raise RefusedTarget(f"a Slack follow-up URL must start with https://{SLACK_HOST}/")
    elif kind == "mattermost":
        if not mattermost_url:
            raise RefusedTarget(
                "this client has no Mattermost URL, so it cannot get follow-ups "
                "(bridge clients create NAME --mattermost-url https://chat.example.com)"
            )
        if not _under(parts, _split(mattermost_url)):
            raise RefusedTarget("the follow-up URL is not on this client's Mattermost server")
    else:
        raise RefusedTarget(f"unknown follow-up kind {kind!r}")
    if not exempt:
        safehttp.check_literal(host)


def _split(url: str) -> Any:
    """`url` split; RefusedTarget for anything but http(s) with a host and no credentials."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise RefusedTarget("the follow-up URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget("the follow-up URL must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise RefusedTarget("the follow-up URL must not carry credentials")
    return parts


def _under(url: Any, base: Any) -> bool:
    """True when `url` is on `base`'s server (scheme, host, port) and under its path."""
    default = {"http": 80, "https": 443}
    if (url.scheme, url.hostname) != (base.scheme, base.hostname):
        return False
    if (url.port or default[url.scheme]) != (base.port or default[base.scheme]):
        return False
    prefix = base.path.rstrip("/") + "/"
    return bool((url.path or "/").startswith(prefix))


def guarded_session(private_hosts: Collection[str]) -> requests.Session:
    """A session connecting only to checked, global addresses (`bridge.safehttp`), the
    hosts in `private_hosts` exempt."""
    return safehttp.guarded_session(exempt_hosts=private_hosts)


# -- delivery


def message(services: Services, job_id: int) -> tuple[str, dict[str, Any]] | RefusedTarget | None:
    """(response_url, payload) for a job that asked to be followed up, else None; the
    RefusedTarget (the follow-up marked refused) when its URL is not allowed."""
    with services.db.session() as session:
        job = session.get(models.Job, job_id)
        if job is None or not job.notify or job.notify.get("kind") not in KINDS:
            return None
        if job.notify.get("state") in (SENT, REFUSED, GAVE_UP):
            return None  # already settled (a resent task, or the reconciler's)
        url = job.notify.get("response_url")
        if not isinstance(url, str):
            return None
        owner = _client(session, job.client)
        try:
            check_target(
                job.notify["kind"],
                url,
                owner.mattermost_url if owner is not None else None,
                services.settings.followup_private_hosts,
            )
        except RefusedTarget as refused:
            job.note_followup(REFUSED, reason=str(refused))
            return refused
        profile = session.get(models.Profile, job.profile_id) if job.profile_id else None
        label = profiles.label(profile) if profile is not None else None
        text = outcome.describe(job, label)
    # Slack and Mattermost read the same fields; replace_original keeps the "Queued" line
    return url, {"response_type": "ephemeral", "replace_original": False, "text": text}


def _client(session: Any, name: str | None) -> models.ApiClient | None:
    if not name:
        return None
    return session.scalars(select(models.ApiClient).where(models.ApiClient.name == name)).first()


def deliver(services: Services, job_id: int, session: requests.Session | None = None) -> str:
    """Post the outcome of `job_id`: sent, skipped, refused or gave_up; RetryLater when
    worth a retry (until MAX_RETRIES + 1 attempts were made, then gave_up)."""
    found = message(services, job_id)
    if isinstance(found, RefusedTarget):
        log.warning("job %s: follow-up refused before sending: %s", job_id, found)
        return REFUSED
    if found is None:
        return "skipped"
    url, payload = found
    http = session or guarded_session(services.settings.followup_private_hosts)
    try:
        response = http.post(url, json=payload, timeout=TIMEOUT, allow_redirects=False)
    except RefusedTarget as refused:
        log.warning("job %s: follow-up refused: %s", job_id, refused)
        _note(services, job_id, REFUSED, reason=str(refused))
        return REFUSED
    except requests.RequestException as error:
        return _retry_or_give_up(services, job_id, type(error).__name__)
    finally:
        if session is None:
            http.close()
    status = response.status_code
    if status == 429 or status >= 500:
        return _retry_or_give_up(services, job_id, f"HTTP {status}")
    if status >= 300:
        # 3xx: never followed (it could lead anywhere); 4xx: e.g. an expired response URL
        log.warning("job %s: follow-up refused (HTTP %s)", job_id, status)
        _note(services, job_id, REFUSED, reason=f"HTTP {status}")
        return REFUSED
    _note(services, job_id, SENT)
    return SENT


def _retry_or_give_up(services: Services, job_id: int, why: str) -> str:
    """Count a failed attempt; raise RetryLater, or return gave_up after the last one."""
    attempts = _note(services, job_id, PENDING, reason=why, attempt=True)
    if attempts > MAX_RETRIES:
        _note(services, job_id, GAVE_UP, reason=why)
        log.warning("job %s: follow-up given up after %s attempts (%s)", job_id, attempts, why)
        return GAVE_UP
    raise RetryLater(f"job {job_id}: follow-up not delivered ({why})")


def _note(
    services: Services, job_id: int, state: str, reason: str | None = None, attempt: bool = False
) -> int:
    """Record the follow-up's state on the job; returns its attempts so far."""
    with services.db.session() as session:
        job = session.get(models.Job, job_id)
        if job is None or not job.notify:
            return 0
        job.note_followup(state, reason=reason, attempt=attempt)
        return int(job.notify.get("attempts", 0))


# -- the reconciler's part


def overdue(services: Services, now: dt.datetime | None = None) -> list[int]:
    """Jobs whose follow-up is still pending RECONCILE_AFTER after its last attempt (or
    the job's end), within RESEND_WINDOW of the end: their task was lost."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=services.settings.reconcile_after)
    job = models.Job
    query = select(job).where(
        job.status.in_((models.SUCCEEDED, models.FAILED)),
        job.notify.is_not(None),
        job.finished_at > now - RESEND_WINDOW,
        job.finished_at < cutoff,
    )
    found = []
    with services.db.session() as session:
        for row in session.scalars(query):
            notify = row.notify or {}
            if notify.get("state") != PENDING:
                continue
            last = notify.get("attempted_at")
            if last is None or dt.datetime.fromisoformat(last) < cutoff:
                found.append(row.id)
    return found


def resend_overdue(services: Services) -> list[int]:
    """Queue the follow-up of every job `overdue` finds; returns their ids."""
    found = overdue(services)
    for job_id in found:
        services.queue.send(NOTIFY, job_id)
    return found
