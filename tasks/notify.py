"""Tell whoever asked (e.g. a Slack response_url) how a job ended."""

from __future__ import annotations

from tasks.celery_app import celery


@celery.task(name="tasks.notify.notify_job")
def notify_job(job_id: int) -> None:
    """Deliver a job's outcome to its notify target (chat adapters fill this in)."""
    return None
