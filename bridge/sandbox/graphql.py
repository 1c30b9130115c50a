"""Buffer's GraphQL API over the sandbox's state, faithful to graphql.md.

Served at `/graphql` and `POST /`. Queries are executed by graphql-core against
`schema.graphql` (a copy of the typed subset of Buffer's schema the bridge uses),
so a query the real API would refuse for its shape is refused here too:

    fault draw -> fixed latency -> injected 500 / 429 (nothing else happens)
    -> method (POST only: 405) -> key (401 UNAUTHENTICATED)
    -> rate windows (429 RATE_LIMIT_EXCEEDED, extensions.retryAfter; the request is
       counted in every window when admitted) -> JSON body (400 BAD_REQUEST)
    -> parse (400 GRAPHQL_PARSE_FAILED) -> validate (400 GRAPHQL_VALIDATION_FAILED)
    -> variables (400 BAD_USER_INPUT) -> execute (200; NOT_FOUND, FORBIDDEN as
       errors beside null data) -> slow fault: sleep / drop fault: cut the connection

Every admitted answer carries `RateLimit` and `RateLimit-Policy` headers, one item
per window (`"100-in-15min";r=98;t=897`). A channel of another account is
FORBIDDEN, an unknown one NOT_FOUND; an organization likewise.

Posts (graphql.md, "Posts"; the rules are in posts.py): `posts` pages an
organization's posts (its organization checked as `channels` does; a bad date,
cursor or `first` is BAD_USER_INPUT), `post` answers one (NOT_FOUND, FORBIDDEN).
The mutations are Buffer's post ones, `createPost`, `editPost` and `deletePost`,
counted in the rate windows like queries; they refuse as Buffer does, with typed
union errors as data (HTTP 200, `__typename` an error type with `message`), never
GraphQL errors. No mutation changes a channel or its schedule, as in Buffer's
reference: schedules are written through v1.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from werkzeug.wrappers import Request, Response

from bridge.sandbox.posts import PostError
from bridge.sandbox.state import Sandbox
from bridge.week import DAYS

__all__ = ["GraphQL", "graphql_error", "schema", "schema_text"]

_CHANNEL_TYPES = {"account", "business", "channel", "group", "page", "profile"}
_ALLOWED_ACTIONS = ["managePostingSchedule", "readUpdates", "viewChannel", "viewPublish"]
_INJECTED_RETRY_AFTER = 60


def schema_text() -> str:
    """The shipped subset of Buffer's schema (bridge/sandbox/schema.graphql)."""
    return resources.files("bridge.sandbox").joinpath("schema.graphql").read_text()


@cache
def schema() -> GraphQLSchema:
    """The schema the sandbox executes against, built once."""
    return build_schema(schema_text())


def graphql_error(
    status: int, message: str, code: str, headers: dict[str, str] | None = None, **extensions: Any
) -> Response:
    """A GraphQL error answer: `{"errors": [{message, extensions: {code, ...}}]}`."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return _json(status, body, headers)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _window_name(limit: float, period: float) -> str:
    for unit, seconds in (("d", 86400), ("h", 3600), ("min", 60)):
        if period >= seconds and period % seconds == 0:
            return f"{limit:g}-in-{period / seconds:g}{unit}"
    return f"{limit:g}-in-{period:g}s"


def _rate_headers(windows: list[dict[str, float]]) -> dict[str, str]:
    """`RateLimit` and `RateLimit-Policy`, one item per window (IETF draft syntax)."""
    names = [_window_name(w["limit"], w["period"]) for w in windows]
    return {
        "RateLimit": ", ".join(
            f'"{n}";r={int(w["remaining"])};t={math.ceil(w["reset"])}'
            for n, w in zip(names, windows, strict=True)
        ),
        "RateLimit-Policy": ", ".join(
            f'"{n}";q={int(w["limit"])};w={int(w["period"])}'
            for n, w in zip(names, windows, strict=True)
        ),
    }


class GraphQL:
    """The GraphQL endpoint as a request handler over one Sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def __call__(self, request: Request) -> Response:
        """Answer one GraphQL request with faults, and record it.

        Raises faults.Dropped (after recording) when a drop fault cuts the connection.
        """
        begun = self.sandbox.begin_request()
        fault = begun.fault
        key = _find_key(request)
        operation: str | None = None
        if fault == "error":
            response = graphql_error(500, "Internal server error", "INTERNAL_SERVER_ERROR")
        elif fault == "429":
            response = graphql_error(
                429,
                "Too many requests from this client. Please try again later.",
                "RATE_LIMIT_EXCEEDED",
                limitType="CLIENT_ACCOUNT",
                retryAfter=_INJECTED_RETRY_AFTER,
            )
        else:
            response, operation = self._authorised(request, key)
        form = [("operationName", operation)] if operation else None
        return self.sandbox.end_request(request, response, begun, key, form)

    def _authorised(self, request: Request, key: str | None) -> tuple[Response, str | None]:
        """The answer after the method, key and rate checks, and the operation's name."""
        if request.method != "POST":
            response = graphql_error(405, "POST a JSON body to this endpoint", "BAD_REQUEST")
            response.headers["Allow"] = "POST"
            return response, None
        account = self.sandbox.account_of_key(key) if key else None
        if account is None:
            message = "Invalid API key" if key else "Authentication required: send a Bearer key"
            return graphql_error(401, message, "UNAUTHENTICATED"), None
        assert key is not None
        retry_after, windows = self.sandbox.admit_graphql(key)
        headers = _rate_headers(windows)
        if retry_after is not None:
            response = graphql_error(
                429,
                "Too many requests from this client. Please try again later.",
                "RATE_LIMIT_EXCEEDED",
                headers,
                limitType="CLIENT_ACCOUNT",
                retryAfter=math.ceil(retry_after),
            )
            return response, None
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return graphql_error(400, "POST body must be JSON with a query", "BAD_REQUEST"), None
        operation = (
            body.get("operationName") if isinstance(body.get("operationName"), str) else None
        )
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return graphql_error(400, "variables must be an object", "BAD_REQUEST", headers), None
        return self._execute(account, body["query"], variables, operation, headers), operation

    def _execute(
        self,
        account: str,
        query: str,
        variables: dict[str, Any],
        operation: str | None,
        headers: dict[str, str],
    ) -> Response:
        try:
            document = parse(query)
        except GraphQLError as syntax:
            return graphql_error(400, syntax.message, "GRAPHQL_PARSE_FAILED", headers)
        problems = validate(schema(), document)
        if problems:
            refusal = {
                "errors": [
                    {"message": p.message, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                    for p in problems
                ]
            }
            return _json(400, refusal, headers)
        with self.sandbox.lock:
            result = execute(
                schema(),
                document,
                root_value=_Root(self.sandbox, account),
                variable_values=variables,
                operation_name=operation,
            )
        assert isinstance(result, ExecutionResult)  # no resolver here is async
        errors = [_error_json(e) for e in result.errors or []]
        if result.data is None and errors and all("path" not in e for e in errors):
            # the request never ran: variables or operation name do not fit the document
            for error in errors:
                error["extensions"].setdefault("code", "BAD_USER_INPUT")
            return _json(400, {"errors": errors}, headers)
        body: dict[str, Any] = {"data": result.data}
        if errors:
            body["errors"] = errors
        return _json(200, body, headers)


def _error_json(error: GraphQLError) -> dict[str, Any]:
    """A GraphQLError as Buffer sends it; a resolver's own error keeps its code."""
    out = error.formatted
    out["extensions"] = dict(out.get("extensions") or {})
    if "code" not in out["extensions"] and error.path is not None:
        out["extensions"]["code"] = "INTERNAL_SERVER_ERROR"
    out.pop("locations", None)
    return dict(out)


class _Root:
    """Root resolvers of one request (holding the sandbox lock): account, channel, channels,
    posts, post and the mutations createPost, editPost, deletePost."""

    def __init__(self, sandbox: Sandbox, account: str) -> None:
        self.sandbox = sandbox
        self.account_name = account

    def account(self, info: Any) -> dict[str, Any]:
        organizations = self.sandbox.organizations(self.account_name)
        return {
            "id": f"account-{self.account_name}",
            "email": f"{self.account_name}@sandbox.invalid",
            "name": self.account_name.title(),
            "timezone": "Europe/London",
            "organizations": [
                {"id": o["id"], "name": o["name"], "channelCount": len(o["channel_ids"])}
                for o in organizations
            ],
        }

    def channel(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(input["id"])
        owner = self.sandbox.owner_of(channel_id)
        if owner is None:
            raise GraphQLError("Channel not found", extensions={"code": "NOT_FOUND"})
        if owner != self.account_name:
            raise GraphQLError(
                "You do not have access to this channel", extensions={"code": "FORBIDDEN"}
            )
        return self._channel(channel_id, self._organization_of(channel_id))

    def channels(self, info: Any, input: dict[str, Any]) -> list[dict[str, Any]]:
        organization = self._own_organization(input["organizationId"])
        locked = (input.get("filter") or {}).get("isLocked")
        channels = [self._channel(pid, organization["id"]) for pid in organization["channel_ids"]]
        return [c for c in channels if locked is None or c["isLocked"] == locked]

    def posts(
        self, info: Any, input: dict[str, Any], first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        organization = self._own_organization(input["organizationId"])
        try:
            return self.sandbox.posts.search(
                list(organization["channel_ids"]),
                input.get("filter"),
                input.get("sort"),
                first,
                after,
            )
        except ValueError as exc:
            raise GraphQLError(str(exc), extensions={"code": "BAD_USER_INPUT"}) from None

    def post(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.sandbox.posts.get(self.account_name, input["id"])
        except KeyError:
            raise GraphQLError("Post not found", extensions={"code": "NOT_FOUND"}) from None
        except PermissionError as exc:
            raise GraphQLError(str(exc), extensions={"code": "FORBIDDEN"}) from None

    def createPost(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self._post_action(self.sandbox.posts.create, input)

    def editPost(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self._post_action(self.sandbox.posts.edit, input)

    def _post_action(
        self, act: Callable[[str, dict[str, Any]], dict[str, Any]], input: dict[str, Any]
    ) -> dict[str, Any]:
        """A post mutation's answer: the post, or the refusal typed as Buffer types it."""
        try:
            post = act(self.account_name, input)
        except PostError as refusal:
            return {"__typename": refusal.typename, "message": refusal.message}
        return {"__typename": "PostActionSuccess", "post": post}

    def deletePost(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        try:
            deleted = self.sandbox.posts.delete(self.account_name, input["id"])
        except PostError as refusal:  # DeletePostPayload has one error type
            return {"__typename": "VoidMutationError", "message": refusal.message}
        return {"__typename": "DeletePostSuccess", "id": deleted}

    def _own_organization(self, organization_id: Any) -> dict[str, Any]:
        """The live organization of this account; NOT_FOUND / FORBIDDEN GraphQL errors else."""
        found = self.sandbox.organization_owner(str(organization_id))
        if found is None:
            raise GraphQLError("Organization not found", extensions={"code": "NOT_FOUND"})
        owner, organization = found
        if owner != self.account_name:
            raise GraphQLError(
                "You do not have access to this organization", extensions={"code": "FORBIDDEN"}
            )
        return organization

    def _organization_of(self, channel_id: str) -> str:
        for organization in self.sandbox.organizations(self.account_name):
            if channel_id in organization["channel_ids"]:
                return str(organization["id"])
        return ""

    def _channel(self, channel_id: str, organization_id: str) -> dict[str, Any]:
        """A v1 profile object as a GraphQL Channel (schedules one entry per day)."""
        profile = self.sandbox.profile(channel_id)
        paused = self.sandbox.paused(channel_id)
        times: dict[str, set[str]] = {day: set() for day in DAYS}
        for entry in profile.get("schedules", []):
            for day in entry.get("days", []):
                if day in times:
                    times[day].update(entry.get("times", []))
        created = profile.get("created_at") or 0
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
        kind = profile.get("service_type")
        return {
            "id": channel_id,
            "allowedActions": _ALLOWED_ACTIONS,
            "avatar": profile.get("avatar_https") or profile.get("avatar") or "",
            "descriptor": profile.get("formatted_service") or profile.get("service", ""),
            "displayName": profile.get("formatted_username") or None,
            "isDisconnected": bool(profile.get("disconnected")),
            "isLocked": False,
            "isQueuePaused": False,
            "name": profile.get("service_username", ""),
            "organizationId": organization_id,
            "postingSchedule": [
                {"day": day, "paused": day in paused, "times": sorted(times[day])} for day in DAYS
            ],
            "service": profile.get("service"),
            "serviceId": str(profile.get("service_id", "")),
            "timezone": profile.get("timezone") or "Europe/London",
            "type": kind if kind in _CHANNEL_TYPES else "profile",
            "createdAt": stamp,
            "updatedAt": stamp,
        }


def _find_key(request: Request) -> str | None:
    """The API key from the `Authorization: Bearer` header; None when absent."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None
