"""What both Buffer clients (v1 and GraphQL) share: the Bearer auth that never shows its
token, a pooled session that never retries on its own, timeout checks, and the client
lifecycle (the `on_call` metrics hook, close, `with`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from bridge.errors import ConfigError

log = logging.getLogger(__name__)

# on_call(label, HTTP status or None when no answer came, seconds taken)
OnCall = Callable[[str, int | None, float], None]


class BearerAuth(AuthBase):
    """Sets `Authorization: Bearer <token>`; as request-level auth it also beats ~/.netrc."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"  # the token must not reach a log or a traceback


def new_session() -> requests.Session:
    """A pooled session that never retries on its own: retries belong to the tasks."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)  # the local sandbox
    return session


def check_timeout(timeout: tuple[float, float]) -> tuple[float, float]:
    """`timeout` as a (connect, read) pair of floats; ConfigError unless both are positive."""
    try:
        connect, read = timeout
        pair = (float(connect), float(read))
    except (TypeError, ValueError):
        raise ConfigError(f"Buffer timeout must be (connect, read) seconds: {timeout!r}") from None
    if not all(0 < s < float("inf") for s in pair):
        raise ConfigError(f"Buffer timeout must be positive seconds: {timeout!r}")
    return pair


class SessionClient:
    """A Buffer client's lifecycle: report calls to `on_call` (labelled with
    `METRIC_PREFIX`), close the session it made, work as a context manager."""

    METRIC_PREFIX = ""
    on_call: OnCall | None
    session: requests.Session
    _owns_session: bool

    def _report(self, label: str, status: int | None, elapsed: float) -> None:
        """Tell on_call about a request; a broken metrics hook must not fail a Buffer call."""
        if self.on_call is None:
            return
        try:
            self.on_call(f"{self.METRIC_PREFIX}{label}", status, elapsed)
        except Exception:
            log.exception("on_call hook failed for buffer %s%s", self.METRIC_PREFIX, label)

    def close(self) -> None:
        """Close the session if this client created it (a given session belongs to the caller)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
