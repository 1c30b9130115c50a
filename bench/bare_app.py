"""The bare route of bench/intake.py: the same path and method as a schedule change,
and nothing else. It answers 202 with a small JSON body and touches no store, Redis,
auth or logging, so under the same gunicorn and settings it shows what the server
itself costs per request: `gunicorn -c python:bridge.gunicorn_conf bare_app:app`
(with bench/ on PYTHONPATH).
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.patch("/v1/profiles/<ref>/schedules")
def accept(ref: str) -> tuple[dict[str, object], int]:
    """202, as the real route answers, after nothing at all."""
    return {"status": "queued", "profile_id": ref}, 202
