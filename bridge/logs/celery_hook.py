"""A Celery task's logging context: its task id and the ids among its arguments."""

from __future__ import annotations

import inspect
from typing import Any

from bridge.logs.context import bind, clear

# the arguments worth a context field: they say what a task works on
_BOUND_ARGUMENTS = ("profile_id", "job_id", "account")


def bind_task(task: Any, task_id: str | None, args: Any, kwargs: Any) -> None:
    """Replace the context with the task's id and its profile_id, job_id and account
    arguments; arguments that do not fit the task's signature bind the id alone."""
    clear()
    bind(task_id=task_id)
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return
    bind(**{k: v for k, v in bound.arguments.items() if k in _BOUND_ARGUMENTS})
