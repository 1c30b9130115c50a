"""/healthz (the process answers) and /readyz (the database and Redis answer)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bridge.errors import ServiceUnavailable
from bridge.web.caller import services

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process is up."""
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: 503 naming what is down."""
    checks: dict[str, str] = {}
    svc = services()
    try:
        svc.db.ping()
        checks["database"] = "ok"
    except ServiceUnavailable:
        checks["database"] = "unavailable"
    try:
        svc.redis.ping()
        checks["redis"] = "ok"
    except Exception:
        checks["redis"] = "unavailable"
    down = [name for name, state in checks.items() if state != "ok"]
    status = 503 if down else 200
    body = {"status": "unavailable" if down else "ok", "checks": checks}
    if down:
        body["message"] = f"unavailable: {', '.join(down)}"
    return jsonify(body), status
