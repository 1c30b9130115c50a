"""Logging: one JSON object per line (or text for humans), with the request, job, profile
and source a line belongs to, and every secret redacted before any handler sees it.

One job per module: `redaction` (the one redacting layer, a record factory),
`context` (contextvars), `formatters` (the lines and the handler), `flask_hook`
(requests) and `celery_hook` (tasks). Callers use this package's names only.
"""

from bridge.logs.celery_hook import bind_task
from bridge.logs.context import CONTEXT_FIELDS, ContextFilter, bind, bind_jobs, clear, context
from bridge.logs.flask_hook import REQUEST_ID_HEADER, init_app, request_source
from bridge.logs.formatters import JsonFormatter, TextFormatter, configure, make_handler
from bridge.logs.redaction import (
    REDACTED,
    install_scrubber,
    redact,
    register_secrets,
    scrub,
    settings_secrets,
)

__all__ = [
    "CONTEXT_FIELDS",
    "REDACTED",
    "REQUEST_ID_HEADER",
    "ContextFilter",
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "bind_jobs",
    "bind_task",
    "clear",
    "configure",
    "context",
    "init_app",
    "install_scrubber",
    "make_handler",
    "redact",
    "register_secrets",
    "request_source",
    "scrub",
    "settings_secrets",
]
