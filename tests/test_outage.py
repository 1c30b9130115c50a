"""Tasks meeting our own database down (tasks/outage.py): one-shot tasks retry within
seconds, timer tasks skip their turn; none fails with a traceback. The whole of it, with
real processes and a real PostgreSQL stopped, is tests/test_faults_postgres.py."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import Retry

from bridge.db import UNAVAILABLE
from bridge.errors import DatabaseUnavailable
from tasks import outage


def _down(*_: Any, **__: Any) -> Any:
    raise DatabaseUnavailable(UNAVAILABLE)


@pytest.mark.parametrize(
    ("module", "task", "inner"),
    [
        ("tasks.reconcile", "reconcile", "reconciler.rewake"),
        ("tasks.rotation", "tick", "rotation.tick"),
        ("tasks.replays", "prune", "replays.prune"),
        ("tasks.deliver", "prune_events", "outbound.prune"),
    ],
)
def test_timer_tasks_skip_their_turn_with_one_line(monkeypatch, caplog, module, task, inner):
    import importlib

    loaded = importlib.import_module(module)
    owner, name = inner.split(".")
    monkeypatch.setattr(getattr(loaded, owner), name, _down)
    monkeypatch.setattr(loaded, "services", lambda: None)
    with caplog.at_level(logging.WARNING, logger="tasks.outage"):
        assert getattr(loaded, task)() == 0
    assert [r.getMessage() for r in caplog.records] == [f"{task} skipped: {UNAVAILABLE}"]


@pytest.mark.parametrize("retries", [0, 1, 5, 500])
def test_one_shot_tasks_retry_within_the_cap(retries):
    asked: list[dict[str, Any]] = []

    def retry(**kwargs: Any) -> Retry:
        asked.append(kwargs)
        return Retry("again", when=kwargs["countdown"])

    task = SimpleNamespace(name="t", request=SimpleNamespace(retries=retries), retry=retry)
    error = DatabaseUnavailable(UNAVAILABLE)
    assert isinstance(outage.retry_later(task, error), Retry)  # type: ignore[arg-type]
    (kwargs,) = asked
    assert 0 < kwargs["countdown"] <= outage.RETRY_MAX and kwargs["exc"] is error
