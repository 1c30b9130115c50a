"""`bridge healthcheck web|worker|beat`: exit status for container and systemd probes."""

from __future__ import annotations

import os
import socket
import time
import urllib.request

from bridge.config import Settings, load_settings

WEB_URL = "http://127.0.0.1:8000/healthz"


def heartbeat_file(settings: Settings | None = None) -> str:
    """Where beat records that it is alive (BEAT_HEARTBEAT_FILE); without `settings`,
    read from the environment now (beat's scheduler asks on every tick)."""
    return (settings or load_settings()).beat_heartbeat_file


def worker_node_name(settings: Settings) -> str:
    """The Celery node name of this machine's worker: WORKER_NAME (`@<host name>` added
    when it names no host), else `worker-<WORKER_METRICS_PORT>@<host name>`, so several
    workers on one machine differ and `bridge healthcheck worker` pings its own."""
    name = settings.worker_name or f"worker-{settings.worker_metrics_port}"
    return name if "@" in name else f"{name}@{socket.gethostname()}"


def check(role: str, settings: Settings) -> tuple[bool, str]:
    """(healthy, one line saying why) for `role`: "web", "beat", else the worker."""
    if role == "web":
        return _check_web()
    if role == "beat":
        return _check_beat(settings)
    return _check_worker(settings)


def _check_web() -> tuple[bool, str]:
    """The web process answers /healthz."""
    try:
        with urllib.request.urlopen(WEB_URL, timeout=3) as response:
            return response.status == 200, f"web: HTTP {response.status}"
    except OSError as error:
        return False, f"web: {error}"


def _check_beat(settings: Settings) -> tuple[bool, str]:
    """Beat touched its heartbeat file recently."""
    path = heartbeat_file(settings)
    limit = max(2 * settings.reconcile_interval, 120.0)
    try:
        age = time.time() - os.path.getmtime(path)
    except OSError:
        return False, f"beat: no heartbeat file at {path}"
    return age <= limit, f"beat: last tick {age:.0f}s ago (limit {limit:.0f}s)"


def _check_worker(settings: Settings) -> tuple[bool, str]:
    """This machine's worker answers a Celery ping (a producer app on the same broker: a
    ping needs no task, so `bridge` does not import `tasks`)."""
    from celery import Celery

    from bridge.queue import celery_settings

    app = Celery("bridge-healthcheck", set_as_current=False)
    app.conf.update(celery_settings(settings))
    node = worker_node_name(settings)
    try:
        replies = app.control.ping(destination=[node], timeout=3.0) or []
    finally:
        app.close()
    return bool(replies), f"worker {node}: {'ok' if replies else 'no answer'}"
