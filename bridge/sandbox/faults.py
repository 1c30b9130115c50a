"""Fault injection: the settings, their validation, and picking at most one fault per request.

Faults are drawn from one `random.Random` seeded from the sandbox seed, one draw
per faultable request, so a run with the same seed meets the same faults. The
rates are consecutive slices of [0, 1) in the order drop, slow, error, 429, so
their sum should stay <= 1.

Dropping a connection needs Werkzeug's server: it shuts down
`environ["werkzeug.socket"]` and raises `Dropped`, a ConnectionAbortedError,
which the server takes as "abandon this request without answering".
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any, NoReturn

from bridge.config import RateLimit, parse_rate_limit
from bridge.errors import ConfigError

__all__ = ["FAULT_KEYS", "Dropped", "as_rate_limit", "checked_fault", "drop_connection", "pick"]

FAULT_KEYS = ("error_rate", "rate_429", "slow_rate", "slow_seconds", "drop_rate", "latency")
_SECONDS = ("slow_seconds", "latency")
_SLICES = (
    ("drop", "drop_rate"),
    ("slow", "slow_rate"),
    ("error", "error_rate"),
    ("429", "rate_429"),
)


class Dropped(ConnectionAbortedError):
    """Raised to make Werkzeug's server abandon a request without answering."""


def checked_fault(key: str, value: Any) -> float:
    """`value` as the float setting `key`.

    Raises ValueError for an unknown key, a non-number, a rate outside [0, 1],
    or negative seconds (slow_seconds, latency).
    """
    if key not in FAULT_KEYS:
        raise ValueError(f"unknown fault setting {key!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    number = float(value)
    if key in _SECONDS:
        if number < 0:
            raise ValueError(f"{key} must be >= 0")
    elif not 0 <= number <= 1:
        raise ValueError(f"{key} must be between 0 and 1")
    return number


def as_rate_limit(value: Any) -> RateLimit:
    """A RateLimit from a RateLimit, a string in config's grammar (`60/60s`), or [count, seconds].

    The pair form is what the control API's JSON carries; it follows the same
    rules as the string (count >= 1, seconds > 0). Raises ValueError otherwise.
    """
    if isinstance(value, RateLimit):
        return value
    if isinstance(value, str):
        try:
            return parse_rate_limit("rate_limit", value)
        except ConfigError as error:
            raise ValueError(str(error)) from None
    if isinstance(value, list | tuple) and len(value) == 2:
        count, window = value
        if (
            isinstance(count, int)
            and not isinstance(count, bool)
            and isinstance(window, int | float)
            and not isinstance(window, bool)
            and count >= 1
            and 0 < window < float("inf")
        ):
            return RateLimit(count, float(window))
    raise ValueError("rate_limit must be [count, seconds] or a string like 60/60s")


def pick(draw: float, faults: dict[str, float]) -> str | None:
    """The fault for one uniform draw in [0, 1): "drop", "slow", "error", "429", or None."""
    edge = 0.0
    for name, key in _SLICES:
        edge += faults[key]
        if draw < edge:
            return name
    return None


def drop_connection(environ: dict[str, Any]) -> NoReturn:
    """Cut the client's connection without an answer; always raises Dropped."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise Dropped("sandbox fault: connection dropped")
