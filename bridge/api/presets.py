"""/v1/presets: named weeks, and applying one to profiles (one job each, one group)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import presets
from bridge.api.rotation_schemas import (
    GroupSchema,
    PresetApplySchema,
    PresetCreateSchema,
    PresetListSchema,
    PresetSchema,
    PresetUpdateSchema,
    week_of_entries,
)
from bridge.web.caller import authenticate_first, current_client, services

blp = Blueprint("presets", __name__, url_prefix="/v1/presets", description="Presets")
authenticate_first(blp)


@blp.route("")
class PresetList(MethodView):
    @blp.response(200, PresetListSchema)
    def get(self) -> dict[str, Any]:
        """The presets you may use, by name: the account-wide ones and your own (a client
        scoped to some profiles makes its own; only unscoped clients change account-wide
        ones)."""
        return {"presets": presets.shown(services(), current_client())}

    @blp.arguments(PresetCreateSchema)
    @blp.response(201, PresetSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a preset from `schedules`, a profile's current schedules (`from_profile`)
        or a snapshot (`from_snapshot`)."""
        client = current_client()
        entries = body["schedules"]
        week, account = presets.source_week(
            services(),
            client,
            week_of_entries(entries) if entries is not None else None,
            body["from_profile"],
            body["from_snapshot"],
        )
        return presets.to_json(presets.create(services(), client, body["name"], week, account))


@blp.route("/<name>")
class PresetItem(MethodView):
    @blp.response(200, PresetSchema)
    def get(self, name: str) -> dict[str, Any]:
        """One preset you may use (404 for another client's own)."""
        return presets.shown_one(services(), name, current_client())

    @blp.arguments(PresetUpdateSchema)
    @blp.response(200, PresetSchema)
    def put(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Give a preset a new week (plans using it apply the new week from now on): your
        own, or an account-wide one when you are unscoped (403 otherwise)."""
        week, _account = presets.source_week(
            services(), current_client(), week_of_entries(body["schedules"])
        )
        return presets.to_json(presets.update(services(), current_client(), name, week))

    @blp.response(204)
    def delete(self, name: str) -> None:
        """Delete a preset you may change (403 as for PUT; 409 while a plan uses it)."""
        presets.delete(services(), current_client(), name)


@blp.route("/<name>/apply")
class PresetApply(MethodView):
    @blp.arguments(PresetApplySchema)
    @blp.response(202, GroupSchema)
    def post(self, body: dict[str, Any], name: str) -> Any:
        """Apply a preset to `profiles`, or to every profile of `service` the caller may
        change: one job per profile, one group id (`GET /v1/jobs?group=`)."""
        group, submitted = presets.apply(
            services(), current_client(), name, body["profiles"], body["service"]
        )
        link = url_for("jobs.JobList", group=group)
        answer = {
            "group_id": group,
            "preset": name,
            "status": "queued",
            "jobs": [s.job for s in submitted],
            "links": {"jobs": link},
        }
        return answer, 202, {"Location": link}
