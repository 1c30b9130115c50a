"""Keep client tokens sent in webhook paths (`/hooks/<source>/<token>`) out of every log line.

Tools that cannot set headers put the token in the URL, and URLs are what request
logs print. Rather than trust every logger to remember, two layers:

- `TokenPathMiddleware` takes the token out of the WSGI environ before Flask sees the
  request, so `request.path`, `request.url` and anything our own code logs from them
  read `/hooks/zapier/[redacted]`; the view gets the token from `TOKEN_KEY`.
- a log-record factory rewrites such paths in every record's message, arguments and
  string attributes, for lines built from the raw request (Werkzeug's dev server
  prints the HTTP request line itself).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

MARK = "/hooks/"
REDACTED = "[redacted]"
TOKEN_KEY = "bridge.path_token"  # where the middleware leaves a path token for the view
# /hooks/<source>/<token>: the token is the third segment, whatever its shape
_TOKEN_PATH = re.compile(r"(/hooks/[A-Za-z0-9_-]+/)[^/?#\s\"']+")
_ROUTE = re.compile(r"/hooks/([A-Za-z0-9_-]+)/([^/]+)/?")
_installed: dict[str, Any] = {}


def redact(text: str) -> str:
    """`text` with the token segment of every `/hooks/<source>/<token>` replaced."""
    if MARK not in text:
        return text
    return _TOKEN_PATH.sub(rf"\g<1>{REDACTED}", text)


def _clean(value: Any) -> Any:
    """A log value with tokens redacted (strings, and the strings one level inside containers)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact(v) if isinstance(v, str) else v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) if isinstance(v, str) else v for v in value)
    return value


def _mentions_hooks(value: Any) -> bool:
    """True when a value could hold a webhook path (cheap test before any rewriting)."""
    return MARK in value if isinstance(value, str) else MARK in repr(value)


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Redact webhook tokens anywhere in `record` (message, args and extra attributes)."""
    args = record.args if isinstance(record.args, tuple) else ()
    if _mentions_hooks(record.msg) or any(_mentions_hooks(a) for a in args):
        # format now: a token split between the format string and its arguments is caught too
        record.msg = redact(record.getMessage())
        record.args = None
    for key, value in list(vars(record).items()):
        if key not in ("msg", "args", "exc_info") and value and _mentions_hooks(value):
            setattr(record, key, _clean(value))
    return record


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs records (for handlers built outside our factory)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub and keep the record."""
        scrub(record)
        return True


def install() -> None:
    """Scrub every log record made in this process from now on (idempotent)."""
    if "factory" in _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        """The previous factory's record, scrubbed."""
        return scrub(previous(*args, **kwargs))

    _installed["factory"] = factory
    logging.setLogRecordFactory(factory)
    # `extra=` attributes are set after the factory runs: the servers' own loggers also
    # get a filter that runs when the record is handled
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        logging.getLogger(name).addFilter(RedactingFilter())


class TokenPathMiddleware:
    """WSGI middleware: move a `/hooks/<source>/<token>` token out of the path into the environ."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Redact the path (and the raw URIs servers keep) before the app sees it."""
        match = _ROUTE.fullmatch(environ.get("PATH_INFO", ""))
        if match is not None and match.group(2) != REDACTED:
            environ[TOKEN_KEY] = match.group(2)
            environ["PATH_INFO"] = f"/hooks/{match.group(1)}/{REDACTED}"
            for key in ("REQUEST_URI", "RAW_URI"):
                if isinstance(environ.get(key), str):
                    environ[key] = redact(environ[key])
        return self.app(environ, start_response)


def path_token(environ: dict[str, Any]) -> str | None:
    """The token the middleware took out of this request's path, if any."""
    token = environ.get(TOKEN_KEY)
    return token if isinstance(token, str) and token else None
