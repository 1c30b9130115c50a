"""The answers every adapter gives for an accepted change: 202, the job, where to follow it."""

from __future__ import annotations

from typing import Any

from flask import url_for

from bridge import models


def job_url(job_id: int) -> str:
    """The path of `GET /v1/jobs/<job_id>`."""
    return url_for("jobs.Job", job_id=job_id)


def accepted(job: models.Job, **extra: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
    """(body, 202, headers) for a stored job: its id and status, `extra`, and a Location
    header (and `links.job`) to follow it. flask-smorest serialises the body."""
    body = {"job_id": job.id, "status": job.status, **extra}
    body.setdefault("links", {"job": job_url(job.id)})
    return body, 202, {"Location": job_url(job.id)}
