"""/v1/jobs: what became of accepted changes."""

from __future__ import annotations

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from bridge import auth, jobs, models, profiles
from bridge.api.common import current_client, resolve_profile, services
from bridge.api.schemas import JobListArgs
from bridge.errors import NotFound

blp = Blueprint("jobs", __name__, url_prefix="/v1/jobs", description="Jobs")


@blp.route("/<int:job_id>", endpoint="Job")
class JobItem(MethodView):
    """One job."""

    @blp.doc(security=[{"bearer": []}])
    def get(self, job_id: int) -> Response:
        """A job's status, attempts, Buffer's error if any, and its before/after/diff."""
        client = current_client()
        with services().db.session() as session:
            job = jobs.get(session, job_id)
            if not auth.can_see_id(session, client, job.profile_id):
                raise NotFound(f"unknown job {job_id}")
            return jsonify(jobs.to_json(job))


@blp.route("")
class JobList(MethodView):
    """Jobs, newest first."""

    @blp.arguments(JobListArgs, location="query", as_kwargs=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, profile: str | None, status: str | None, limit: int) -> Response:
        """Jobs, filtered by `profile` and `status`."""
        client = current_client()
        query = select(models.Job).order_by(models.Job.id.desc())
        if profile:
            found = resolve_profile(profile)
            auth.check_read(client, found)
            query = query.where(models.Job.profile_id == found.id)
        if status:
            query = query.where(models.Job.status == status)
        with services().db.session() as session:
            if client.profiles is not None:
                visible = [p.id for p in profiles.list_cached(session) if auth.can_see(client, p)]
                query = query.where(models.Job.profile_id.in_(visible))
            found_jobs = list(session.scalars(query.limit(limit)))
            return jsonify({"jobs": [jobs.to_json(job) for job in found_jobs]})
