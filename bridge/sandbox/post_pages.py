"""Reading the sandbox's posts as Buffer's `posts` query does: dates, filters, sort, pages.

posts.py keeps the posts and hands `page` a channel's or organization's posts under
the sandbox lock. Dates are ISO 8601 in UTC with milliseconds
(`2026-12-07T09:00:00.000Z`); dates given may carry any offset (`Z` included) and
are taken as UTC without one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol


class PostRecord(Protocol):
    """What a page sorts and filters a post on (bridge/sandbox/posts.py's `PostRecord`;
    a Protocol, so this module never imports the one that imports it)."""

    status: str
    due_at: datetime | None
    created_at: datetime
    seq: int
    channel_id: str

    def as_dict(self) -> dict[str, Any]: ...


__all__ = [
    "DEFAULT_PAGE",
    "DEFAULT_SORT",
    "MAX_PAGE",
    "iso",
    "ms",
    "page",
    "parse_datetime",
    "sort_key",
]

DEFAULT_PAGE = 20
MAX_PAGE = 100
DEFAULT_SORT = [{"field": "dueAt", "direction": "asc"}]  # Buffer's own default is not documented


def ms(moment: datetime) -> datetime:
    """`moment` in UTC, cut to whole milliseconds (what Buffer's dates carry)."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime | None) -> str | None:
    """`2026-12-07T09:00:00.000Z` for a datetime; None for None."""
    if moment is None:
        return None
    moment = ms(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(value: Any) -> datetime:
    """An ISO 8601 string (offset or `Z`; UTC when none) as a UTC datetime in milliseconds.

    Raises ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError("a date must be an ISO 8601 string")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ms(moment)


def page(
    posts: Iterable[PostRecord],
    filters: dict[str, Any] | None = None,
    sort: list[dict[str, Any]] | None = None,
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    """One Relay page (PostsResults) of `posts` matching `filters`.

    `filters`: PostsFiltersInput (channelIds, status, dueAt/createdAt {start, end},
    both ends inclusive; a post without the date never matches its range). `sort`:
    [{field, direction}], default dueAt asc; a missing date sorts last either way;
    ties go by creation order. `first`: default 20, capped at 100. Cursors are
    opaque and carry the node's sort key, so paging survives posts that change or go.
    Raises ValueError for a bad date, cursor or `first`."""
    filters = filters or {}
    channels = filters.get("channelIds")
    wanted = None if channels is None else {str(c) for c in channels}
    size = DEFAULT_PAGE if first is None else first
    if size < 0:
        raise ValueError("first must not be negative")
    size = min(size, MAX_PAGE)
    order = sort or DEFAULT_SORT
    statuses = filters.get("status")
    due, created = _bounds(filters.get("dueAt")), _bounds(filters.get("createdAt"))
    start = _cursor_key(after, len(order)) if after else None
    matches = [
        p
        for p in posts
        if (wanted is None or p.channel_id in wanted) and _matches(p, statuses, due, created)
    ]
    keyed = sorted(((sort_key(p, order), p) for p in matches), key=lambda kp: kp[0])
    rest = [kp for kp in keyed if start is None or kp[0] > start]
    edges = [{"node": p.as_dict(), "cursor": _cursor(key)} for key, p in rest[:size]]
    return {
        "edges": edges,
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasPreviousPage": len(rest) < len(keyed),
            "hasNextPage": len(rest) > size,
        },
    }


def _bounds(value: Any) -> tuple[datetime | None, datetime | None] | None:
    """A DateTimeComparator as (start, end); None when absent. ValueError for a bad date."""
    if not value:
        return None
    start, end = value.get("start"), value.get("end")
    return (
        None if start is None else parse_datetime(start),
        None if end is None else parse_datetime(end),
    )


def _in_range(
    moment: datetime | None, bounds: tuple[datetime | None, datetime | None] | None
) -> bool:
    if bounds is None:
        return True
    if moment is None:
        return False
    start, end = bounds
    return (start is None or moment >= start) and (end is None or moment <= end)


def _matches(post: PostRecord, statuses: Any, due: Any, created: Any) -> bool:
    if statuses is not None and post.status not in statuses:
        return False
    return _in_range(post.due_at, due) and _in_range(post.created_at, created)


def sort_key(post: PostRecord, order: list[dict[str, Any]]) -> tuple[Any, ...]:
    """(missing, ±milliseconds) per sort field, then creation order: plain int tuples."""
    key: list[Any] = []
    for spec in order:
        moment = post.due_at if spec.get("field") == "dueAt" else post.created_at
        if moment is None:
            key += [1, 0]
        else:
            millis = int(moment.timestamp() * 1000)
            key += [0, -millis if spec.get("direction") == "desc" else millis]
    return (*key, post.seq)


def _cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _cursor_key(cursor: str, fields: int) -> tuple[Any, ...]:
    """The sort key inside a cursor made by `_cursor` for `fields` sort fields; ValueError else."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        raise ValueError("Invalid cursor") from None
    shaped = (
        isinstance(key, list)
        and len(key) == 2 * fields + 1
        and all(isinstance(k, int) and not isinstance(k, bool) for k in key)
    )
    if not shaped:
        raise ValueError("Invalid cursor")
    return tuple(key)
