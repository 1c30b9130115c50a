"""The web app's logging: each request's context, its X-Request-ID, one access line."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from bridge.logs.context import bind, clear
from bridge.logs.formatters import configure
from bridge.logs.redaction import settings_secrets
from bridge.sources import SOURCES

if TYPE_CHECKING:
    from flask import Flask, Response

REQUEST_ID_HEADER = "X-Request-ID"
# Callers (adapters) with a fixed name; anything else in a URL is reported as "other" so
# that a caller cannot invent label values.
KNOWN_SOURCES = frozenset(SOURCES)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

request_log = logging.getLogger("bridge.request")


def request_source() -> str:
    """The kind of caller of this request, from its URL rule, never from the raw path
    (a caller could invent values, and paths carry tokens). Needs a request context."""
    from flask import request

    rule = request.url_rule.rule if request.url_rule is not None else ""
    parts = rule.strip("/").split("/")
    if parts[0] in ("hooks", "chat") and len(parts) > 1:
        name = (request.view_args or {}).get("source") or parts[1]
        return name if name in KNOWN_SOURCES else "other"
    if parts[0] == "v1":
        return "rest"
    if parts[0] == "ui":
        return "ui"
    if rule in ("/healthz", "/readyz"):
        return "health"
    if rule == "/metrics":
        return "metrics"
    if rule in ("/docs", "/redoc", "/openapi.json") or parts[0] in ("docs", "redoc"):
        return "docs"
    return "other"


def _request_id(header: str | None) -> str:
    """The caller's request id when it is sane (it is echoed and logged), else a new one."""
    if header and _SANE_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Log as the app's settings say, bind each request's context, echo X-Request-ID, and
    write one access line per request (gunicorn's access log stays off: see
    bridge/web_server.py)."""
    from flask import g, request

    settings = app.extensions["bridge"].settings
    configure(settings.log_level, settings.log_format, settings_secrets(settings))

    def start() -> None:
        """Bind the request id and source before any handler logs."""
        g.started = time.perf_counter()
        g.request_id = _request_id(request.headers.get(REQUEST_ID_HEADER))
        bind(request_id=g.request_id, source=request_source())

    def finish(response: Response) -> Response:
        """Echo the request id and write the access line."""
        request_id = g.get("request_id") or _request_id(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("started") or time.perf_counter()
        route = request.url_rule.rule if request.url_rule is not None else None
        request_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "client": g.get("client_name"),
                "source": g.get("source") or request_source(),
            },
        )
        return response

    app.before_request(start)
    app.after_request(finish)
    app.teardown_request(lambda _error: clear())
