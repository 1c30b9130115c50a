"""Keep client tokens sent in webhook paths (`/hooks/<source>/<token>`) out of every log line.

Tools that cannot set headers put the token in the URL, and URLs are what request
logs print. Rather than trust every logger to remember, two layers:

- `TokenPathMiddleware` (here) takes the token out of the WSGI environ before Flask sees
  the request, so `request.path`, `request.url` and anything our own code logs from them
  read `/hooks/zapier/[redacted]`; the view gets the token from `TOKEN_KEY`.
- `bridge.logs` scrubs every log record, for lines built from the raw request
  (Werkzeug's dev server prints the HTTP request line itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from bridge import logs

REDACTED = logs.REDACTED
TOKEN_KEY = "bridge.path_token"  # where the middleware leaves a path token for the view
_ROUTE = re.compile(r"/hooks/([A-Za-z0-9_-]+)/([^/]+)/?")


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
                    environ[key] = logs.redact(environ[key])
        return self.app(environ, start_response)


def path_token(environ: dict[str, Any]) -> str | None:
    """The token the middleware took out of this request's path, if any."""
    token = environ.get(TOKEN_KEY)
    return token if isinstance(token, str) and token else None
