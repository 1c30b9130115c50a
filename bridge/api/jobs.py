"""/v1/jobs: what became of accepted changes."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from bridge import auth, catalog, jobs, models
from bridge.api.schemas import JobListArgs, JobListSchema
from bridge.errors import NotFound
from bridge.web.caller import authenticate_first, current_client, services
from bridge.web.schemas import JobSchema

blp = Blueprint("jobs", __name__, url_prefix="/v1/jobs", description="Jobs")
authenticate_first(blp)


@blp.route("/<int:job_id>", endpoint="Job")
class JobItem(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id: int) -> models.Job:
        """A job's status, attempts, Buffer's error if any, and its before/after/diff (404
        for a job on a profile outside the caller's scopes)."""
        client = current_client()
        with services().db.session() as session:
            job = jobs.get(session, job_id)
            if not auth.can_see_id(session, client, job.profile_id):
                raise NotFound(f"unknown job {job_id}")
            return job


@blp.route("")
class JobList(MethodView):
    @blp.arguments(JobListArgs, location="query", as_kwargs=True)
    @blp.response(200, JobListSchema)
    def get(
        self,
        profile: str | None,
        status: str | None,
        limit: int,
        before: int | None,
        group: str | None,
    ) -> dict[str, Any]:
        """Jobs newest first, filtered by `profile`, `status` and `group` (the jobs of one
        preset applied to several profiles); `before` pages on."""
        client = current_client()
        query = select(models.Job).order_by(models.Job.id.desc())
        if profile:
            found = catalog.readable(services(), client, profile)
            query = query.where(models.Job.profile_id == found.id)
        if status:
            query = query.where(models.Job.status == status)
        if before:
            query = query.where(models.Job.id < before)
        if group:
            query = query.where(models.Job.group_id == group)
        within = catalog.visible_ids(services(), client)
        if within is not None:  # in the query, before the limit: a page is never short
            query = query.where(models.Job.profile_id.in_(within))
        with services().db.session() as session:
            found_jobs = list(session.scalars(query.limit(limit + 1)))
        more = len(found_jobs) > limit
        return {
            "jobs": found_jobs[:limit],
            "next_before": found_jobs[limit - 1].id if more else None,
        }
