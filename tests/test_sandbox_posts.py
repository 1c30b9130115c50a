"""The sandbox's posts (bridge/sandbox/posts.py) through GraphQL and the control API:
each mutation and query, typed union errors, filters and pages, queue slots (paused days,
taken slots, timezones, DST), time moving, the queue limit, `/__sandbox/posts` and reset."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from graphql import parse, validate
from werkzeug.test import Client

from bridge.sandbox import SandboxConfig, start
from bridge.sandbox.app import SandboxApp
from bridge.sandbox.graphql import schema
from bridge.sandbox.posts import queue_slots
from bridge.sandbox.state import Sandbox

KEY = "sandbox-key"
# the documents the bridge sends (graphql.md, "Posts")
PLACE = """
mutation Place($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id dueAt status shareMode } }
    ... on MutationError { message }
  }
}"""
SCHEDULED = """
query Scheduled($org: OrganizationId!, $channel: ChannelId!, $from: DateTime!, $after: String) {
  posts(input: {organizationId: $org,
                filter: {channelIds: [$channel], status: [scheduled], dueAt: {start: $from}},
                sort: [{field: dueAt, direction: asc}]}, first: 100, after: $after) {
    edges { node { id dueAt shareMode isCustomScheduled via text } }
    pageInfo { hasNextPage endCursor }
  }
}"""
EDIT = """
mutation Edit($input: EditPostInput!) {
  editPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id dueAt status shareMode text isCustomScheduled } }
    ... on MutationError { message }
  }
}"""
DELETE = """
mutation Delete($id: PostId!) {
  deletePost(input: {id: $id}) {
    __typename
    ... on DeletePostSuccess { id }
    ... on MutationError { message }
  }
}"""
POSTS = """
query Posts($input: PostsInput!, $first: Int, $after: String) {
  posts(input: $input, first: $first, after: $after) {
    edges { cursor node { id status dueAt createdAt channelId } }
    pageInfo { startCursor endCursor hasPreviousPage hasNextPage }
  }
}"""
POST = """
query Post($id: PostId!) {
  post(input: {id: $id}) {
    id status via shareMode schedulingType isCustomScheduled dueAt sentAt text channelId
    channelService createdAt updatedAt allowedActions error { message }
  }
}"""
# Monday 2026-12-07 08:00 UTC (London is on UTC in December)
MONDAY_8 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
WEEKDAYS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["09:00", "17:00"]}]


class World:
    """An in-process sandbox with a settable clock and one channel of a known schedule."""

    def __init__(self, **config: Any) -> None:
        self.app = SandboxApp(
            SandboxConfig(
                tokens={"sandbox-token": "default", "other-token": "other"},
                api_keys={KEY: "default", "other-key": "other"},
                graphql_rate_limit="1000/1s",
                **config,
            )
        )
        self.sandbox: Sandbox = self.app.sandbox
        self.client = Client(self.app)
        self.now = MONDAY_8
        self.sandbox.posts.clock = lambda: self.now
        self.channel = self.sandbox.profiles("default")[0]["id"]
        self.org = self.sandbox.accounts()[0]["organizations"][0]["id"]
        self.foreign = self.sandbox.profiles("other")[0]["id"]
        self.shape(WEEKDAYS, "Europe/London", [])

    def shape(self, schedules: list[dict[str, Any]], timezone: str, paused: list[str]) -> None:
        self.sandbox.set_schedules(self.channel, schedules)
        self.sandbox.set_paused(self.channel, paused)
        with self.sandbox.lock:
            self.sandbox.profile(self.channel)["timezone"] = timezone

    def raw(self, query: str, variables: dict[str, Any], key: str = KEY) -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        return self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    def run(self, query: str, variables: dict[str, Any], key: str = KEY) -> dict[str, Any]:
        answer = self.raw(query, variables, key)
        assert answer.status_code == 200, answer.get_json()
        body: dict[str, Any] = answer.get_json()
        return body

    def create(self, mode: str = "addToQueue", key: str = KEY, **fields: Any) -> dict[str, Any]:
        """createPost's payload (the union member as a dict)."""
        data = {"channelId": self.channel, "schedulingType": "automatic", "mode": mode, **fields}
        payload: dict[str, Any] = self.run(PLACE, {"input": data}, key)["data"]["createPost"]
        return payload

    def placed(self, mode: str = "addToQueue", **fields: Any) -> dict[str, Any]:
        payload = self.create(mode, **fields)
        assert payload["__typename"] == "PostActionSuccess", payload
        post: dict[str, Any] = payload["post"]
        return post

    def edit(self, key: str = KEY, **fields: Any) -> dict[str, Any]:
        data = {"schedulingType": "automatic", "mode": "addToQueue", **fields}
        payload: dict[str, Any] = self.run(EDIT, {"input": data}, key)["data"]["editPost"]
        return payload

    def page(self, key: str = KEY, **variables: Any) -> dict[str, Any]:
        variables.setdefault("input", {"organizationId": self.org})
        return self.run(POSTS, variables, key)


@pytest.fixture
def world() -> World:
    return World()


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


# --- the documents the bridge sends


def test_the_bridge_documents_validate() -> None:
    for document in (PLACE, SCHEDULED, EDIT, DELETE, POSTS, POST):
        assert validate(schema(), parse(document)) == []


def test_place_and_scheduled_execute(world: World) -> None:
    queued = world.placed()
    assert queued == {
        "id": queued["id"],
        "dueAt": "2026-12-07T09:00:00.000Z",
        "status": "scheduled",
        "shareMode": "addToQueue",
    }
    assert len(queued["id"]) == 24 and all(c in "0123456789abcdef" for c in queued["id"])
    custom = world.placed("customScheduled", dueAt="2026-12-07T10:30:00+01:00", text="later")
    assert custom["dueAt"] == "2026-12-07T09:30:00.000Z"
    world.placed(saveToDraft=True)  # a draft: not scheduled
    variables = {"org": world.org, "channel": world.channel, "from": at(7, 0)}
    found = world.run(SCHEDULED, variables)["data"]["posts"]
    nodes = [e["node"] for e in found["edges"]]
    assert [(n["id"], n["isCustomScheduled"], n["via"]) for n in nodes] == [
        (queued["id"], False, "api"),
        (custom["id"], True, "api"),
    ]
    assert nodes[1]["text"] == "later" and nodes[0]["text"] == ""
    assert found["pageInfo"]["hasNextPage"] is False


# --- createPost


def test_add_to_queue_skips_taken_slots_and_paused_days(world: World) -> None:
    world.shape(WEEKDAYS, "Europe/London", ["tue"])
    world.placed("customScheduled", dueAt=at(7, 9))  # holds Monday 09:00
    dues = [world.placed()["dueAt"] for _ in range(3)]
    assert dues == [at(7, 17), at(9, 9), at(9, 17)]  # Tuesday is paused


def test_add_to_queue_follows_a_v1_schedule_change(world: World) -> None:
    world.placed()
    world.sandbox.set_schedules(world.channel, [{"days": ["sat"], "times": ["07:15"]}])
    assert world.placed()["dueAt"] == at(12, 7, 15)


def test_add_to_queue_reads_times_in_the_channels_timezone_across_dst() -> None:
    world = World()
    every_day = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "times": ["09:00"]}]
    world.shape(every_day, "America/New_York", [])
    world.now = datetime(2027, 3, 12, 15, 0, tzinfo=UTC)  # Friday 10:00 EST: 09:00 is gone
    dues = [world.placed()["dueAt"] for _ in range(3)]
    # Saturday 09:00 EST (UTC-5); Sunday 14 March DST starts: 09:00 EDT (UTC-4)
    assert dues == [at(13, 14, month=3, year=2027), at(14, 13, month=3, year=2027),
                    at(15, 13, month=3, year=2027)]  # fmt: skip


def test_a_wall_time_skipped_by_dst_is_taken_with_the_old_offset() -> None:
    slots = queue_slots(
        [{"days": ["sun"], "times": ["02:30"]}],
        "America/New_York",
        set(),
        datetime(2027, 3, 13, tzinfo=UTC),
    )
    assert next(slots) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert next(slots) == datetime(2027, 3, 21, 6, 30, tzinfo=UTC)  # 02:30 EDT
    crowded = queue_slots(
        [{"days": ["sun"], "times": ["02:30", "03:15", "03:30"]}],
        "America/New_York",
        set(),
        datetime(2027, 3, 13, tzinfo=UTC),
    )
    # 02:30 is 03:30 new time: after 03:15, and one slot with 03:30
    assert [next(crowded).strftime("%H:%M") for _ in range(3)] == ["07:15", "07:30", "06:30"]


def test_no_posting_times_refuse_add_to_queue(world: World) -> None:
    world.shape(WEEKDAYS, "Europe/London", ["mon", "tue", "wed", "thu", "fri"])
    payload = world.create()
    assert payload["__typename"] == "InvalidInputError"
    assert "posting times" in payload["message"]


def test_share_next_goes_before_the_queue(world: World) -> None:
    first, second = world.placed(), world.placed()
    fixed = world.placed("customScheduled", dueAt=at(8, 9))
    nxt = world.placed("shareNext")
    assert nxt["dueAt"] == at(7, 9) and nxt["shareMode"] == "shareNext"
    dues = {p["id"]: p["dueAt"] for p in world.sandbox.channel_posts(world.channel)}
    # the queue moved down one slot each; the custom post kept its time and its slot
    assert dues == {
        nxt["id"]: at(7, 9),
        first["id"]: at(7, 17),
        second["id"]: at(8, 17),
        fixed["id"]: at(8, 9),
    }


def test_share_now_is_sent_at_once(world: World) -> None:
    sent = world.placed("shareNow", text="now")
    assert sent["status"] == "sent" and sent["dueAt"] == at(7, 8)
    full = world.run(POST, {"id": sent["id"]})["data"]["post"]
    assert full["sentAt"] == at(7, 8)
    assert full["allowedActions"] == ["viewPost", "deletePost", "duplicatePost"]
    assert world.placed()["dueAt"] == at(7, 9)  # it took no slot


def test_save_to_draft(world: World) -> None:
    draft = world.placed(saveToDraft=True)
    assert draft["status"] == "draft" and draft["dueAt"] is None
    assert world.placed()["dueAt"] == at(7, 9)
    dated = world.placed("customScheduled", dueAt=at(20, 9), saveToDraft=True)
    assert dated["status"] == "draft" and dated["dueAt"] == at(20, 9)


@pytest.mark.parametrize(
    "fields",
    [{}, {"dueAt": at(7, 7)}, {"dueAt": at(7, 8)}, {"dueAt": "next tuesday"}],
    ids=["missing", "past", "now", "not-a-date"],
)
def test_custom_scheduled_needs_a_future_due_at(world: World, fields: dict[str, Any]) -> None:
    payload = world.create("customScheduled", **fields)
    assert payload["__typename"] == "InvalidInputError"
    assert "dueAt" in payload["message"]


def test_create_refusals_are_typed_data(world: World) -> None:
    data = {"channelId": "0" * 24, "schedulingType": "automatic", "mode": "shareNow"}
    unknown = world.raw(PLACE, {"input": data})
    assert unknown.status_code == 200
    assert "errors" not in unknown.get_json()
    assert unknown.get_json()["data"]["createPost"]["__typename"] == "NotFoundError"
    world.channel = world.foreign
    assert world.create()["__typename"] == "UnauthorizedError"
    assert world.sandbox.channel_posts(world.foreign) == []


def test_the_queue_limit() -> None:
    world = World(queue_limit=2)
    world.placed()
    world.placed("customScheduled", dueAt=at(20, 9))
    assert world.placed(saveToDraft=True)["status"] == "draft"  # drafts do not count
    assert world.placed("shareNow")["status"] == "sent"  # nor sent posts
    refused = world.create()
    assert refused["__typename"] == "LimitReachedError" and refused["message"]
    assert world.create("shareNext")["__typename"] == "LimitReachedError"


# --- editPost and deletePost


def test_edit_keeps_left_out_fields_and_the_queue_slot(world: World) -> None:
    post = world.placed(text="first words")
    world.placed()
    edited = world.edit(id=post["id"], text="new words")
    assert edited["__typename"] == "PostActionSuccess"
    assert edited["post"]["text"] == "new words" and edited["post"]["dueAt"] == at(7, 9)
    kept = world.edit(id=post["id"], mode="customScheduled", dueAt=at(10, 12))["post"]
    assert kept["text"] == "new words" and kept["dueAt"] == at(10, 12)
    assert kept["isCustomScheduled"] is True
    again = world.edit(id=post["id"], mode="customScheduled")["post"]  # dueAt left out: kept
    assert again["dueAt"] == at(10, 12)
    queued = world.edit(id=post["id"])["post"]  # back to the queue: the first free slot
    assert queued["dueAt"] == at(7, 9) and queued["isCustomScheduled"] is False
    full = world.run(POST, {"id": post["id"]})["data"]["post"]
    assert full["updatedAt"] == at(7, 8) and full["createdAt"] == at(7, 8)


def test_edit_refusals(world: World) -> None:
    post = world.placed(text="kept")
    assert world.edit(id="f" * 24)["__typename"] == "NotFoundError"
    assert world.edit(key="other-key", id=post["id"])["__typename"] == "UnauthorizedError"
    past = world.edit(id=post["id"], mode="customScheduled", dueAt=at(1, 9))
    assert past["__typename"] == "InvalidInputError" and "dueAt" in past["message"]
    sent = world.placed("shareNow")
    refused = world.edit(id=sent["id"], text="too late")
    assert refused["__typename"] == "InvalidInputError"
    assert world.run(POST, {"id": post["id"]})["data"]["post"]["text"] == "kept"
    assert world.run(POST, {"id": sent["id"]})["data"]["post"]["text"] == ""


def test_edit_a_draft_into_the_queue_and_the_limit() -> None:
    world = World(queue_limit=1)
    draft = world.placed(saveToDraft=True)
    world.placed()
    refused = world.edit(id=draft["id"], saveToDraft=False)
    assert refused["__typename"] == "LimitReachedError"
    world.sandbox.config.queue_limit = 2
    queued = world.edit(id=draft["id"], saveToDraft=False)["post"]
    assert queued["status"] == "scheduled" and queued["dueAt"] == at(7, 17)


def test_delete(world: World) -> None:
    post = world.placed()
    foreign = world.run(DELETE, {"id": post["id"]}, key="other-key")["data"]["deletePost"]
    assert foreign["__typename"] == "VoidMutationError"
    gone = world.run(DELETE, {"id": post["id"]})["data"]["deletePost"]
    assert gone == {"__typename": "DeletePostSuccess", "id": post["id"]}
    again = world.run(DELETE, {"id": post["id"]})["data"]["deletePost"]
    assert again["__typename"] == "VoidMutationError" and again["message"]
    assert world.placed()["dueAt"] == at(7, 9)  # its slot is free again


# --- posts and post


def test_post_query(world: World) -> None:
    made = world.placed(text="hello", schedulingType="notification")
    post = world.run(POST, {"id": made["id"]})["data"]["post"]
    assert post == {
        "id": made["id"],
        "status": "scheduled",
        "via": "api",
        "shareMode": "addToQueue",
        "schedulingType": "notification",
        "isCustomScheduled": False,
        "dueAt": at(7, 9),
        "sentAt": None,
        "text": "hello",
        "channelId": world.channel,
        "channelService": world.sandbox.profile(world.channel)["service"],
        "createdAt": at(7, 8),
        "updatedAt": at(7, 8),
        "allowedActions": [
            "updatePost", "deletePost", "viewPost", "publishPostNow", "publishPostNext",
            "updatePostSchedule", "duplicatePost",
        ],
        "error": None,
    }  # fmt: skip
    unknown = world.run(POST, {"id": "a" * 24})
    assert unknown["data"] is None
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    foreign = world.run(POST, {"id": made["id"]}, key="other-key")
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_posts_organization_errors(world: World) -> None:
    other_org = world.sandbox.accounts()[1]["organizations"][0]["id"]
    forbidden = world.page(input={"organizationId": other_org})
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    missing = world.page(input={"organizationId": "f" * 24})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_posts_filters_and_sort(world: World) -> None:
    queued = world.placed()
    world.now += timedelta(minutes=5)
    custom = world.placed("customScheduled", dueAt=at(9, 12))
    draft = world.placed(saveToDraft=True)
    sent = world.placed("shareNow")
    second = world.sandbox.profiles("default")[1]["id"]
    world.sandbox.set_schedules(second, [{"days": ["thu"], "times": ["10:00"]}])
    world.sandbox.set_paused(second, [])
    elsewhere = world.sandbox.add_post(second, "from the app")
    assert elsewhere["via"] == "buffer" and elsewhere["shareMode"] == "addToQueue"

    def ids(**filter_: Any) -> list[str]:
        sort = filter_.pop("sort", None)
        data = {"organizationId": world.org, "filter": filter_}
        if sort:
            data["sort"] = sort
        answer = world.page(input=data)
        return [e["node"]["id"] for e in answer["data"]["posts"]["edges"]]

    # default: dueAt ascending, undated posts last
    assert ids() == [sent["id"], queued["id"], custom["id"], elsewhere["id"], draft["id"]]
    assert ids(channelIds=[world.channel], status=["scheduled"]) == [queued["id"], custom["id"]]
    assert ids(status=["draft", "sent"]) == [sent["id"], draft["id"]]
    assert ids(dueAt={"start": at(7, 9), "end": at(9, 12)}) == [queued["id"], custom["id"]]
    assert ids(dueAt={"end": at(7, 8, 30)}) == [sent["id"]]
    by_creation = [{"field": "createdAt", "direction": "asc"}]
    made_later = [custom["id"], draft["id"], sent["id"], elsewhere["id"]]
    assert ids(createdAt={"start": at(7, 8, 1)}, sort=by_creation) == made_later
    assert ids(channelIds=[world.foreign]) == []  # another account's channel: nothing
    newest = ids(sort=[{"field": "createdAt", "direction": "desc"}])
    assert newest[-1] == queued["id"]
    latest_due = ids(status=["scheduled"], sort=[{"field": "dueAt", "direction": "desc"}])
    assert latest_due == [elsewhere["id"], custom["id"], queued["id"]]
    bad = world.page(input={"organizationId": world.org, "filter": {"dueAt": {"start": "soon"}}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_posts_pages(world: World) -> None:
    made = [world.placed()["id"] for _ in range(5)]
    seen: list[str] = []
    after = None
    pages = []
    while True:
        answer = world.page(first=2, after=after)["data"]["posts"]
        pages.append(answer["pageInfo"])
        seen += [e["node"]["id"] for e in answer["edges"]]
        assert answer["pageInfo"]["endCursor"] == answer["edges"][-1]["cursor"]
        assert answer["pageInfo"]["startCursor"] == answer["edges"][0]["cursor"]
        if not answer["pageInfo"]["hasNextPage"]:
            break
        after = answer["pageInfo"]["endCursor"]
    assert seen == made
    assert [(p["hasPreviousPage"], p["hasNextPage"]) for p in pages] == [
        (False, True), (True, True), (True, False)
    ]  # fmt: skip
    empty = world.page(first=0)["data"]["posts"]
    assert empty["edges"] == [] and empty["pageInfo"]["endCursor"] is None
    assert empty["pageInfo"]["hasNextPage"] is True


def test_a_cursor_survives_its_post_going(world: World) -> None:
    made = [world.placed()["id"] for _ in range(3)]
    cursor = world.page(first=1)["data"]["posts"]["pageInfo"]["endCursor"]
    world.run(DELETE, {"id": made[0]})
    rest = world.page(first=5, after=cursor)["data"]["posts"]["edges"]
    assert [e["node"]["id"] for e in rest] == made[1:]


@pytest.mark.parametrize("after", ["nonsense!", base64.urlsafe_b64encode(b'{"a": 1}').decode(), ""])
def test_bad_cursors_and_first(world: World, after: str) -> None:
    world.placed()
    answer = world.page(after=after) if after else world.page(first=-1)
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_first_defaults_to_20_and_is_capped_at_100() -> None:
    world = World()
    world.shape([{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                  "times": [f"{h:02d}:00" for h in range(24)]}], "UTC", [])  # fmt: skip
    for _ in range(101):
        world.sandbox.add_post(world.channel, "")
    assert len(world.page()["data"]["posts"]["edges"]) == 20
    capped = world.page(first=500)["data"]["posts"]
    assert len(capped["edges"]) == 100 and capped["pageInfo"]["hasNextPage"] is True


def test_time_moves_scheduled_posts_to_sent(world: World) -> None:
    post = world.placed()
    later = world.placed()
    world.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    sent = world.run(POST, {"id": post["id"]})["data"]["post"]
    assert (sent["status"], sent["sentAt"]) == ("sent", at(7, 9))
    assert world.run(POST, {"id": later["id"]})["data"]["post"]["status"] == "scheduled"
    assert world.edit(id=post["id"], text="x")["__typename"] == "InvalidInputError"
    assert world.placed()["dueAt"] == at(8, 9)  # 09:00 has passed, 17:00 is held


def test_mutations_count_in_the_rate_windows() -> None:
    world = World()
    world.sandbox.set_faults(graphql_rate_limit="2/60s")
    world.placed()
    world.placed()
    data = {"channelId": world.channel, "schedulingType": "automatic", "mode": "shareNow"}
    refused = world.raw(PLACE, {"input": data})
    assert refused.status_code == 429
    assert len(world.sandbox.channel_posts(world.channel)) == 2


# --- the control API and reset


@pytest.fixture
def running() -> Iterator[Any]:
    with start(SandboxConfig(graphql_rate_limit="1000/1s")) as sandbox:
        yield sandbox


def test_control_posts_endpoint(running: Any) -> None:
    url = running.root_url + "__sandbox/posts"
    channel = running.sandbox.profiles("default")[0]["id"]
    made = requests.post(url, json={"profile_id": channel, "text": "app post"}, timeout=10)
    assert made.status_code == 201
    post = made.json()
    assert (post["via"], post["shareMode"], post["status"]) == ("buffer", "addToQueue", "scheduled")
    assert post["isCustomScheduled"] is False and post["dueAt"]
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    fixed = requests.post(
        url, json={"profile_id": channel, "text": "t", "due_at": due.isoformat()}, timeout=10
    ).json()
    assert fixed["dueAt"] == due.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert fixed["shareMode"] == "addToQueue" and fixed["isCustomScheduled"] is True
    listed = requests.get(url, params={"profile_id": channel}, timeout=10).json()
    assert {p["id"] for p in listed} == {post["id"], fixed["id"]}
    refusals = [
        ({"profile_id": "0" * 24, "text": "t"}, 404),
        ({"profile_id": channel, "text": "t", "due_at": "2020-01-01T00:00:00Z"}, 400),
        ({"profile_id": channel, "text": "t", "due_at": "soon"}, 400),
        ({"text": "t"}, 400),
    ]
    for body, status in refusals:
        assert requests.post(url, json=body, timeout=10).status_code == status, body
    assert requests.get(url, timeout=10).status_code == 400
    assert requests.get(url, params={"profile_id": "0" * 24}, timeout=10).status_code == 404
    gql = requests.post(
        running.root_url + "graphql",
        json={"query": POST, "variables": {"id": post["id"]}},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    ).json()
    assert gql["data"]["post"]["via"] == "buffer"
    assert requests.post(running.root_url + "__sandbox/reset", timeout=10).status_code == 200
    assert requests.get(url, params={"profile_id": channel}, timeout=10).json() == []


def test_control_refuses_when_the_queue_is_full() -> None:
    world = World(queue_limit=1)
    body = {"profile_id": world.channel, "text": "t"}
    assert world.client.post("/__sandbox/posts", json=body).status_code == 201
    full = world.client.post("/__sandbox/posts", json=body)
    assert full.status_code == 409 and full.get_json()["type"] == "LimitReachedError"


def test_reset_clears_posts(world: World) -> None:
    world.placed()
    world.sandbox.add_post(world.channel, "app")
    assert len(world.sandbox.channel_posts(world.channel)) == 2
    world.sandbox.reset()
    assert world.sandbox.channel_posts(world.channel) == []
    with pytest.raises(KeyError):
        world.sandbox.channel_posts("0" * 24)
