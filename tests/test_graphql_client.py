"""Unit tests of the GraphQL client against answers shaped as Buffer documents them (graphql.md)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from graphql import build_schema, parse, validate

from bridge import errors
from bridge.buffer.graphql import (
    CHANNEL_QUERY,
    CHANNELS_QUERY,
    DEFAULT_URL,
    ORGANIZATIONS_QUERY,
    GraphQLAPIError,
    GraphQLClient,
    GraphQLForbidden,
    GraphQLNotFound,
    GraphQLQueryError,
    GraphQLRateLimited,
    GraphQLUnauthorized,
    RateLimitHint,
)
from bridge.buffer.hints import parse_rate_limit_headers
from bridge.buffer.models import Profile, Schedule

KEY = "bufKEY-0123456789abcdefSECRET"
URL = DEFAULT_URL
ORG = "5f1a2b3c4d5e6f7a8b9c0d1e"
CID = "4eb854340acb04e870000010"
SCHEMA = Path(__file__).resolve().parent.parent / "bridge" / "sandbox" / "schema.graphql"

CHANNEL = {
    "id": CID,
    "name": "skinnyoteam",
    "displayName": "Skinny Team",
    "service": "twitter",
    "type": "profile",
    "timezone": "Europe/London",
    "isQueuePaused": False,
    "isDisconnected": False,
    "isLocked": True,
    "postingSchedule": [
        {"day": "mon", "paused": False, "times": ["12:00", "17:00"]},
        {"day": "tue", "paused": True, "times": ["12:00", "17:00"]},
        {"day": "wed", "paused": False, "times": ["12:00", "17:00"]},
        {"day": "thu", "paused": False, "times": []},
        {"day": "fri", "paused": False, "times": ["09:00"]},
        {"day": "sat", "paused": False, "times": []},
        {"day": "sun", "paused": True, "times": []},
    ],
}
RATE_LIMITED = {
    "errors": [
        {
            "message": "Too many requests from this client. Please try again later.",
            "extensions": {
                "code": "RATE_LIMIT_EXCEEDED",
                "limitType": "CLIENT_ACCOUNT",
                "retryAfter": 900,
            },
        }
    ]
}


def error_body(
    code: str, message: str = "nope", path: list[Any] | None = None, data: Any = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "extensions": {"code": code}}
    if path is not None:
        error["path"] = path
    return {"errors": [error], "data": data}


@pytest.fixture
def client() -> GraphQLClient:
    return GraphQLClient(KEY)


@pytest.fixture
def mocked() -> Any:
    with responses.RequestsMock() as rsps:
        yield rsps


def sent(mocked: Any, index: int = -1) -> dict[str, Any]:
    return json.loads(mocked.calls[index].request.body)


# --- the queries ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", [ORGANIZATIONS_QUERY, CHANNELS_QUERY, CHANNEL_QUERY])
def test_queries_are_valid_against_the_schema(query: str) -> None:
    assert validate(build_schema(SCHEMA.read_text()), parse(query)) == []


def test_organizations(client: GraphQLClient, mocked: Any) -> None:
    body = {"data": {"account": {"organizations": [{"id": ORG, "name": "Skinny Co"}]}}}
    mocked.post(URL, json=body)
    orgs = client.organizations()
    assert [(o.id, o.name) for o in orgs] == [(ORG, "Skinny Co")]
    request = mocked.calls[0].request
    assert request.url.rstrip("/") == URL
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["User-Agent"].startswith("buffer-bridge/")
    assert request.headers["Content-Type"] == "application/json"
    assert sent(mocked) == {
        "query": ORGANIZATIONS_QUERY,
        "variables": {},
        "operationName": "Organizations",
    }
    assert (
        KEY not in request.body.decode()
        if isinstance(request.body, bytes)
        else KEY not in request.body
    )


def test_channels_map_onto_profiles(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(
        URL, json={"data": {"channels": [CHANNEL, {**CHANNEL, "id": "x2", "displayName": None}]}}
    )
    first, second = client.channels(ORG)
    assert sent(mocked)["variables"] == {"org": ORG}
    assert sent(mocked)["operationName"] == "Channels"
    assert isinstance(first, Profile)
    assert (first.id, first.service, first.service_username) == (CID, "twitter", "skinnyoteam")
    assert first.formatted_username == "Skinny Team"
    assert second.formatted_username == "skinnyoteam"
    assert first.timezone == "Europe/London"
    assert first.schedules == (
        Schedule(days=("mon", "tue", "wed"), times=("12:00", "17:00")),
        Schedule(days=("fri",), times=("09:00",)),
    )
    assert first.paused_days == ("tue", "sun")
    assert (first.api, first.organization_id) == ("graphql", ORG)
    assert (first.is_queue_paused, first.is_disconnected, first.is_locked) == (False, False, True)
    shown = first.to_json()
    assert shown["paused_days"] == ["tue", "sun"] and shown["service_type"] == "profile"


def test_channel(client: GraphQLClient, mocked: Any) -> None:
    small = {k: CHANNEL[k] for k in ("id", "name", "service", "timezone", "postingSchedule")}
    mocked.post(URL, json={"data": {"channel": small}})
    profile = client.channel(CID)
    assert sent(mocked)["variables"] == {"id": CID}
    assert profile.formatted_username == "skinnyoteam" and profile.paused_days == ("tue", "sun")


def test_v1_profiles_keep_their_json() -> None:
    v1 = Profile.from_json({"id": CID, "service": "twitter", "schedules": []})
    assert v1.api == "v1" and v1.paused_days == ()
    assert "paused_days" not in v1.to_json()


@pytest.mark.parametrize("bad", ["", "   ", "a b", "x" * 200])
def test_bad_ids_are_refused_before_any_request(client: GraphQLClient, bad: str) -> None:
    with pytest.raises(errors.InvalidInput):
        client.channel(bad)
    assert client.calls == 0


@pytest.mark.parametrize("key", ["", " ", "key with space", "key\n"])
def test_bad_keys_are_config_errors(key: str) -> None:
    with pytest.raises(errors.ConfigError):
        GraphQLClient(key)


def test_url_is_posted_to_as_given(mocked: Any) -> None:
    url = "http://127.0.0.1:8765/graphql"
    mocked.post(url, json={"data": {"account": {"organizations": []}}})
    assert GraphQLClient(KEY, url=url).organizations() == []
    assert mocked.calls[0].request.url == url


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls", "base"),
    [
        (200, "UNAUTHENTICATED", GraphQLUnauthorized, errors.BufferUnauthorized),
        (200, "FORBIDDEN", GraphQLForbidden, errors.BufferForbidden),
        (200, "NOT_FOUND", GraphQLNotFound, errors.BufferNotFound),
        (200, "RATE_LIMIT_EXCEEDED", GraphQLRateLimited, errors.BufferRateLimited),
        (200, "BAD_USER_INPUT", GraphQLQueryError, errors.BufferBadRequest),
        (400, "GRAPHQL_VALIDATION_FAILED", GraphQLQueryError, errors.BufferBadRequest),
        (200, "SOMETHING_NEW", GraphQLAPIError, errors.BufferAPIError),
        (500, "INTERNAL_SERVER_ERROR", errors.BufferUnavailable, errors.BufferUnavailable),
    ],
)
def test_error_codes(
    client: GraphQLClient, mocked: Any, status: int, code: str, cls: type, base: type
) -> None:
    mocked.post(URL, json=error_body(code, "Channel not found"), status=status)
    with pytest.raises(base) as raised:
        client.channel(CID)
    error = raised.value
    assert isinstance(error, cls)
    assert error.status == status and error.code is None
    assert error.graphql_code == code  # type: ignore[attr-defined]
    assert "Channel not found" in error.message and code in error.message
    assert error.retryable is (base in (errors.BufferRateLimited, errors.BufferUnavailable))


def test_401_without_key_body(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(URL, body="", status=401)
    with pytest.raises(GraphQLUnauthorized) as raised:
        client.organizations()
    assert raised.value.status == 401 and "API key" in raised.value.message


def test_429_obeys_retry_after(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(
        URL, json=RATE_LIMITED, status=429, headers={"RateLimit": '"100-in-15min";r=0;t=897'}
    )
    with pytest.raises(GraphQLRateLimited) as raised:
        client.channels(ORG)
    assert raised.value.retry_after == 900
    assert raised.value.retryable
    assert "Too many requests" in raised.value.message
    hint = client.last_rate_limit
    assert hint is not None and hint.retry_after == 900
    assert 899 < hint.wait() <= 900  # the larger of retryAfter and the window's reset


def test_429_without_body_falls_back_to_retry_after_header(
    client: GraphQLClient, mocked: Any
) -> None:
    mocked.post(URL, body="slow down", status=429, headers={"Retry-After": "30"})
    with pytest.raises(GraphQLRateLimited) as raised:
        client.organizations()
    assert raised.value.retry_after == 30


def test_null_data_with_errors_is_an_error(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(URL, json=error_body("NOT_FOUND", "Channel not found", ["channel"], None))
    with pytest.raises(GraphQLNotFound) as raised:
        client.channel(CID)
    assert raised.value.path == ("channel",)  # type: ignore[attr-defined]


def test_partial_data_is_an_error_for_the_missing_part(client: GraphQLClient, mocked: Any) -> None:
    body = error_body(
        "FORBIDDEN", "no access", ["channels", 1, "postingSchedule"], {"channels": [CHANNEL, None]}
    )
    mocked.post(URL, json=body)
    with pytest.raises(GraphQLForbidden) as raised:
        client.channels(ORG)
    assert raised.value.path == ("channels", 1, "postingSchedule")  # type: ignore[attr-defined]
    assert "channels.1.postingSchedule" in raised.value.message


def test_a_null_root_without_errors_is_unexpected(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(URL, json={"data": {"channel": None}})
    with pytest.raises(GraphQLAPIError, match="no channel"):
        client.channel(CID)


def test_validation_failure_is_a_loud_bug_not_retried(
    client: GraphQLClient, mocked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = error_body(
        "GRAPHQL_VALIDATION_FAILED", 'Cannot query field "postingSchedules" on type "Channel".'
    )
    mocked.post(URL, json=body, status=400)
    with (
        caplog.at_level(logging.ERROR, logger="bridge.buffer.graphql"),
        pytest.raises(GraphQLQueryError) as raised,
    ):
        client.channel(CID)
    assert not raised.value.retryable
    assert any("bug" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize(
    "exc",
    [
        requests.ConnectTimeout("slow"),
        requests.ReadTimeout("slow"),
        requests.ConnectionError("down"),
    ],
)
def test_timeouts_and_connection_errors_are_retryable(
    client: GraphQLClient, mocked: Any, exc: Exception
) -> None:
    mocked.post(URL, body=exc)
    with pytest.raises(errors.BufferUnavailable) as raised:
        client.organizations()
    assert raised.value.retryable


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retryable(client: GraphQLClient, mocked: Any, status: int) -> None:
    mocked.post(URL, body="<html>bad gateway</html>", status=status)
    with pytest.raises(errors.BufferUnavailable):
        client.organizations()


def test_200_that_is_not_json_is_retryable(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(URL, body="<html>maintenance</html>", status=200, content_type="text/html")
    with pytest.raises(errors.BufferUnavailable, match="not JSON"):
        client.organizations()


def test_redirects_are_not_followed(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(URL, status=301, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(GraphQLAPIError, match="BUFFER_GRAPHQL_URL") as raised:
        client.organizations()
    assert not raised.value.retryable
    assert len(mocked.calls) == 1


def test_cdn_403_is_forbidden(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(URL, body="Access denied", status=403)
    with pytest.raises(GraphQLForbidden):
        client.organizations()


def test_the_key_never_reaches_an_error_message(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(URL, json=error_body("UNAUTHENTICATED", f"bad key {KEY}"), status=401)
    with pytest.raises(errors.BufferUnauthorized) as raised:
        client.organizations()
    assert KEY not in str(raised.value) and "***" in raised.value.message
    assert KEY not in repr(client)


def test_on_call_sees_every_request(mocked: Any) -> None:
    seen: list[tuple[str, int | None]] = []
    client = GraphQLClient(KEY, on_call=lambda label, status, _: seen.append((label, status)))
    mocked.post(URL, json={"data": {"account": {"organizations": []}}})
    mocked.post(URL, body=requests.ConnectionError("down"))
    client.organizations()
    with pytest.raises(errors.BufferUnavailable):
        client.organizations()
    assert seen == [("graphql_organizations", 200), ("graphql_organizations", None)]
    assert client.calls == 2


# --- rate-limit headers -----------------------------------------------------------------------


def test_ietf_headers_give_one_window_each(client: GraphQLClient, mocked: Any) -> None:
    headers = {
        "RateLimit-Policy": '"100-in-15min";q=100;w=900, "250-in-24h";q=250;w=86400',
        "RateLimit": '"100-in-15min";r=98;t=897, "250-in-24h";r=240;t=80000',
    }
    mocked.post(URL, json={"data": {"account": {"organizations": []}}}, headers=headers)
    client.organizations()
    hint = client.last_rate_limit
    assert hint is not None
    assert [(w.name, w.remaining, w.reset, w.limit, w.period) for w in hint.windows] == [
        ("100-in-15min", 98, 897.0, 100, 900.0),
        ("250-in-24h", 240, 80000.0, 250, 86400.0),
    ]
    assert hint.remaining() == 98
    assert hint.wait() == 0.0  # room left: a hint never hurries anyone, nor holds them here


def test_a_used_up_window_says_how_long_to_wait() -> None:
    hint = parse_rate_limit_headers(
        {"RateLimit": '"100-in-15min";r=50;t=10, "250-in-24h";r=0;t=3600'}
    )
    assert hint is not None
    assert hint.wait(now=hint.received_at) == 3600
    # (received_at is a monotonic reading: adding and taking away 600 s may leave a trace)
    assert hint.wait(now=hint.received_at + 600) == pytest.approx(3000)
    assert hint.wait(now=hint.received_at + 7200) == 0


def test_older_headers() -> None:
    hint = parse_rate_limit_headers(
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "42"}
    )
    assert hint is not None
    assert [(w.limit, w.remaining, w.reset) for w in hint.windows] == [(100, 0, 42.0)]
    assert hint.wait(now=hint.received_at) == 42


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"RateLimit": "garbage;;;"},
        {"RateLimit": '"x";r=-5;t=abc'},
        {"RateLimit-Remaining": "lots"},
    ],
)
def test_malformed_headers_never_fail_and_never_speed_up(headers: dict[str, str]) -> None:
    hint = parse_rate_limit_headers(headers)
    assert hint is None or hint.wait() >= 0


def test_no_headers_keep_the_last_hint(client: GraphQLClient, mocked: Any) -> None:
    mocked.post(
        URL, json={"data": {"account": {"organizations": []}}}, headers={"RateLimit": '"a";r=3;t=5'}
    )
    mocked.post(URL, json={"data": {"account": {"organizations": []}}})
    client.organizations()
    first = client.last_rate_limit
    client.organizations()
    assert client.last_rate_limit is first
    assert isinstance(first, RateLimitHint)
