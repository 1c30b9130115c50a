"""Slack slash commands: Slack's signed form, the 3 s ephemeral answer, the follow-up."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import auth, create_app, snapshots
from bridge.hooks.slack import plain_text
from bridge.services import Services
from tests.conftest import DOCS_PROFILE, make_settings, slack_form, wait_until
from tests.conftest import SLACK_SECRET as SECRET
from tests.conftest import SLACK_TEAM as TEAM
from tests.conftest import slack_signed as signed


@pytest.fixture
def extra_settings() -> dict[str, str]:
    """The usual test settings plus a Slack signing secret."""
    return {"SLACK_SIGNING_SECRET": SECRET}


@pytest.fixture
def slack_client(services: Any) -> str:
    """A client linked to Slack team T0001, allowed everything; its name."""
    with services.db.session() as session:
        auth.create_client(session, "slack-team", slack_team=TEAM)
    return "slack-team"


def command(client: Any, text: str, **more: str) -> Any:
    """Post a correctly signed slash command."""
    body = slack_form(text, **more)
    return client.post("/chat/slack", data=body, headers=signed(body))


def test_set_answers_queued_at_once_and_follows_up(
    client,
    slack_client,
    receiver,
    celery_worker,
    buffer_sandbox,
):
    started = time.monotonic()
    response = command(client, "set @skinnyoteam weekdays 9am 12:30 5pm", response_url=receiver.url)
    assert time.monotonic() - started < 3.0
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Queued: @skinnyoteam mon-fri 09:00 12:30 17:00 (job ")
    job_id = int(answer["text"].split("(job ")[1].split(")")[0])
    wait_until(lambda: receiver.received, timeout=20)
    text = receiver.received[0]["json"]["text"]
    assert text == (
        f"Done, job {job_id} (twitter:skinnyoteam): mon-fri: 12:00 17:00 18:00 → 09:00 12:30 17:00"
    )
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["09:00", "12:30", "17:00"]}
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time()))},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=abc"},
    ],
)
def test_missing_signature_is_401(client, slack_client, headers):
    response = client.post("/chat/slack", data=slack_form("help"), headers=headers)
    assert response.status_code == 401
    body = response.get_json()
    assert body["code"] == 401 and "Slack signature" in body["message"]


def test_wrong_signature_is_401(client, slack_client):
    body = slack_form("set @skinnyoteam mon 9am")
    response = client.post("/chat/slack", data=body, headers=signed(body, secret="not-the-secret"))
    assert response.status_code == 401


def test_altered_body_is_401(client, slack_client):
    body = slack_form("set @skinnyoteam mon 9am")
    headers = signed(body)
    response = client.post("/chat/slack", data=body.replace("9am", "5pm"), headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(("age", "status"), [(6 * 60, 401), (-6 * 60, 401), (4 * 60, 200)])
def test_five_minute_tolerance(client, slack_client, age, status):
    body = slack_form("help")
    assert (
        client.post("/chat/slack", data=body, headers=signed(body, age=age)).status_code == status
    )


def test_without_a_signing_secret_slack_is_off(database_url, redis_url, buffer_sandbox):
    plain = make_settings(
        DATABASE_URL=database_url, REDIS_URL=redis_url, BUFFER_API_URL=buffer_sandbox.url
    )
    body = slack_form("help")
    built = Services(plain)
    try:
        app = create_app(plain, built)
        response = app.test_client().post("/chat/slack", data=body, headers=signed(body))
    finally:
        built.close()
    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("set @skinnyoteam funday 9am", "unknown day 'funday' (use mon..sun"),
        ("set @skinnyoteam funday 9am", "usage: set <profile> <days> <times...>"),
        ("sett @skinnyoteam", "unknown command 'sett'. commands: help, profiles"),
        ("clear @skinnyoteam", "which days?"),
    ],
)
def test_grammar_mistake_answers_200_with_the_usage_line(client, slack_client, text, expected):
    response = command(client, text)
    assert response.status_code == 200
    assert expected in response.get_json()["text"]


def test_unlinked_team_is_told_how_to_link_it(client):
    response = command(client, "profiles")
    assert response.status_code == 200
    assert "--slack-team T0001" in response.get_json()["text"]


def test_revoked_client_is_refused(client, services, slack_client):
    with services.db.session() as session:
        auth.revoke(session, slack_client)
    assert "revoked" in command(client, "profiles").get_json()["text"]


def test_channel_mapping_wins_and_carries_its_scopes(client, services, slack_client, auth_headers):
    snapshots.take_account(services, "default")  # scopes are resolved to ids: a warm cache
    with services.db.session() as session:
        auth.create_client(
            session,
            "marketing",
            ["@skinnyoteam"],
            slack_team=TEAM,
            slack_channel="C2147483705",
        )
    other = command(client, "set instagram:sunnygarden mon 9am").get_json()["text"]
    assert other == "Sorry: unknown profile 'instagram:sunnygarden'"  # out of scope: unknown
    mine = command(client, "add @skinnyoteam sat 10am").get_json()["text"]
    assert mine.startswith("Queued: add @skinnyoteam sat 10:00 (job ")
    job_id = mine.split("(job ")[1].split(")")[0]
    job = client.get(f"/v1/jobs/{job_id}", headers=auth_headers).get_json()
    assert (job["client"], job["source"]) == ("marketing", "slack")
    elsewhere = command(client, "set instagram:sunnygarden mon 9am", channel_id="C999")
    assert elsewhere.get_json()["text"].startswith("Queued: instagram:sunnygarden mon 09:00")


def test_reading_commands(client, slack_client, celery_worker):
    assert "usage: set <profile>" in command(client, "help set").get_json()["text"]
    assert "restore <profile>" in command(client, "help").get_json()["text"]
    listing = command(client, "profiles").get_json()["text"]
    assert "twitter:skinnyoteam: mon-fri 12:00 17:00 18:00" in listing
    shown = command(client, "show @skinnyoteam").get_json()["text"]
    assert shown.startswith("twitter:skinnyoteam: mon-fri 12:00 17:00 18:00 (as of ")
    queued = command(client, "clear @skinnyoteam fri").get_json()["text"]
    job_id = queued.split("(job ")[1].split(")")[0]
    done = wait_until(
        lambda: (t := command(client, f"job {job_id}").get_json()["text"]).startswith("Done") and t
    )
    assert "fri: 12:00 17:00 18:00 → none" in done
    history = command(client, "history @skinnyoteam").get_json()["text"]
    assert "after_change: mon-thu 12:00 17:00 18:00" in history
    restored = command(client, "restore @skinnyoteam previous").get_json()["text"]
    assert restored.startswith("Queued: restore @skinnyoteam to snapshot ")
    assert "mon-fri 12:00 17:00 18:00" in restored


def test_unknown_things_are_said_in_words(client, slack_client):
    assert command(client, "show @nobody").get_json()["text"] == "Sorry: unknown profile '@nobody'"
    assert command(client, "job 999").get_json()["text"] == "Sorry: unknown job 999"


def test_missing_team_is_422_naming_it(client):
    body = urlencode({"text": "help"})
    response = client.post("/chat/slack", data=body, headers=signed(body))
    assert response.status_code == 422
    assert "team_id" in response.get_json()["errors"]


def test_body_over_the_limit_is_413(client, slack_client):
    body = slack_form("help", pad="x" * 70_000)
    response = client.post("/chat/slack", data=body, headers=signed(body))
    assert response.status_code == 413


def test_slack_markup_is_read_as_typed():
    assert plain_text("set <@U123|skinnyoteam> mon 9am") == "set @skinnyoteam mon 9am"
    assert (
        plain_text("a &amp; b &lt;c&gt; <https://x.y|x.y> <#C1|general>") == "a & b <c> x.y general"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/internal-admin",
        "https://10.0.0.7/commands/x",
        "https://evil.example.com/commands/x",
        "http://hooks.slack.com/commands/T0001/1/x",
    ],
)
def test_a_response_url_outside_slack_is_422(client, services, slack_client, url):
    """Issue 9, item 5: only https://hooks.slack.com/ is taken (production default)."""
    response = _production_command(client, services, "set @skinnyoteam sat 10am", url)
    assert response.status_code == 422
    assert "response_url" in response.get_json()["errors"]


def _production_command(client: Any, services: Any, text: str, url: str) -> Any:
    """A signed command with the production default (no private-host allowance)."""
    import dataclasses

    real = services.settings
    services.settings = dataclasses.replace(real, followup_private_hosts=frozenset())
    try:
        return command(client, text, response_url=url)
    finally:
        services.settings = real


def test_a_signed_request_cannot_be_replayed(client, slack_client) -> None:
    """Issue 9 item 14: within the 5 minutes a signature holds, the same request again is
    refused (409), and nothing runs twice."""
    body = slack_form("help")
    headers = signed(body, age=60)
    assert client.post("/chat/slack", data=body, headers=headers).status_code == 200
    replayed = client.post("/chat/slack", data=body, headers=headers)
    assert replayed.status_code == 409
    assert "replay" in replayed.get_json()["message"]
    fresh = slack_form("help")  # the same command typed again: a new request, accepted
    assert client.post("/chat/slack", data=fresh, headers=signed(fresh)).status_code == 200


_CHAT_WORDS = st.sampled_from(
    [
        "set", "add", "remove", "clear", "show", "help", "profiles", "history", "restore",
        "job", "preset", "rotation", "@skinnyoteam", "@nobody", "mon-fri", "weekends", "sat",
        "funday", "9am", "12:30", "25:00", "noon", "previous", "#1", "0", "-", ",", "<@U1|x>",
    ]
)  # fmt: skip


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(st.text(max_size=80), st.lists(_CHAT_WORDS, max_size=6).map(" ".join)))
def test_any_command_text_is_answered_200_with_words(client, slack_client, text):
    """Whatever is typed after `/buffer`: 200 and an answer to show (a result, the usage
    line, an error in words), never a 5xx or an empty answer."""
    response = command(client, text)
    assert response.status_code == 200, (text, response.get_data(as_text=True)[:300])
    answer = response.get_json()["text"]
    assert isinstance(answer, str) and answer.strip(), text
