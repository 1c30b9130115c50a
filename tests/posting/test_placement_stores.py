"""Twenty posts sent at once to one profile get twenty different slots, the first twenty
free ones, in arrival order: on SQLite and on PostgreSQL, with a Celery worker running
two syncs at a time."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.posting.conftest import daily_slots, job, keep_week, post, tz_of


@pytest.fixture
def database_url(any_database_url: str) -> str:
    """This module's tests run on both stores."""
    return any_database_url


@pytest.mark.parametrize("extra_settings", ["graphql"], indirect=True)
def test_twenty_posts_at_once_get_twenty_slots_in_order(
    client, services, auth_headers, buffer_sandbox, celery_worker
):
    change = keep_week(client, auth_headers, ["08:00", "12:00", "18:00"])
    assert wait_until(lambda: job(client, auth_headers, change)["status"] == "succeeded", 20)
    with ThreadPoolExecutor(4) as pool:  # sent at once: arrival order is the jobs' order
        ids = sorted(pool.map(lambda n: post(client, auth_headers, f"post {n}"), range(20)))

    def all_placed() -> bool:
        return all(job(client, auth_headers, i)["status"] == "succeeded" for i in ids)

    assert wait_until(all_placed, 40)
    due = [dt.datetime.fromisoformat(job(client, auth_headers, i)["result"]["due_at"]) for i in ids]
    assert due == daily_slots(tz_of(services), ["08:00", "12:00", "18:00"], 20)
    posted: list[Any] = buffer_sandbox.sandbox.channel_posts("4eb854340acb04e870000010")
    assert len({p["dueAt"] for p in posted if p["status"] == "scheduled"}) == 20
