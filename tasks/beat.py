"""Celery beat's scheduler, plus a heartbeat: `bridge healthcheck beat` reads the file's age."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler

from bridge.healthcheck import heartbeat_file
from tasks.celery_app import settings

log = logging.getLogger(__name__)


def touch(path: str) -> bool:
    """Create `path` or bump its modification time; False when that is impossible."""
    try:
        Path(path).touch()
        os.utime(path)
    except OSError as error:
        log.warning("beat: cannot touch heartbeat file %s: %s", path, error.strerror)
        return False
    return True


class HeartbeatScheduler(PersistentScheduler):
    """The persistent scheduler, touching the heartbeat file on every tick.

    Beat ticks at least every `max_interval` (5 minutes) and as often as its most
    frequent timer, so a fresh file means beat's loop is turning, not just that the
    process exists."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Touch the heartbeat, then run one tick."""
        touch(heartbeat_file(settings()))
        return float(super().tick(*args, **kwargs))
