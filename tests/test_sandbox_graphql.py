"""The sandbox's GraphQL API over a real socket: shape checks by graphql-core, shared state
with v1, errors, rate windows and headers, faults, GraphQL-only mode, `bridge sandbox` options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from bridge.buffer.client import BufferClient
from bridge.buffer.graphql import GraphQLClient, GraphQLNotFound, GraphQLRateLimited
from bridge.errors import BufferAPIError, BufferForbidden, BufferUnauthorized, BufferUnavailable
from bridge.sandbox import RunningSandbox, SandboxConfig, start
from bridge.sandbox.graphql import schema_text
from bridge.schedules import Week, from_buffer, to_buffer

SHARED_SCHEMA = Path("/work/shared/buffer-api/graphql-subset.graphql")
KEY = "sandbox-key"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    config = SandboxConfig(
        tokens={"sandbox-token": "default", "other-token": "other"},
        api_keys={KEY: "default", "other-key": "other"},
        rate_limit="1000/1s",
        graphql_rate_limit="1000/1s",
    )
    with start(config) as running:
        yield running


def gql(sb: RunningSandbox, key: str = KEY) -> GraphQLClient:
    return GraphQLClient(key, url=sb.root_url + "graphql")


def post(
    sb: RunningSandbox, body: Any, key: str | None = KEY, path: str = "graphql"
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(sb.root_url + path, json=body, headers=headers, timeout=10)


def test_shipped_schema_equals_the_shared_one() -> None:
    if not SHARED_SCHEMA.exists():
        pytest.skip("the shared Buffer API notes are not on this machine")
    assert schema_text() == SHARED_SCHEMA.read_text()


def test_organizations_group_every_profile(sandbox: RunningSandbox) -> None:
    client = gql(sandbox)
    orgs = client.organizations()
    assert len(orgs) == 2
    ids = [p.id for org in orgs for p in client.channels(org.id)]
    assert ids == [p["id"] for p in sandbox.sandbox.profiles("default")]
    assert client.calls == 3


def test_channels_match_v1_and_show_seeded_pauses(sandbox: RunningSandbox) -> None:
    client = gql(sandbox)
    v1 = {p.id: p for p in BufferClient("sandbox-token", base_url=sandbox.url).profiles()}
    channels = [p for org in client.organizations() for p in client.channels(org.id)]
    assert any(p.paused_days for p in channels)
    for channel in channels:
        profile = v1[channel.id]
        assert channel.service_username == profile.service_username
        assert channel.timezone == profile.timezone
        week = from_buffer(s.to_json() for s in channel.schedules)
        assert week == from_buffer(s.to_json() for s in profile.schedules)
        assert "paused" not in str(profile.to_json())  # v1 never shows a pause


def test_v1_writes_are_visible_through_graphql_and_pauses_through_v1_are_not(
    sandbox: RunningSandbox,
) -> None:
    client = gql(sandbox)
    pid = sandbox.sandbox.profiles("default")[1]["id"]
    paused = client.channel(pid).paused_days
    BufferClient("sandbox-token", base_url=sandbox.url).update_schedules(
        pid, to_buffer(Week({"mon-fri": "08:00"}))
    )
    channel = client.channel(pid)
    assert [s.to_json() for s in channel.schedules] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["08:00"]}
    ]
    assert channel.paused_days == paused  # a v1 write changes times, not pauses
    sandbox.sandbox.set_paused(pid, ["sun"])
    assert client.channel(pid).paused_days == ("sun",)


def test_unknown_and_foreign_channels(sandbox: RunningSandbox) -> None:
    client = gql(sandbox)
    with pytest.raises(GraphQLNotFound):
        client.channel("0" * 24)
    foreign = sandbox.sandbox.profiles("other")[0]["id"]
    with pytest.raises(BufferForbidden):
        client.channel(foreign)
    other_org = gql(sandbox, "other-key").organizations()[0].id
    with pytest.raises(BufferForbidden):
        client.channels(other_org)
    with pytest.raises(GraphQLNotFound):
        client.channels("f" * 24)


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_unauthenticated_is_401(sandbox: RunningSandbox, key: str | None) -> None:
    answer = post(sandbox, {"query": "{ account { id } }"}, key=key)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with pytest.raises(BufferUnauthorized):
        gql(sandbox, "wrong-key").organizations()


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ account { organizations { id nickname } } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ channels { id } }", "GRAPHQL_VALIDATION_FAILED"),
        ("mutation { updatePostingSchedule { id } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ account { ", "GRAPHQL_PARSE_FAILED"),
        ("query C($id: ChannelId!) { channel(input: {id: $id}) { id } }", "BAD_USER_INPUT"),
    ],
)
def test_queries_of_the_wrong_shape_are_refused(
    sandbox: RunningSandbox, query: str, code: str
) -> None:
    answer = post(sandbox, {"query": query})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == code


def test_root_path_takes_posts(sandbox: RunningSandbox) -> None:
    answer = post(
        sandbox, {"query": "query Organizations { account { organizations { id name } } }"}, path=""
    )
    assert answer.status_code == 200
    assert len(answer.json()["data"]["account"]["organizations"]) == 2
    assert requests.get(sandbox.root_url, timeout=10).status_code == 404


def test_rate_windows_headers_and_retry_after(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.set_faults(graphql_rate_limit="2/15m,5/24h")
    client = gql(sandbox)
    client.organizations()
    hint = client.last_rate_limit
    assert hint is not None
    assert [(w.name, w.remaining, w.limit, w.period) for w in hint.windows] == [
        ("2-in-15min", 1, 2, 900.0),
        ("5-in-1d", 4, 5, 86400.0),
    ]
    client.organizations()
    with pytest.raises(GraphQLRateLimited) as raised:
        client.organizations()
    assert raised.value.status == 429
    assert raised.value.retry_after is not None and 890 <= raised.value.retry_after <= 900
    # v1 keeps its own budget
    BufferClient("sandbox-token", base_url=sandbox.url).profiles()


def test_faults_apply(sandbox: RunningSandbox) -> None:
    client = gql(sandbox)
    sandbox.sandbox.set_faults(error_rate=1.0)
    with pytest.raises(BufferUnavailable):
        client.organizations()
    sandbox.sandbox.set_faults(error_rate=0.0, rate_429=1.0)
    with pytest.raises(GraphQLRateLimited) as raised:
        client.organizations()
    assert raised.value.retry_after == 60
    assert [r.fault for r in sandbox.sandbox.recorded()[-2:]] == ["error", "429"]


def test_requests_are_recorded_with_their_operation(sandbox: RunningSandbox) -> None:
    gql(sandbox).organizations()
    record = sandbox.sandbox.recorded()[-1]
    assert (record.path, record.status, record.token) == ("/graphql", 200, "key:default")
    assert record.form == [("operationName", "Organizations")]


def test_graphql_only_retires_v1() -> None:
    with start(SandboxConfig(graphql_only=True)) as sb:
        with pytest.raises(BufferAPIError) as raised:
            BufferClient("sandbox-token", base_url=sb.url).profiles()
        assert raised.value.status == 410 and not raised.value.retryable
        assert "retired" in raised.value.message
        assert gql(sb).organizations()


def test_organizations_setting_and_large_accounts() -> None:
    config = SandboxConfig(profiles=30, organizations=3, graphql_rate_limit="1000/1s")
    with start(config) as sb:
        client = gql(sb)
        orgs = client.organizations()
        assert len(orgs) == 3
        assert sum(len(client.channels(o.id)) for o in orgs) == 30
        assert client.calls == 4


def test_sandbox_command_options(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge import cli
    from bridge import sandbox as sim

    seen: dict[str, Any] = {}
    monkeypatch.setattr(sim, "serve_forever", lambda config, host, port: seen.update(config=config))
    args = [
        "sandbox",
        "--api-key",
        "k1",
        "--api-key",
        "k2=brand",
        "--graphql-rate-limit",
        "5/1m,9/1h",
    ]
    options = ["--graphql-only", "--organizations", "3", "--queue-limit", "7"]
    result = CliRunner().invoke(cli.main, [*args, *options])
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert config.api_keys == {"k1": "default", "k2": "brand"}
    assert [(w.limit, w.period) for w in config.graphql_rate_limit] == [(5, 60.0), (9, 3600.0)]
    assert config.graphql_only and config.organizations == 3 and config.queue_limit == 7
    bad = CliRunner().invoke(cli.main, ["sandbox", "--graphql-rate-limit", "lots"])
    assert bad.exit_code != 0 and "--graphql-rate-limit" in bad.output
