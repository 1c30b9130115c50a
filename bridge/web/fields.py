"""Marshmallow fields for what callers send, shared by the REST API and the webhooks: days
and times in the domain's grammar, profile references, snapshot references."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from bridge import schedule_grammar
from bridge.errors import InvalidSchedule

PROFILE_REF_MAX = 255
# Caps on what a caller may send, checked before any parsing: far above real use
# ("Mondays, Tuesdays and Wednesdays"; a day's 25 posting times), far below a body's 64 KiB.
DAYS_MAX_CHARS = 200  # a days string, or one entry of a days list
DAYS_MAX_ITEMS = 50  # entries of a days list
TIMES_MAX_CHARS = 1000  # a times string ("9am, 12:30, 5pm, ...")
TIMES_MAX_ITEMS = 100  # entries of a times list
TIME_MAX_CHARS = 32  # one entry of a times list ("12:30 p.m." is 10)


class StrictSchema(Schema):
    """Our own API's input: an unknown field is an error, not silently dropped."""

    class Meta:
        unknown = RAISE


class DaysField(fields.Field):
    """Days as a list or one string: `mon`, `mon-fri`, `weekdays`, `["mon", "wed"]`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        _check_size(value, DAYS_MAX_CHARS, DAYS_MAX_ITEMS, DAYS_MAX_CHARS)
        return _domain(schedule_grammar.parse_days, value)


class TimesField(fields.Field):
    """Times as a list or one string: `["09:00", "5:30pm"]` or `"9am, 12:30"`."""

    def __init__(self, allow_empty: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_empty = allow_empty

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        _check_size(value, TIMES_MAX_CHARS, TIMES_MAX_ITEMS, TIME_MAX_CHARS)
        return _domain(schedule_grammar.parse_times, value, allow_empty=self.allow_empty)


def _check_size(value: Any, max_chars: int, max_items: int, max_item_chars: int) -> None:
    """ValidationError (422 naming the field) for a string or list over its caps."""
    if isinstance(value, str) and len(value) > max_chars:
        raise ValidationError(f"at most {max_chars} characters")
    if isinstance(value, list):
        if len(value) > max_items:
            raise ValidationError(f"at most {max_items} entries")
        if any(isinstance(v, str) and len(v) > max_item_chars for v in value):
            raise ValidationError(f"each entry has at most {max_item_chars} characters")


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
