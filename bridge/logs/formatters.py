"""How a line looks (one JSON object, or text for a terminal) and where it goes (stderr).

Records arrive already redacted (bridge.logs.redaction), so the formatters only lay
them out. Text lines carry request data (a path, a header), so the text formatter escapes
control characters: a CR or LF in a path cannot start a forged line (JSON escapes them
itself).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import unicodedata
from collections.abc import Iterable
from typing import Any

from bridge.logs.context import CONTEXT_FIELDS, ContextFilter
from bridge.logs.redaction import RECORD_ATTRS, install_scrubber, register_secrets

HANDLER_NAME = "bridge"


def _timestamp(record: logging.LogRecord) -> str:
    """The record's time, ISO 8601 in UTC with milliseconds and a Z."""
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """Fields passed with `extra=` or bound in the context, None values left out."""
    return {k: v for k, v in record.__dict__.items() if k not in RECORD_ATTRS and v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the context fields in
    CONTEXT_FIELDS order, other extras sorted, then exc and stack when present."""

    def format(self, record: logging.LogRecord) -> str:
        """The line."""
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        extras = _extras(record)
        for key in CONTEXT_FIELDS:
            if key in extras:
                line[key] = extras.pop(key)
        for key, value in sorted(extras.items()):
            line.setdefault(key, value)
        if record.exc_info and not record.exc_text:  # a record made before install_scrubber
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


# control characters, format characters (bidi overrides, which reorder a terminal's text)
# and the Unicode line and paragraph separators: none belongs inside one log line
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control character written as its Python escape (\\r, \\n,
    \\x1b, \\u2028), LF kept when `keep_newlines` (a traceback's own lines)."""
    if text.isprintable():
        return text
    return "".join(
        ch
        if (keep_newlines and ch == "\n") or unicodedata.category(ch) not in _UNSAFE_CATEGORIES
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [key=value ...]` for a terminal: one line per record,
    control characters escaped; a traceback or stack follows on lines indented by two
    spaces, so every unindented line starts a record."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The line, with the context fields appended, then any traceback indented."""
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        extras = _extras(record)
        fields = " ".join(
            f"{k}={escape_controls(str(extras[k]))}" for k in CONTEXT_FIELDS if k in extras
        )
        head = f"{text} [{fields}]" if fields else text
        tail = []
        if record.exc_info and not record.exc_text:  # a record made before install_scrubber
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            tail.append(record.exc_text)
        if record.stack_info:
            tail.append(self.formatStack(record.stack_info))
        if not tail:
            return head
        body = escape_controls("\n".join(tail).rstrip("\n"), keep_newlines=True)
        return "\n".join([head, *("  " + line for line in body.split("\n"))])


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test capture swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        """The current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignore: the stream is always the current sys.stderr."""


def make_handler(fmt: str = "json") -> logging.Handler:
    """A stderr handler adding the context, in the chosen format ("json" or "text")."""
    handler = _StderrHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name(HANDLER_NAME)
    return handler


def configure(level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()) -> None:
    """Redact `secrets` (and secret-shaped text) in every record of this process, and send
    every logger's records through one handler on the root logger.

    Idempotent: calling it again (a second app in the same process) replaces our handler.
    Logs go to stderr, so stdout stays clean for command output (a new client token)."""
    register_secrets(secrets)
    install_scrubber()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    root.addHandler(make_handler(fmt))
    root.setLevel(level)
