"""Redaction: no secret reaches any log handler, whoever logs and whoever prints.

There is one layer, the record factory that `install_scrubber` puts in place: every
record this process makes through `logging` (our loggers, werkzeug's, gunicorn's,
Celery's) is scrubbed as it is made, before any filter, handler or formatter sees it.
Its message is merged with its arguments and redacted (so a secret split between the
format string and an argument is caught), its traceback and stack are rendered and
redacted, and each `extra=` field is redacted as `Logger.makeRecord` stores it.
Handlers and formatters therefore print records as they are.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from bridge.config import Settings

REDACTED = "[redacted]"
# Short values would redact ordinary words; real tokens and secrets are far longer.
MIN_SECRET_LENGTH = 8

# (pattern, replacement): each keeps the part that says what was there, drops the secret
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bbb_[A-Za-z0-9_\-]+"), f"bb_{REDACTED}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+"), f"whsec_{REDACTED}"),
    (re.compile(r"\bv0=[0-9a-fA-F]+"), f"v0={REDACTED}"),
    # Standard Webhooks signatures: "v1,<base64 HMAC>"
    (re.compile(r"\bv1,[A-Za-z0-9+/=]{16,}"), f"v1,{REDACTED}"),
    (
        re.compile(r"(?i)(access_token[\"']?\s*[:=]\s*[\"']?)[^&\s\"',;}]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)([?&](?:token|key|secret)=)[^&\s\"']+"), rf"\1{REDACTED}"),
    # /hooks/<source>/<token>: the segment after the source is the caller's secret
    (re.compile(r"(/hooks/[^/\s?#\"']+/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
]
_secrets: set[str] = set()
_installed: list[bool] = []

# attributes every LogRecord has; anything else was passed as `extra=` (or bound context)
RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def register_secrets(values: Iterable[str | None]) -> None:
    """Redact these exact values (and their URL-encoded forms) wherever they appear.

    Values shorter than MIN_SECRET_LENGTH are ignored: they would redact ordinary words."""
    for value in values:
        if value and len(value) >= MIN_SECRET_LENGTH:
            _secrets.add(value)
            _secrets.add(quote(value, safe=""))


def settings_secrets(settings: Settings) -> list[str]:
    """The configured secrets: every readable Buffer token, the Slack signing secret and
    the metrics token."""
    found: list[str] = []
    for account in settings.buffer_token_vars:
        try:
            found.append(settings.buffer_token(account))
        except Exception:  # an unreadable token file stops start-up elsewhere, by name
            continue
    if settings.slack_signing_secret:
        found.append(settings.slack_signing_secret)
    if settings.metrics_token:
        found.append(settings.metrics_token)
    return found


def redact(text: str) -> str:
    """`text` with every registered secret and every secret-shaped token replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """A JSON-ish value with its strings redacted; numbers, booleans and None unchanged,
    containers rebuilt (tuples and sets as lists), anything else as its redacted str()."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class _ScrubbingDict(dict[str, Any]):
    """A record's attributes: `Logger.makeRecord` stores `extra=` fields with item
    assignment after the factory has returned, so each is redacted on the way in."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value if key in RECORD_ATTRS else redact_value(value))


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """`record`, redacted in place: message (arguments merged in), traceback, stack, and
    any `extra=` field set on it later through `record.__dict__`."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not hide the line
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redact(message), None
    if record.exc_info:
        # rendered now and the exception dropped: formatters print exc_text as it is
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record.__dict__ = _ScrubbingDict(record.__dict__)
    return record


def install_scrubber() -> None:
    """Make every log record of this process through `scrub` (idempotent).

    Call it before anything logs a secret: `configure` and the web app's hooks do."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        """The previous factory's record, scrubbed."""
        return scrub(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed.append(True)
