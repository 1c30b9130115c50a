"""Buffer's rate-limit headers read into hints: the `RateLimit` / `RateLimit-Policy` fields
(one per window, e.g. `"100-in-15min";r=98;t=897`) and the older `RateLimit-Limit`,
`-Remaining`, `-Reset`. A hint may only make the bridge wait longer, never shorter: the
429 and its `retryAfter` are what to obey (graphql.md)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateLimitWindow:
    """One window as Buffer's headers describe it; None where a header did not say."""

    name: str
    remaining: int | None = None
    reset: float | None = None  # seconds from `received_at` until the window frees up
    limit: int | None = None
    period: float | None = None


@dataclass(frozen=True)
class RateLimitHint:
    """What the last answer's headers (and a 429's retryAfter) said about the rate limit.

    Only ever a reason to wait longer: `wait()` is 0 unless a window is used up or a
    429 asked for a pause, and a caller takes the larger of it and its own limiter's wait.
    """

    windows: tuple[RateLimitWindow, ...] = ()
    retry_after: float | None = None
    received_at: float = field(default_factory=time.monotonic)

    def wait(self, now: float | None = None) -> float:
        """Seconds from `now` (time.monotonic) until every window has room; 0 when it has."""
        elapsed = (time.monotonic() if now is None else now) - self.received_at
        needed = [self.retry_after or 0.0]
        for window in self.windows:
            if window.remaining is not None and window.remaining <= 0:
                # a used-up window with no reset time: its period, else a minute
                needed.append(window.reset if window.reset is not None else window.period or 60.0)
        return max(0.0, max(needed) - elapsed)

    def remaining(self) -> int | None:
        """The fewest requests any window has left, or None when no header said."""
        counts = [w.remaining for w in self.windows if w.remaining is not None]
        return min(counts) if counts else None


_ITEM_RE = re.compile(r'^\s*(?:"(?P<quoted>[^"]*)"|(?P<token>[^;,\s]+))(?P<params>(?:\s*;[^,]*)?)')


def parse_rate_limit_headers(
    headers: Mapping[str, str], retry_after: float | None = None
) -> RateLimitHint | None:
    """A RateLimitHint from the headers; None when none is present.

    Read: `RateLimit` / `RateLimit-Policy` (IETF draft, one item per window, e.g.
    `"100-in-15min";r=98;t=897` and `"100-in-15min";q=100;w=900`), else the older
    `RateLimit-Limit`, `-Remaining`, `-Reset`.

    Malformed parts are skipped, never an error: these are hints.
    """
    windows: dict[str, dict[str, float]] = {}
    for header, keys in (("RateLimit-Policy", ("q", "w")), ("RateLimit", ("r", "t"))):
        for name, params in _structured_items(headers.get(header, "")):
            entry = windows.setdefault(name, {})
            for key in keys:
                if key in params:
                    entry[key] = params[key]
    hint_windows = [
        RateLimitWindow(
            name=name,
            remaining=int(p["r"]) if "r" in p else None,
            reset=p.get("t"),
            limit=int(p["q"]) if "q" in p else None,
            period=p.get("w"),
        )
        for name, p in windows.items()
    ]
    if not hint_windows:
        old = _older_headers(headers)
        if old is not None:
            hint_windows.append(old)
    if not hint_windows and retry_after is None:
        return None
    return RateLimitHint(tuple(hint_windows), retry_after)


def _structured_items(value: str) -> list[tuple[str, dict[str, float]]]:
    """`"name";a=1;b=2, "other";a=3` -> [(name, {a: 1, b: 2}), ...]; bad items skipped."""
    items: list[tuple[str, dict[str, float]]] = []
    for part in value.split(","):
        match = _ITEM_RE.match(part)
        if not match:
            continue
        name = match.group("quoted") if match.group("quoted") is not None else match.group("token")
        params: dict[str, float] = {}
        for param in match.group("params").split(";"):
            key, sep, raw = param.partition("=")
            amount = number(raw) if sep else None
            if amount is not None:
                params[key.strip()] = amount
        items.append((name, params))
    return items


def _older_headers(headers: Mapping[str, str]) -> RateLimitWindow | None:
    """`RateLimit-Limit` / `-Remaining` / `-Reset` as one window (Reset in seconds, or epoch)."""
    limit = number(headers.get("RateLimit-Limit", ""))
    remaining = number(headers.get("RateLimit-Remaining", ""))
    reset = number(headers.get("RateLimit-Reset", ""))
    if limit is None and remaining is None and reset is None:
        return None
    if reset is not None and reset > 1_000_000_000:  # a Unix time, not a delay
        reset = max(0.0, reset - time.time())
    return RateLimitWindow(
        name="RateLimit",
        remaining=int(remaining) if remaining is not None else None,
        reset=reset,
        limit=int(limit) if limit is not None else None,
    )


def number(raw: str | None) -> float | None:
    """A header's non-negative, finite number of seconds or requests; None otherwise."""
    try:
        value = float((raw or "").strip().strip('"'))
    except ValueError:
        return None
    return value if value >= 0 and value != float("inf") else None
