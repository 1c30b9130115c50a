"""/v1/snapshots: the history of every profile's schedules."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import auth, jobs, snapshots
from bridge.api.common import accepted, current_client, resolve_profile, services
from bridge.api.schemas import SnapshotListArgs, SnapshotRequestSchema
from bridge.errors import InvalidInput, NotFound

blp = Blueprint("snapshots", __name__, url_prefix="/v1/snapshots", description="Snapshots")


@blp.route("")
class SnapshotList(MethodView):
    """Snapshots, newest first."""

    @blp.arguments(SnapshotListArgs, location="query", as_kwargs=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, profile: str | None, limit: int, before: int | None) -> Response:
        """Snapshots, of one profile with `?profile=`."""
        client = current_client()
        profile_id = None
        if profile:
            found = resolve_profile(profile)
            auth.check_read(client, found)
            profile_id = found.id
        with services().db.session() as session:
            items = snapshots.listing(session, profile_id, limit, before)
            if client.profiles is not None:
                items = [s for s in items if auth.can_see_id(session, client, s.profile_id)]
            return jsonify({"snapshots": [snapshots.to_json(s) for s in items]})

    @blp.arguments(SnapshotRequestSchema)
    @blp.doc(security=[{"bearer": []}], responses={"202": {"description": "Accepted: a job"}})
    def post(self, body: dict[str, Any]) -> Response:
        """Snapshot every profile now (one Buffer call per account): a job."""
        client = current_client()
        auth.check_write(client)
        if client.profiles is not None:
            raise InvalidInput("only a client scoped to every profile may snapshot an account")
        svc = services()
        accounts = svc.settings.account_names()
        if body["account"] is not None:
            if body["account"] not in accounts:
                raise InvalidInput(f"unknown account {body['account']!r}", "account")
            accounts = [body["account"]]
        if not accounts:
            raise InvalidInput("no Buffer account is configured (set BUFFER_ACCESS_TOKEN)")
        created = [jobs.submit_snapshot(svc, a, client.name, "rest") for a in accounts]
        return accepted(created[0], jobs=[j.id for j in created], accounts=accounts)


@blp.route("/<int:snapshot_id>")
class SnapshotItem(MethodView):
    """One snapshot."""

    @blp.doc(security=[{"bearer": []}])
    def get(self, snapshot_id: int) -> Response:
        """A snapshot with its diff from the one before."""
        client = current_client()
        with services().db.session() as session:
            snapshot = snapshots.get(session, snapshot_id)
            if not auth.can_see_id(session, client, snapshot.profile_id):
                raise NotFound(f"unknown snapshot {snapshot_id}")
            previous = snapshots.previous_of(session, snapshot)
            return jsonify(snapshots.to_json(snapshot, previous))
