"""The Celery app (the Flask pattern: one factory, tasks calling into `bridge`).

The app object exists at import so `celery -A tasks.celery_app` finds it, but the
environment is read only when Celery first configures it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
)

from bridge import logs
from bridge.config import Settings, load_settings
from bridge.queue import celery_settings
from bridge.services import Services

celery = Celery(
    "bridge",
    include=[
        "tasks.sync",
        "tasks.snapshots",
        "tasks.reconcile",
        "tasks.notify",
        "tasks.replays",
        "tasks.rotation",
        "tasks.deliver",
        "tasks.posting",
    ],
)
PRUNE_INTERVAL = 3600.0  # seconds; retention is days, so hourly is plenty
RESCUE_INTERVAL = 2.0  # seconds; a dead sync's profile waits LOCK_TTL plus at most this
_state: dict[str, Any] = {}
_lock = threading.Lock()


def settings() -> Settings:
    """The settings of this process, read once."""
    with _lock:
        if "settings" not in _state:
            _state["settings"] = load_settings()
        return _state["settings"]


def services() -> Services:
    """The Services of this process, built on first use (after a fork, anew)."""
    with _lock:
        if "services" not in _state:
            _state["services"] = Services(_state.get("settings") or load_settings())
        return _state["services"]


def beat_schedule(config: Settings) -> dict[str, Any]:
    """The timers: snapshots, the reconciler, rotation steps, pruning old webhook answers,
    adopting Buffer's queue into kept weeks."""
    return {
        "snapshot-all": {
            "task": "tasks.snapshots.snapshot_all",
            "schedule": config.snapshot_interval,
        },
        "reconcile": {
            "task": "tasks.reconcile.reconcile",
            "schedule": config.reconcile_interval,
        },
        "rescue": {
            "task": "tasks.reconcile.rescue",
            "schedule": RESCUE_INTERVAL,
        },
        "rotation-tick": {
            "task": "tasks.rotation.tick",
            "schedule": config.rotation_interval,
        },
        "prune-deliveries": {
            "task": "tasks.deliveries.prune",
            "schedule": PRUNE_INTERVAL,
        },
        "prune-events": {
            "task": "tasks.deliver.prune_events",
            "schedule": PRUNE_INTERVAL,
        },
        "adopt-queues": {
            "task": "tasks.posting.adopt_queues",
            "schedule": config.adopt_interval,
        },
    }


def configure(app: Celery, config: Settings) -> None:
    """Apply our settings to `app`."""
    app.conf.update(celery_settings(config))
    app.conf.beat_schedule = beat_schedule(config)
    app.conf.beat_scheduler = "tasks.beat:HeartbeatScheduler"


@celery.on_configure.connect
def _on_configure(sender: Celery, **_: Any) -> None:
    """Read the environment the first time Celery needs its configuration."""
    configure(sender, settings())


@worker_init.connect
def _warn_about_buffer_apis(**_: Any) -> None:
    """Say once, when the worker starts, which accounts lose (or lack) schedule writes."""
    from bridge.accounts import startup_warnings

    for line in startup_warnings(settings()):
        logging.getLogger("bridge.accounts").warning(line)


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A forked pool process must not share its parent's sockets."""
    with _lock:
        _state.pop("services", None)


class _QuietRescue(logging.Filter):
    """Drops Celery's routine lines (sent, received, succeeded) for the rescue timer: three
    lines every RESCUE_INTERVAL would drown the log. What it finds is logged by the
    reconciler itself and counted in the rewake metric; its failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or "tasks.reconcile.rescue" not in record.getMessage()


@setup_logging.connect
def _setup_logging(**_: Any) -> None:
    """Log like the web app (JSON lines, redacted); connecting this stops Celery's own setup."""
    config = settings()
    logs.configure(config.log_level, config.log_format, logs.settings_secrets(config))
    for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).addFilter(_QuietRescue())


@task_prerun.connect
def _bind_task(
    task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    """Every line a task logs carries its task id and the profile or job it works on."""
    logs.bind_task(task, task_id, args, kwargs)


@task_postrun.connect
def _unbind_task(**_: Any) -> None:
    """The next task in this thread starts with a clean context."""
    logs.clear()


def use(config: Settings, built: Services | None = None) -> None:
    """Use these settings (and services) in this process: the CLI and tests call this."""
    with _lock:
        _state["settings"] = config
        _state.pop("services", None)
        if built is not None:
            _state["services"] = built
    configure(celery, config)
