"""The rotation tick: on beat every ROTATION_INTERVAL, and once when beat starts."""

from __future__ import annotations

from typing import Any

from celery.signals import beat_init

from bridge import rotation
from tasks import outage
from tasks.celery_app import celery, services

TICK = "tasks.rotation.tick"


@celery.task(name=TICK)
@outage.skipped_while_down
def tick() -> int:
    """Fire the rotation steps that fell due; the number of jobs made."""
    return len(rotation.tick(services()).fired)


@beat_init.connect
def _tick_on_start(sender: Any = None, **_: Any) -> None:
    """A beat that was down catches up at once, not a minute later."""
    celery.send_task(TICK)
