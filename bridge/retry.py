"""The one backoff rule: exponential from 2 s, doubling, capped, with jitter.

Syncs and snapshot jobs keep their attempt count in the database (it must outlive a
lost task message), so they ask `backoff()` for a countdown. Follow-ups keep theirs in
Celery and declare the same rule on the task (`celery_autoretry`), which Celery's
autoretry computes for them (Celery draws its jitter from the whole interval).
"""

from __future__ import annotations

import random
from typing import Any

BASE = 2.0  # seconds before the second attempt


def backoff(attempt: int, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first).

    Between half and all of `BASE * 2**(attempt - 1)`, never more than `cap`: the
    jitter keeps workers that failed together from retrying together."""
    ceiling = min(cap, BASE * 2 ** max(attempt - 1, 0))
    return (rng or random).uniform(ceiling / 2, ceiling)


def celery_autoretry(cap: float, max_retries: int) -> dict[str, Any]:
    """Task options declaring this rule for a Celery task that retries on its own count."""
    return {
        "retry_backoff": BASE,
        "retry_backoff_max": int(cap),
        "retry_jitter": True,
        "max_retries": max_retries,
    }
