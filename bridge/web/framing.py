"""The interactive API docs (/docs, /redoc) cannot be framed by another site: people paste
client tokens on those pages, so a page that framed them could trick a click
(clickjacking). The dashboard (/ui) sets its own, stricter headers (bridge/ui)."""

from __future__ import annotations

from flask import Flask, Response, request

DOCS_BLUEPRINT = "api-docs"  # flask-smorest's blueprint for /docs, /redoc, /openapi.json


def _no_framing(response: Response) -> Response:
    if request.blueprint == DOCS_BLUEPRINT:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    return response


def init_app(app: Flask) -> None:
    """Send X-Frame-Options: DENY and CSP frame-ancestors 'none' with the docs pages."""
    app.after_request(_no_framing)
