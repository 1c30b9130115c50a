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


# Outbound events follow the webhook platforms' schedule rather than the rule above (a
# receiver may be down for hours; Svix's schedule is what integrators expect): the delay
# before each attempt, as data. 8 attempts over about 28 hours.
DELIVERY_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


def delivery_delay(attempts: int, schedule: tuple[float, ...] | None = None) -> float | None:
    """Seconds to wait after `attempts` failed attempts at an outbound event before the next
    one, or None when the schedule is spent (the delivery has failed)."""
    chosen = DELIVERY_SCHEDULE if schedule is None else schedule
    return chosen[attempts] if attempts < len(chosen) else None
