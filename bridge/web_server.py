"""`bridge serve`: the web app under gunicorn, configured from code."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

from bridge.config import Settings


class _Gunicorn(BaseApplication):
    """A gunicorn application whose options come from arguments, not a config file."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply our options."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app in each worker process."""
        from bridge import create_app

        return create_app(self.settings)


def run_gunicorn(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until stopped. gunicorn's access log stays off: the app logs requests itself,
    with tokens in webhook paths redacted."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": None,
        "loglevel": settings.log_level.lower(),
    }
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        options["child_exit"] = _forget_metrics_of
    _Gunicorn(settings, options).run()


def _forget_metrics_of(_server: Any, worker: Any) -> None:
    """A gunicorn worker exited: its live gauges must stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
