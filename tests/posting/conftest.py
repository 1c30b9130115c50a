"""Fixtures of the kept-week tests: an account with a GraphQL key (and v1, unless a test
says otherwise), so profiles can be switched to bridge mode and posts placed."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge import models
from bridge.services import Services
from tests.conftest import DOCS_PROFILE, SLACK_SECRET

KEY = "sandbox-key"


@pytest.fixture
def extra_settings(request: pytest.FixtureRequest, buffer_sandbox: Any) -> dict[str, str]:
    """v1 and a GraphQL key by default; `graphql` (no v1 token) through indirect params."""
    mode = getattr(request, "param", "both")
    keyed = {
        "BUFFER_API_KEY": KEY,
        "BUFFER_GRAPHQL_URL": f"{buffer_sandbox.root_url}graphql",
        "POST_LEAD_SECONDS": "120",
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
    }
    if mode == "graphql":
        return {**keyed, "BUFFER_ACCESS_TOKEN": ""}
    if mode == "v1":
        return {}
    return keyed


@pytest.fixture
def profile_id() -> str:
    return DOCS_PROFILE


# --- helpers the placement tests share -------------------------------------------------

PROFILE = "/v1/profiles/@skinnyoteam"


def tz_of(services: Services) -> ZoneInfo:
    with services.db.session() as session:
        profile = session.get(models.Profile, DOCS_PROFILE)
        assert profile is not None
        return ZoneInfo(profile.timezone or "UTC")


def daily_slots(tz: ZoneInfo, times: list[str], count: int, lead: float = 120) -> list[dt.datetime]:
    """The next `count` instants of a week with `times` every day, after now plus `lead`."""
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lead)
    found: list[dt.datetime] = []
    day = after.astimezone(tz).date()
    while len(found) < count:
        for hhmm in sorted(times):
            hour, minute = map(int, hhmm.split(":"))
            local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)
            if local.astimezone(dt.UTC) > after:
                found.append(local.astimezone(dt.UTC))
        day += dt.timedelta(days=1)
    return found[:count]


def job(client: Any, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    return client.get(f"/v1/jobs/{job_id}", headers=headers).get_json()


def keep_week(client: Any, headers: dict[str, str], times: list[str]) -> int:
    answer = client.put(
        f"{PROFILE}/schedules",
        json={"schedules": [{"days": "daily", "times": times}]},
        headers=headers,
    )
    assert answer.status_code == 202, answer.get_json()
    return int(answer.get_json()["job_id"])


def post(client: Any, headers: dict[str, str], text: str, **extra: Any) -> int:
    answer = client.post(f"{PROFILE}/posts", json={"text": text, **extra}, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    return int(answer.get_json()["job_id"])
