"""The context of a log line: which request, task, job and profile it belongs to.

Fields live in a contextvar, so each request thread and each task sees its own; a
ContextFilter on our handler copies them onto every record it prints. Bound values
are redacted as they are bound, since they reach handlers without passing the record
factory (bridge.logs.redaction).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from typing import Any

from bridge.logs.redaction import redact_value

# The context fields, in the order they appear in a line.
CONTEXT_FIELDS = ("request_id", "job_id", "job_ids", "profile_id", "source", "client", "task_id")

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "bridge_log_context", default=None
)


def bind(**fields: Any) -> None:
    """Add fields to the context of this request or task; a None value removes a field."""
    merged = {**(_context.get() or {}), **{k: redact_value(v) for k, v in fields.items()}}
    _context.set({k: v for k, v in merged.items() if v is not None})


def bind_jobs(job_ids: list[int]) -> None:
    """Bind the jobs a sync works on: `job_ids` always, `job_id` too when there is one."""
    bind(job_ids=list(job_ids), job_id=job_ids[0] if len(job_ids) == 1 else None)


def clear() -> None:
    """Forget the context (end of a request or task)."""
    _context.set({})


def context() -> dict[str, Any]:
    """A copy of the current context fields."""
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Copy the current context onto each record; a field the record already has (an
    explicit `extra=`) wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record."""
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
