"""The framework route of bench/intake.py: the real route's framework work and nothing of
the bridge's own. flask-smorest parses and validates the body with the real route's
schema (`PatchSchedulesSchema`: days and times as people write them) and serialises a
202 body like the real one's with `AcceptedSchema`. There is no token, store, Redis or
logging.

It sits between the two other routes. The gap from the bare route is what the chosen
stack (Flask, flask-smorest, marshmallow) costs per change. The gap to the real route is
what the bridge itself adds: authentication, the client rate limit, the transaction
that stores the job, the wake and the access log. Run it with
`gunicorn -c python:bridge.gunicorn_conf framework_app:app` (with bench/ on PYTHONPATH).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api, Blueprint

from bridge.api.schemas import PatchSchedulesSchema
from bridge.web.schemas import AcceptedSchema

app = Flask(__name__)
app.config.update(API_TITLE="intake-framework", API_VERSION="1", OPENAPI_VERSION="3.1.0")
api = Api(app)
blp = Blueprint("framework", __name__, url_prefix="/v1/profiles")


@blp.route("/<ref>/schedules")
class Schedules(MethodView):
    @blp.arguments(PatchSchedulesSchema)
    @blp.response(202, AcceptedSchema)
    def patch(self, body: dict[str, Any], ref: str) -> Any:
        """202 with a body shaped like the real answer, after validating the change."""
        job = {"job": "/v1/jobs/1"}
        answer = {"job_id": 1, "status": "queued", "profile_id": ref, "links": job, **body}
        return answer, 202, {"Location": job["job"]}


api.register_blueprint(blp)
