"""The one backoff rule."""

from __future__ import annotations

import random

import pytest

from bridge import retry


@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 30])
def test_backoff_grows_and_is_capped(attempt: int) -> None:
    rng = random.Random(attempt)
    wait = retry.backoff(attempt, cap=60.0, rng=rng)
    ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
    assert ceiling / 2 <= wait <= ceiling


def test_jitter_spreads_workers_that_failed_together() -> None:
    rng = random.Random(7)
    assert len({round(retry.backoff(4, cap=60.0, rng=rng), 3) for _ in range(20)}) > 10


def test_celery_options_declare_the_same_rule() -> None:
    options = retry.celery_autoretry(cap=30.0, max_retries=5)
    assert options == {
        "retry_backoff": retry.BASE,
        "retry_backoff_max": 30,
        "retry_jitter": True,
        "max_retries": 5,
    }
