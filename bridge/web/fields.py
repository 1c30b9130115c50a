"""Marshmallow fields for what callers send, shared by the REST API and the webhooks: days
and times in the domain's grammar, profile references, snapshot references."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from bridge import schedule_grammar
from bridge.errors import InvalidSchedule

PROFILE_REF_MAX = 255


class StrictSchema(Schema):
    """Our own API's input: an unknown field is an error, not silently dropped."""

    class Meta:
        unknown = RAISE


class DaysField(fields.Field):
    """Days as a list or one string: `mon`, `mon-fri`, `weekdays`, `["mon", "wed"]`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return _domain(schedule_grammar.parse_days, value)


class TimesField(fields.Field):
    """Times as a list or one string: `["09:00", "5:30pm"]` or `"9am, 12:30"`."""

    def __init__(self, allow_empty: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_empty = allow_empty

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return _domain(schedule_grammar.parse_times, value, allow_empty=self.allow_empty)


def _domain(parse: Callable[..., Any], value: Any, **kwargs: Any) -> Any:
    """`parse(value)`, its InvalidSchedule turned into a marshmallow ValidationError."""
    if not isinstance(value, str | list):
        raise ValidationError("must be a string or a list of strings")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise ValidationError("must be a list of strings")
    try:
        return parse(value, **kwargs)
    except InvalidSchedule as error:
        raise ValidationError(error.message) from error


def ProfileRefField(**kwargs: Any) -> fields.String:
    """A profile reference: a Buffer profile id, `service:username` or `@username`."""
    return fields.String(
        validate=validate.Length(min=1, max=PROFILE_REF_MAX),
        metadata={"example": "twitter:brand"},
        **kwargs,
    )


class SnapshotRefField(fields.Field):
    """A snapshot id, or `previous` / empty for the state before the latest change."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        """`12`, `"12"`, `"#12"` -> 12; `"previous"`, `""`, null -> None."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "previous")):
            return None
        text = str(value).strip().lstrip("#") if not isinstance(value, bool) else ""
        if not text.isascii() or not text.isdigit() or not 0 < len(text) <= 18 or int(text) < 1:
            raise ValidationError("must be a snapshot id (a number) or 'previous'")
        return int(text)
