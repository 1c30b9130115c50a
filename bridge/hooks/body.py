"""Read a third-party webhook body, whatever its shape, into one flat dict of fields.

Zapier sends JSON or a form, sometimes flattened (`schedule__times`); IFTTT sends
whatever a person typed: JSON, a form, or plain text. Plain text that is neither
JSON nor a form is kept whole under `text`, for the chat grammar to read.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from flask import Request

from bridge.errors import MalformedBody
from bridge.web.request import check_json_depth

FLAT_SEPARATOR = "__"  # Zapier's separator for flattened nested keys


def read(request: Request) -> dict[str, Any]:
    """The request's fields: JSON object, form fields, or `{"text": ...}` for plain text."""
    raw = request.get_data(cache=True)  # enforces MAX_CONTENT_LENGTH (413) before parsing
    text = decode(raw)
    mimetype = request.mimetype
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return lift(parse_json(text))
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return lift(_form(request))
    return lift(parse_text(text))


def parse_text(text: str) -> dict[str, Any]:
    """A hand-typed body: JSON if it looks like JSON, a form if it has `=`, else text."""
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped[0] in "{[":
        return parse_json(text)  # unstripped, so line and column match what was sent
    if "=" in stripped and "\n" not in stripped and " " not in stripped.split("=", 1)[0]:
        return _pairs(parse_qsl(stripped, keep_blank_values=True))
    return {"text": stripped}


def parse_json(text: str) -> dict[str, Any]:
    """A JSON object; a 400 naming line and column when it breaks, or when it nests
    deeper than any webhook needs (json.loads would recurse until RecursionError)."""
    check_json_depth(text)
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise MalformedBody(
            f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}", "body"
        ) from None
    if not isinstance(value, dict):
        raise MalformedBody('the JSON body must be an object like {"profile": ...}', "body")
    return value


def decode(raw: bytes) -> str:
    """The body as text (UTF-8, which is what every one of these tools sends)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedBody(f"the body is not UTF-8 text (byte {error.start})", "body") from None


def _form(request: Request) -> dict[str, Any]:
    """Form fields; a field sent several times becomes a list."""
    return _pairs((key, value) for key, value in request.form.items(multi=True))


def _pairs(pairs: Any) -> dict[str, Any]:
    """Key/value pairs as a dict; repeated keys collect into a list."""
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    return fields


def lift(fields: dict[str, Any]) -> dict[str, Any]:
    """Bring nested and flattened fields to the top: `schedule__times` or `{"schedule":
    {"times"}}` counts as `times` unless `times` itself is given."""
    lifted = dict(fields)
    for key, value in fields.items():
        if isinstance(key, str) and FLAT_SEPARATOR in key.strip(FLAT_SEPARATOR):
            leaf = key.rsplit(FLAT_SEPARATOR, 1)[1]
            lifted.setdefault(leaf, value)
        elif isinstance(value, dict):
            for inner, inner_value in value.items():
                lifted.setdefault(inner, inner_value)
    return lifted
