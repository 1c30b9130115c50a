"""Buffer's posts through its GraphQL API: place one at a time, move one, list a channel's.

Written to graphql.md (section "Posts") and graphql-subset.graphql. Three documents,
sent through `GraphQLClient.query` so they keep its rules (one session, timeouts, the
key only in the header, rate-limit hints, the error mapping):

    Place($input)       createPost: a post at an explicit time (customScheduled + dueAt),
                        in Buffer's own queue (addToQueue) or now (shareNow)
    Move($input)        editPost: a post to a new dueAt (customScheduled)
    Scheduled(...)      posts: a channel's scheduled posts from an instant, by dueAt, in
                        pages of 100

A mutation answers a typed union with HTTP 200: `PostActionSuccess {post}` or an error
type with a `message`. Each error type becomes a `PostRefused` (a BufferAPIError that is
not retried: the same input meets the same answer), except `UnexpectedError` and
`RestProxyError`, which are Buffer's own trouble and are retried like a 5xx.

Images and links: the subset the bridge is written to leaves `assets` and `metadata`
out, so a post carries its text only; a link is sent inside the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.buffer.graphql import GraphQLAPIError, GraphQLClient
from bridge.errors import BufferAPIError, BufferUnavailable

PAGE_SIZE = 100  # Buffer's largest page of posts
MAX_PAGES = 20  # 2,000 scheduled posts: Buffer's own queue limit is well below

POST_FIELDS = "id dueAt status shareMode isCustomScheduled via text channelId"


def _post_mutation(name: str, field: str, input_type: str) -> str:
    """Mutation `name` calling `field`: the post's POST_FIELDS, or the refusal's message."""
    return f"""mutation {name}($input: {input_type}!) {{
  {field}(input: $input) {{
    __typename
    ... on PostActionSuccess {{ post {{ {POST_FIELDS} }} }}
    ... on MutationError {{ message }}
  }}
}}"""


PLACE_MUTATION = _post_mutation("Place", "createPost", "CreatePostInput")
MOVE_MUTATION = _post_mutation("Move", "editPost", "EditPostInput")
SCHEDULED_QUERY = f"""query Scheduled($org: OrganizationId!, $channels: [ChannelId!],
    $from: DateTime!, $after: String) {{
  posts(input: {{organizationId: $org,
                filter: {{channelIds: $channels, status: [scheduled], dueAt: {{start: $from}}}},
                sort: [{{field: dueAt, direction: asc}}]}}, first: {PAGE_SIZE}, after: $after) {{
    edges {{ node {{ {POST_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""

# error types that are Buffer's own trouble: the same call may work later
_TRANSIENT = {"UnexpectedError", "RestProxyError"}


class PostRefused(BufferAPIError):
    """Buffer refused a post mutation with a typed error (`kind`: its __typename)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"Buffer refused the post: {message} [{kind}]", status=200)
        self.kind = kind


@dataclass(frozen=True)
class BufferPost:
    """A post as Buffer has it (the fields POST_FIELDS selects)."""

    id: str
    due_at: dt.datetime | None
    status: str
    share_mode: str
    custom: bool
    via: str
    text: str
    channel_id: str = ""

    @classmethod
    def from_graphql(cls, obj: Any) -> BufferPost:
        """Parse a `Post`; GraphQLAPIError ("unexpected response") without a string id."""
        if not isinstance(obj, Mapping) or not isinstance(obj.get("id"), str) or not obj["id"]:
            raise GraphQLAPIError("unexpected response from Buffer: a post without an id")
        return cls(
            id=obj["id"],
            due_at=parse_instant(obj.get("dueAt")),
            status=str(obj.get("status") or ""),
            share_mode=str(obj.get("shareMode") or ""),
            custom=obj.get("isCustomScheduled") is True,
            via=str(obj.get("via") or ""),
            text=str(obj.get("text") or ""),
            channel_id=str(obj.get("channelId") or ""),
        )


def parse_instant(value: Any) -> dt.datetime | None:
    """An ISO 8601 DateTime from Buffer as an aware UTC datetime; None when absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLAPIError(f"unexpected response from Buffer: dueAt {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def instant_text(instant: dt.datetime) -> str:
    """An instant as the DateTime Buffer reads: UTC, milliseconds, `Z`."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _post_of(data: Mapping[str, Any], root: str) -> BufferPost:
    """The post of a PostActionPayload; PostRefused or BufferUnavailable for an error type."""
    payload = data[root]
    kind = payload.get("__typename") if isinstance(payload, Mapping) else None
    if kind == "PostActionSuccess":
        return BufferPost.from_graphql(payload.get("post"))
    message = payload.get("message") if isinstance(payload, Mapping) else None
    words = message if isinstance(message, str) and message else "no reason given"
    if kind in _TRANSIENT:
        raise BufferUnavailable(f"Buffer could not handle the post: {words} [{kind}]", status=200)
    raise PostRefused(str(kind or "unknown"), words)


def place(
    client: GraphQLClient,
    channel_id: str,
    text: str,
    mode: str,
    due_at: dt.datetime | None = None,
) -> BufferPost:
    """createPost: `mode` customScheduled (at `due_at`), addToQueue or shareNow."""
    post_input: dict[str, Any] = {
        "channelId": channel_id,
        "schedulingType": "automatic",
        "mode": mode,
        "text": text,
        "source": "buffer-bridge",
    }
    if due_at is not None:
        post_input["dueAt"] = instant_text(due_at)
    data = client.query("create_post", "Place", PLACE_MUTATION, {"input": post_input}, "createPost")
    return _post_of(data, "createPost")


def move(client: GraphQLClient, post_id: str, due_at: dt.datetime) -> BufferPost:
    """editPost: the post to `due_at` (customScheduled); its text and the rest are kept."""
    post_input = {
        "id": post_id,
        "schedulingType": "automatic",
        "mode": "customScheduled",
        "dueAt": instant_text(due_at),
    }
    data = client.query("edit_post", "Move", MOVE_MUTATION, {"input": post_input}, "editPost")
    return _post_of(data, "editPost")


def scheduled_page(
    client: GraphQLClient,
    organization_id: str,
    channel_ids: list[str],
    start: dt.datetime,
    after: str | None = None,
) -> tuple[list[BufferPost], str | None]:
    """One page of the channels' scheduled posts due from `start`, by dueAt; and the cursor
    of the next page (None on the last)."""
    variables = {
        "org": organization_id,
        "channels": channel_ids,
        "from": instant_text(start),
        "after": after,
    }
    data = client.query("posts", "Scheduled", SCHEDULED_QUERY, variables, "posts")
    results = data["posts"]
    edges = results.get("edges") if isinstance(results, Mapping) else None
    posts = [BufferPost.from_graphql(e.get("node")) for e in edges or [] if isinstance(e, Mapping)]
    info = results.get("pageInfo") if isinstance(results, Mapping) else None
    has_next = isinstance(info, Mapping) and info.get("hasNextPage") is True
    cursor = info.get("endCursor") if has_next and isinstance(info, Mapping) else None
    return posts, cursor if isinstance(cursor, str) and cursor else None
