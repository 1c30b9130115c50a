"""/v1/jobs: what became of accepted changes."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import catalog, jobs, models
from bridge.api.schemas import JobListArgs, JobListSchema
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
        return jobs.visible_one(services(), current_client(), job_id).jobs[0]


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
        profile_id = catalog.readable(services(), client, profile).id if profile else None
        wanted = jobs.JobFilter(profile_id=profile_id, status=status, group=group, before=before)
        found = jobs.page(services(), client, wanted, limit)
        return {"jobs": found.jobs, "next_before": found.next_before}
