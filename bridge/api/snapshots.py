"""/v1/snapshots: the history of every profile's schedules."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import catalog, changes, jobs, snapshots
from bridge.api.schemas import (
    SnapshotListArgs,
    SnapshotListSchema,
    SnapshotRequestSchema,
    SnapshotSchema,
)
from bridge.web.answers import accepted
from bridge.web.caller import authenticate_first, current_client, services
from bridge.web.schemas import AcceptedSchema

blp = Blueprint("snapshots", __name__, url_prefix="/v1/snapshots", description="Snapshots")
authenticate_first(blp)


@blp.route("")
class SnapshotList(MethodView):
    @blp.arguments(SnapshotListArgs, location="query", as_kwargs=True)
    @blp.response(200, SnapshotListSchema)
    def get(self, profile: str | None, limit: int, before: int | None) -> dict[str, Any]:
        """Snapshots newest first, of one profile with `?profile=`; `before` pages on."""
        client = current_client()
        profile_id = catalog.readable(services(), client, profile).id if profile else None
        items, next_before = snapshots.page(services(), client, limit, profile_id, before)
        return {"snapshots": [snapshots.to_json(s) for s in items], "next_before": next_before}

    @blp.arguments(SnapshotRequestSchema)
    @blp.response(202, AcceptedSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Snapshot every profile now (one Buffer call per account), or one `account`: a job
        per account. Only a client scoped to every profile may."""
        submitted = changes.snapshot(
            services(), current_client(), jobs.Provenance("rest"), account=body["account"]
        )
        return accepted(submitted.job, **submitted.extra)


@blp.route("/<int:snapshot_id>")
class SnapshotItem(MethodView):
    @blp.response(200, SnapshotSchema)
    def get(self, snapshot_id: int) -> dict[str, Any]:
        """A snapshot with its diff from the one before (404 outside the caller's scopes)."""
        return snapshots.visible(services(), current_client(), snapshot_id)
