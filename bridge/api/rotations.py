"""/v1/rotations: rotation plans (presets on a timetable), their preview and "run now".

Read-only clients read plans; scoped clients see and target only their profiles (a plan
with a profile outside them is 404)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import rotation
from bridge.api.rotation_schemas import (
    PreviewArgs,
    PreviewSchema,
    ResumeSchema,
    RotationCreateSchema,
    RotationListSchema,
    RotationPatchSchema,
    RotationSchema,
    RotationStartedSchema,
    RunReportSchema,
)
from bridge.web.caller import authenticate_first, current_client, services

blp = Blueprint("rotations", __name__, url_prefix="/v1/rotations", description="Rotation plans")
authenticate_first(blp)


def _view(name: str) -> dict[str, Any]:
    return rotation.shown_one(services(), name, current_client())


@blp.route("")
class RotationList(MethodView):
    @blp.response(200, RotationListSchema)
    def get(self) -> dict[str, Any]:
        """Every plan the caller may see."""
        return {"rotations": rotation.shown(services(), current_client())}

    @blp.arguments(RotationCreateSchema)
    @blp.response(201, RotationStartedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a plan: `profiles` (or every profile of `service`) and `steps`; the step
        in effect now is applied at once (`run`) unless `start` is `next`."""
        name, start = body.pop("name"), body.pop("start")
        rotation.save(services(), current_client(), name, body, create=True)
        report = rotation.begin(services(), current_client(), name, start)
        return {**_view(name), "run": _report(report) if report is not None else None}


@blp.route("/<name>")
class RotationItem(MethodView):
    @blp.response(200, RotationSchema)
    def get(self, name: str) -> dict[str, Any]:
        """One plan and each profile's next run."""
        return _view(name)

    @blp.arguments(RotationPatchSchema)
    @blp.response(200, RotationSchema)
    def patch(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Change a plan's profiles, service or steps."""
        rotation.save(services(), current_client(), name, body, create=False)
        return _view(name)

    @blp.response(204)
    def delete(self, name: str) -> None:
        """Delete a plan (its jobs stay)."""
        rotation.delete(services(), current_client(), name)


@blp.route("/<name>/pause")
class RotationPause(MethodView):
    @blp.response(200, RotationSchema)
    def post(self, name: str) -> dict[str, Any]:
        """Pause a plan: no step fires until it is resumed."""
        rotation.set_paused(services(), current_client(), name, True)
        return _view(name)


@blp.route("/<name>/resume")
class RotationResume(MethodView):
    @blp.arguments(ResumeSchema, required=False)
    @blp.response(200, RotationStartedSchema)
    def post(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Resume a plan from now: the step in effect now is applied at once (`run`)
        unless `start` is `next`; the steps that fell while paused do not fire."""
        report = rotation.resume(services(), current_client(), name, body.get("start", "now"))
        return {**_view(name), "run": _report(report) if report is not None else None}


@blp.route("/<name>/run")
class RotationRun(MethodView):
    @blp.response(202, RunReportSchema)
    def post(self, name: str) -> dict[str, Any]:
        """Fire the plan now on every profile: the step in effect now."""
        return _report(rotation.run_now(services(), current_client(), name))


def _report(report: rotation.TickReport) -> dict[str, Any]:
    """A run's report as RunReportSchema shows it."""
    return rotation.report_json(services(), report)


@blp.route("/<name>/preview")
class RotationPreview(MethodView):
    @blp.arguments(PreviewArgs, location="query", as_kwargs=True)
    @blp.response(200, PreviewSchema)
    def get(self, name: str, count: int) -> dict[str, Any]:
        """The next `count` runs per profile, in its local time and in UTC."""
        return rotation.preview(services(), current_client(), name, count)
