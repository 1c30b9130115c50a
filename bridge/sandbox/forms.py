"""Form bodies read the way Buffer's PHP server reads them into `$_POST`.

The reading side of `bridge.buffer.encoding`: `a[]=x` appends, `a[n]=x` sets
index n (and later `a[]` continues after the highest index), `a[k][j]=x` nests.
Written by hand because werkzeug's form parser keeps keys flat and no small
library reproduces PHP's rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request

__all__ = ["form_pairs", "php_list", "php_parse"]

_PHP_INT = re.compile(r"-?[1-9]\d*|0")


def form_pairs(request: Request) -> list[tuple[str, str]]:
    """The POST body's fields in body order, blanks kept; [] for other methods and body types.

    Only urlencoded and multipart bodies are read, as PHP does: a JSON body gives
    no fields at all.
    """
    if request.method != "POST":
        return []
    if request.mimetype == "application/x-www-form-urlencoded":
        body = request.get_data().decode("utf-8", "replace")
        return parse_qsl(body, keep_blank_values=True)
    if request.mimetype == "multipart/form-data":
        return list(request.form.items(multi=True))
    return []


def php_parse(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Form pairs nested as PHP fills `$_POST`; PHP arrays become dicts with int keys.

    A key without a base name (`[x]=1`) is dropped and an unclosed bracket ends
    the key, as in PHP. Never raises.
    """
    result: dict[Any, Any] = {}
    for raw_key, value in pairs:
        keys = _key_path(raw_key)
        if keys is None:
            continue
        node: dict[Any, Any] = result
        for position, segment in enumerate(keys):
            key: str | int
            if segment is None:
                ints = [k for k in node if isinstance(k, int)]
                key = max(ints) + 1 if ints else 0
            else:
                key = int(segment) if _PHP_INT.fullmatch(segment) else segment
            if position == len(keys) - 1:
                node[key] = value
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = {}
                    node[key] = child
                node = child
    return result


def php_list(value: Any) -> list[Any] | None:
    """A PHP array's values in insertion order; `""` (as `a=` sends) is []; None if not an array."""
    if value == "":
        return []
    if isinstance(value, dict):
        return list(value.values())
    return None


def _key_path(raw_key: str) -> list[str | None] | None:
    """`a[0][days][]` -> ["a", "0", "days", None] (None: append); None when there is no base."""
    base, bracket, rest = raw_key.partition("[")
    if not base:
        return None
    segments: list[str | None] = []
    if bracket:
        rest = "[" + rest
        while rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                break
            segments.append(rest[1:end] or None)
            rest = rest[end + 1 :]
    return [base, *segments]
