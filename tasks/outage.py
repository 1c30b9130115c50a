"""Our own database down, as the tasks meet it (bridge.db raises DatabaseUnavailable).

Nothing is lost while PostgreSQL is down: every operation is a row written before its
task was sent, and no row is written until the database is back. What an outage must
not do is drop a task whose work is still to do, or crash the worker. So:

* one-shot tasks (a sync, a snapshot job, a follow-up, an outbound delivery) retry in a
  few seconds, for as long as the outage lasts (`retry_later`). A sync's task keeps its
  profile's pending flag, so dropping it would also keep the reconciler away from the
  profile until the flag expired (`PENDING_TTL`, a minute) after the database is back;
* timer tasks (the reconciler, rotation ticks, pruning) skip their turn with one line
  in the log (`skipped_while_down`): beat sends them again on their next interval, and
  retrying them would pile up copies of the same work.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task

from bridge import retry
from bridge.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

# The cap of the retry countdown while the database is down: an attempt costs one refused
# connection (or CONNECT_TIMEOUT against an unreachable host), and the cap is how long
# after the database is back the last waiting task may still sleep.
RETRY_MAX = 10.0

Result = TypeVar("Result")


def retry_later(task: Task, error: DatabaseUnavailable) -> Exception:
    """The Retry for `task` to raise: run again after the one backoff rule (capped at
    RETRY_MAX), counted on the task's own retries; logged as one line, not a traceback.

    Bounded only by the task's own `max_retries` (declare None to wait out any outage);
    past it Celery raises `error` and the reconciler finds the row once the database is
    back."""
    countdown = retry.backoff(task.request.retries + 1, RETRY_MAX)
    log.warning("%s: %s; retrying in %.1f s", task.name, error.message, countdown)
    return task.retry(countdown=countdown, exc=error)


def skipped_while_down(run: Callable[..., Result]) -> Callable[..., Result | int]:
    """A timer task that skips its turn (answering 0) while the database is down."""

    @functools.wraps(run)
    def guarded(*args: Any, **kwargs: Any) -> Result | int:
        try:
            return run(*args, **kwargs)
        except DatabaseUnavailable as error:
            log.warning("%s skipped: %s", run.__name__, error.message)
            return 0

    return guarded
