"""Tell whoever asked (e.g. a Slack response_url) how a job ended."""

from __future__ import annotations

from bridge import followups, retry
from bridge.errors import DatabaseUnavailable
from tasks.celery_app import celery, services


@celery.task(
    name="tasks.notify.notify_job",
    acks_late=True,
    autoretry_for=(followups.RetryLater, DatabaseUnavailable),
    **retry.celery_autoretry(followups.BACKOFF_MAX, followups.MAX_RETRIES),
)
def notify_job(job_id: int) -> str:
    """Post the job's outcome to its notify target: sent, skipped or refused.

    RetryLater (a timeout, 429 or 5xx) is retried with the one backoff rule; after the
    last retry the task fails with it, and the job's own state is unaffected. Our own
    database down is retried the same way (followups.resend_overdue finds the rest)."""
    return followups.deliver(services(), job_id)
