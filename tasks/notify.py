"""Tell whoever asked (e.g. a Slack response_url) how a job ended."""

from __future__ import annotations

import logging
from typing import Any

from bridge.hooks import followup
from tasks.celery_app import celery, services

log = logging.getLogger(__name__)

MAX_RETRIES = 5  # with backoff about a minute in all, well within a response URL's life


@celery.task(name="tasks.notify.notify_job", bind=True, max_retries=MAX_RETRIES, acks_late=True)
def notify_job(self: Any, job_id: int) -> str:
    """Post the job's outcome to its notify target, retrying with backoff when it fails."""
    try:
        return followup.deliver(services(), job_id)
    except followup.RetryLater as error:
        if self.request.retries >= MAX_RETRIES:
            log.warning("%s; giving up after %d tries", error, MAX_RETRIES + 1)
            return "gave_up"
        log.info("%s; retrying", error)
        raise self.retry(countdown=followup.backoff(self.request.retries)) from None
