"""Logging: one JSON object per line (or text for humans), with the request, job, profile
and source a line belongs to, and every secret redacted before it is written.

Context travels in contextvars: a Flask before_request binds the request id and
source, Celery's task_prerun binds the task id and the ids in the task's arguments.
Redaction happens twice on purpose: a filter rewrites each record's message and
arguments (so any handler sees it redacted), and the formatters redact the final
text, which also covers tracebacks and extra fields.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import inspect
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from flask import Flask, Response

    from bridge.config import Settings

REDACTED = "[redacted]"
REQUEST_ID_HEADER = "X-Request-ID"
# Short values would redact ordinary words; real tokens and secrets are far longer.
MIN_SECRET_LENGTH = 8
# The context fields, in the order they appear in a line.
CONTEXT_FIELDS = ("request_id", "job_id", "job_ids", "profile_id", "source", "client", "task_id")
# Callers (adapters) with a fixed name; anything else in a URL is reported as "other" so
# that a caller cannot invent label values.
KNOWN_SOURCES = frozenset(
    {"rest", "zapier", "ifttt", "signed", "slack", "mattermost", "cli", "rotation"}
)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# (pattern, replacement): each keeps the part that says what was there, drops the secret
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bbb_[A-Za-z0-9_\-]+"), f"bb_{REDACTED}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+"), f"whsec_{REDACTED}"),
    (re.compile(r"\bv0=[0-9a-fA-F]+"), f"v0={REDACTED}"),
    # Standard Webhooks signatures: "v1,<base64 HMAC>"
    (re.compile(r"\bv1,[A-Za-z0-9+/=]{16,}"), f"v1,{REDACTED}"),
    (
        re.compile(r"(?i)(access_token[\"']?\s*[:=]\s*[\"']?)[^&\s\"',;}]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)([?&](?:token|key|secret)=)[^&\s\"']+"), rf"\1{REDACTED}"),
    # /hooks/<source>/<token>: the segment after the source is the caller's secret
    (re.compile(r"(/hooks/[^/\s?#\"']+/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
]
_secrets: set[str] = set()

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "bridge_log_context", default=None
)
# attributes every LogRecord has; anything else was passed as `extra=`
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

log = logging.getLogger(__name__)
request_log = logging.getLogger("bridge.request")


# --- redaction ----------------------------------------------------------------------------


def register_secrets(values: Iterable[str | None]) -> None:
    """Redact these exact values (and their URL-encoded forms) wherever they appear."""
    for value in values:
        if value and len(value) >= MIN_SECRET_LENGTH:
            _secrets.add(value)
            _secrets.add(quote(value, safe=""))


def settings_secrets(settings: Settings) -> list[str]:
    """The configured secrets: every Buffer token and the Slack signing secret."""
    found: list[str] = []
    for account in settings.buffer_token_vars:
        try:
            found.append(settings.buffer_token(account))
        except Exception:  # an unreadable token file stops start-up elsewhere, with its name
            continue
    if settings.slack_signing_secret:
        found.append(settings.slack_signing_secret)
    return found


def redact(text: str) -> str:
    """`text` with every known secret and secret-shaped token replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    """Redact strings inside a JSON-ish value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """`record` with its message (arguments merged in) and string extras redacted."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not hide the line
        message = f"{record.msg} {record.args}"
    # merged first: a secret split between the format string and its arguments is caught too
    record.msg, record.args = redact(message), None
    for key, value in list(vars(record).items()):
        if key not in _RECORD_ATTRS and isinstance(value, str | Mapping | list | tuple):
            setattr(record, key, _redact_value(value))
    return record


class RedactFilter(logging.Filter):
    """Rewrite a record's message with its arguments merged in and secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; only its text changes."""
        scrub(record)
        return True


def install_scrubber() -> None:
    """Scrub every log record this process makes, whatever handler prints it (idempotent).

    A record factory catches records at birth; `extra=` attributes arrive after it, so
    the servers' own loggers (which print raw request lines) also get a filter."""
    if _scrubber_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        """The previous factory's record, scrubbed."""
        return scrub(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        logging.getLogger(name).addFilter(RedactFilter())
    _scrubber_installed.append(True)


_scrubber_installed: list[bool] = []


class ContextFilter(logging.Filter):
    """Copy the current request/task context onto the record (explicit extras win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record."""
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# --- context ------------------------------------------------------------------------------


def bind(**fields: Any) -> None:
    """Add fields to the context of this request or task (None removes a field)."""
    merged = {**(_context.get() or {}), **fields}
    _context.set({k: v for k, v in merged.items() if v is not None})


def bind_jobs(job_ids: list[int]) -> None:
    """Bind the jobs a sync works on: `job_id` when it is one, `job_ids` always."""
    bind(job_ids=list(job_ids), job_id=job_ids[0] if len(job_ids) == 1 else None)


def clear() -> None:
    """Forget the context (end of a request or task)."""
    _context.set({})


def context() -> dict[str, Any]:
    """The current context fields."""
    return dict(_context.get() or {})


# --- formatters ---------------------------------------------------------------------------


def _timestamp(record: logging.LogRecord) -> str:
    """The record's time, ISO 8601 in UTC with milliseconds."""
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """Fields passed with `extra=` or bound in the context."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS and v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, context, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """The line."""
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        extras = _extras(record)
        for key in CONTEXT_FIELDS:
            if key in extras:
                line[key] = _redact_value(extras.pop(key))
        for key, value in sorted(extras.items()):
            line.setdefault(key, _redact_value(value))
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [key=value ...]` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The line, with the context appended."""
        text = super().format(record)
        extras = _extras(record)
        fields = " ".join(f"{k}={extras[k]}" for k in CONTEXT_FIELDS if k in extras)
        return redact(f"{text} [{fields}]" if fields else text)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test capture swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        """The current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignore: the stream is always the current sys.stderr."""


def make_handler(fmt: str = "json") -> logging.Handler:
    """A stderr handler with context, redaction and the chosen format."""
    handler = _StderrHandler()
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("bridge")
    return handler


def configure(level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()) -> None:
    """Send every logger's records through one redacting handler on the root logger.

    Idempotent: calling it again (a second app in the same process) replaces our handler.
    Logs go to stderr, so stdout stays clean for command output (a new client token)."""
    register_secrets(secrets)
    install_scrubber()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "bridge":
            root.removeHandler(handler)
    root.addHandler(make_handler(fmt))
    root.setLevel(level)


# --- Flask --------------------------------------------------------------------------------


def request_source() -> str:
    """The kind of caller of this request, from its URL rule (never from the raw path)."""
    from flask import request

    rule = request.url_rule.rule if request.url_rule is not None else ""
    parts = rule.strip("/").split("/")
    if parts[0] in ("hooks", "chat") and len(parts) > 1:
        name = (request.view_args or {}).get("source") or parts[1]
        return name if name in KNOWN_SOURCES else "other"
    if parts[0] == "v1":
        return "rest"
    if rule in ("/healthz", "/readyz"):
        return "health"
    if rule == "/metrics":
        return "metrics"
    if rule in ("/docs", "/redoc", "/openapi.json") or parts[0] in ("docs", "redoc"):
        return "docs"
    return "other"


def _request_id(header: str | None) -> str:
    """The caller's request id when it is sane, else a new one."""
    if header and _SANE_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Log as configured, bind each request's context, echo X-Request-ID, and write one
    access line per request."""
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
            redact(request.path),
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "path": redact(request.path),
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


# --- Celery -------------------------------------------------------------------------------


def bind_task(task: Any, task_id: str | None, args: Any, kwargs: Any) -> None:
    """Bind a task's id and the ids among its arguments (profile_id, job_id, account)."""
    clear()
    bind(task_id=task_id)
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return
    bind(**{k: v for k, v in bound.arguments.items() if k in ("profile_id", "job_id", "account")})
