"""The one way web code reaches the workers: `Queue.wake(profile_id)` and friends.

The database already holds the operation when these run, so a failure here
(Redis down) is logged and swallowed: the reconciler on beat wakes the profile
later. Tasks are sent by name so `bridge` never imports `tasks`.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery

from bridge.config import DELIVERY_QUEUE, WORK_QUEUE, Settings

log = logging.getLogger(__name__)

SYNC_PROFILE = "tasks.sync.sync_profile"
SNAPSHOT_ACCOUNT = "tasks.snapshots.snapshot_account"
NOTIFY = "tasks.notify.notify_job"
DELIVER_EVENT = "tasks.deliver.deliver_event"

# The "a sync is already on its way" flag lives no longer than the reconciler waits before
# it re-wakes an overdue profile (RECONCILE_AFTER): a task lost with a killed worker or a
# flushed Redis must not hide its profile from the reconciler for longer than that. It
# also outlives the longest settle wait, so a burst that is settling queues no new tasks.
PENDING_TTL_FLOOR = 5.0
# Redis visibility timeout: longer than any countdown a task uses (backoff is capped below it).
VISIBILITY_TIMEOUT = 4 * 3600


def pending_key(profile_id: str) -> str:
    """Redis key of the flag that says a sync of `profile_id` is queued."""
    return f"bridge:pending:{profile_id}"


def pending_ttl(settings: Settings) -> int:
    """Seconds the pending flag of a profile lives (see PENDING_TTL_FLOOR's comment)."""
    longest_settle = settings.sync_settle_max + settings.sync_settle
    return max(1, round(max(settings.reconcile_after, longest_settle, PENDING_TTL_FLOOR)))


def synced_key(profile_id: str) -> str:
    """Redis key that lives SYNC_BURST_WINDOW after a sync of `profile_id` started: while it
    lives, a change is part of a burst and waits for the trailing sync."""
    return f"bridge:synced:{profile_id}"


def celery_settings(settings: Settings) -> dict[str, Any]:
    """Celery settings for at-least-once work; shared by the producer and the worker."""
    return {
        "broker_url": settings.redis_url,
        "task_ignore_result": True,  # job state lives in the database
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            # enqueueing must never hang a web request: a few quick tries, then give up
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
            "socket_timeout": 2,
            "socket_connect_timeout": 2,
        },
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": 10,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "task_soft_time_limit": 240,
        "task_time_limit": 300,
        # a sync that loses the broker runs on: its lock fences its write, and it is
        # idempotent; said explicitly, as Celery warns when it is left to the default
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_send_task_events": True,
        # no "task-sent" event: nothing here reads it, and it is a second Redis publish on
        # every wake, half of a wake's cost on the request path (1.5 -> 0.8 ms CPU)
        "task_send_sent_event": False,
        "task_default_queue": WORK_QUEUE,
        # deliveries wait on receivers the bridge does not control (up to 20 s each): on
        # their own queue and workers (WORKER_QUEUE), they cannot hold up a sync
        "task_routes": {DELIVER_EVENT: {"queue": DELIVERY_QUEUE}},
        "timezone": "UTC",
    }


class Queue:
    """Sends tasks by name and keeps the per-profile pending flag."""

    def __init__(self, settings: Settings, redis_client: redis.Redis) -> None:
        self.redis = redis_client
        self.pending_ttl = pending_ttl(settings)
        self.celery = Celery("bridge-producer", set_as_current=False)
        self.celery.conf.update(celery_settings(settings))

    def wake(self, profile_id: str, force: bool = False) -> bool:
        """Ask a worker to sync `profile_id`; False when the queue could not be reached."""
        try:
            first = self.redis.set(pending_key(profile_id), "1", nx=True, ex=self.pending_ttl)
            if first or force:
                self.celery.send_task(SYNC_PROFILE, args=[profile_id])
            return True
        except Exception as exc:
            log.warning("could not wake a worker for %s: %s", profile_id, exc)
            return False

    def send(self, name: str, *args: Any) -> bool:
        """Send task `name`; False when the queue could not be reached."""
        try:
            self.celery.send_task(name, args=list(args))
            return True
        except Exception as exc:
            log.warning("could not queue %s: %s", name, exc)
            return False
