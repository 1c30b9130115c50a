"""Post a finished job's outcome to the chat that asked for it (its `response_url`).

Response URLs carry their own credential, so they never appear in a log line:
failures are logged with the job id and the HTTP status only.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from bridge import models, outcome, profiles
from bridge.services import Services

log = logging.getLogger(__name__)

KINDS = ("slack", "mattermost")
TIMEOUT = (3.0, 10.0)  # (connect, read) seconds
MAX_RETRIES = 5  # with backoff about a minute in all, well within a response URL's life
BACKOFF_MAX = 30.0


class RetryLater(Exception):
    """The chat tool could not take the message now (timeout, 429, 5xx): try again."""


def message(services: Services, job_id: int) -> tuple[str, dict[str, Any]] | None:
    """(response_url, payload) for a job that asked to be followed up, else None."""
    with services.db.session() as session:
        job = session.get(models.Job, job_id)
        if job is None or not job.notify or job.notify.get("kind") not in KINDS:
            return None
        url = job.notify.get("response_url")
        profile = session.get(models.Profile, job.profile_id) if job.profile_id else None
        label = profiles.label(profile) if profile is not None else None
        text = outcome.describe(job, label)
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    # Slack and Mattermost read the same fields; replace_original keeps the "Queued" line
    return url, {"response_type": "ephemeral", "replace_original": False, "text": text}


def deliver(services: Services, job_id: int, session: requests.Session | None = None) -> str:
    """Post the outcome of `job_id`: sent, skipped or refused; RetryLater when worth a retry."""
    found = message(services, job_id)
    if found is None:
        return "skipped"
    url, payload = found
    try:
        response = (session or requests).post(url, json=payload, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise RetryLater(
            f"job {job_id}: follow-up not delivered ({type(error).__name__})"
        ) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryLater(f"job {job_id}: follow-up not delivered (HTTP {response.status_code})")
    if response.status_code >= 400:
        # e.g. an expired response URL (Slack keeps them 30 minutes): retrying cannot help
        log.warning("job %s: follow-up refused (HTTP %s)", job_id, response.status_code)
        return "refused"
    return "sent"
