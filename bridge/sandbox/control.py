"""The sandbox-only control and observation API, under `/__sandbox/`.

No token, never faulted, never recorded, plain JSON (not Buffer's encoding)::

    GET    /__sandbox/requests   every API request answered (labels, never tokens)
    DELETE /__sandbox/requests   clear that record
    GET    /__sandbox/faults     fault rates, latency and rate limit
    PUT    /__sandbox/faults     change them (JSON object, any subset of keys)
    GET    /__sandbox/accounts   account names, token labels and profiles
    POST   /__sandbox/reset      re-seed profiles and drop every post (optional JSON {"seed": n})
    POST   /__sandbox/posts      add a post as if made in Buffer's own app ("Add to queue"):
                                 JSON {"profile_id": id, "text": str, "due_at": optional ISO 8601}
                                 -> 201 and the post (via `buffer`, shareMode `addToQueue`, at the
                                 channel's next free slot or at `due_at`, which must be future);
                                 400 bad body or due_at, 404 unknown profile, 409 {"error",
                                 "code": 409, "type": "LimitReachedError"} when the queue is full
    GET    /__sandbox/posts      every post of one channel (`?profile_id=`), by dueAt: a list
                                 of posts (404 unknown profile, 400 without profile_id)

A post is the GraphQL `Post` as JSON (posts.py): id, channelId, channelService,
status, via, shareMode, schedulingType, isCustomScheduled, dueAt, sentAt, text,
createdAt, updatedAt, error, allowedActions.

Each is one method of `Sandbox` (`add_post`, `channel_posts` for the posts), which
tests may call directly instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from bridge.sandbox.posts import PostError
from bridge.sandbox.state import Sandbox

__all__ = ["PREFIX", "Control"]

PREFIX = "/__sandbox"


def _json(status: int, data: Any) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _refusal(status: int, message: str) -> Response:
    return _json(status, {"error": message, "code": status})


class Control:
    """The control endpoints over one Sandbox, as werkzeug Rules and their handlers."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.handlers: dict[str, Callable[[Request], Response]] = {
            "control.requests": self._requests,
            "control.faults": self._faults,
            "control.accounts": self._accounts,
            "control.reset": self._reset,
            "control.posts": self._posts,
        }

    def rules(self) -> list[Rule]:
        """One Rule per endpoint; a trailing slash is accepted, as it always was."""
        methods = {
            "requests": ["GET", "DELETE"],
            "faults": ["GET", "PUT"],
            "accounts": ["GET"],
            "reset": ["POST"],
            "posts": ["GET", "POST"],
        }
        return [
            Rule(f"{PREFIX}/{name}", endpoint=f"control.{name}", methods=m, strict_slashes=False)
            for name, m in methods.items()
        ]

    @staticmethod
    def not_found() -> Response:
        """The answer to an unknown `/__sandbox` path."""
        return _refusal(404, "Unknown sandbox endpoint")

    @staticmethod
    def method_not_allowed(allowed: Iterable[str]) -> Response:
        """The answer to a known path with another method, naming the allowed ones."""
        response = _refusal(405, "Method not allowed")
        response.headers["Allow"] = ", ".join(allowed)
        return response

    def _requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            return _json(200, {"cleared": self.sandbox.clear_requests()})
        return _json(200, [r.as_dict() for r in self.sandbox.recorded()])

    def _accounts(self, request: Request) -> Response:
        return _json(200, self.sandbox.accounts())

    def _faults(self, request: Request) -> Response:
        body = _body(request)
        if not isinstance(body, dict):
            return _refusal(400, "Body must be a JSON object")
        if request.method == "GET":
            return _json(200, self.sandbox.faults())
        try:
            return _json(200, self.sandbox.set_faults(**body))
        except ValueError as exc:
            return _refusal(400, str(exc))

    def _reset(self, request: Request) -> Response:
        body = _body(request)
        if not isinstance(body, dict):
            return _refusal(400, "Body must be a JSON object")
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return _refusal(400, "seed must be an integer")
        self.sandbox.reset(seed)
        return _json(200, {"success": True, "seed": self.sandbox.config.seed})

    def _posts(self, request: Request) -> Response:
        if request.method == "GET":
            return self._channel_posts(request.args.get("profile_id"))
        body = _body(request)
        if not isinstance(body, dict):
            return _refusal(400, "Body must be a JSON object")
        profile_id, text, due_at = body.get("profile_id"), body.get("text", ""), body.get("due_at")
        if not isinstance(profile_id, str) or not isinstance(text, str):
            return _refusal(400, "profile_id and text must be strings")
        if due_at is not None and not isinstance(due_at, str):
            return _refusal(400, "due_at must be an ISO 8601 string")
        try:
            return _json(201, self.sandbox.add_post(profile_id, text, due_at))
        except KeyError:
            return _refusal(404, "Unknown profile")
        except ValueError:
            return _refusal(400, "due_at must be an ISO 8601 date")
        except PostError as refusal:
            status = 409 if refusal.typename == "LimitReachedError" else 400
            return _json(
                status, {"error": refusal.message, "code": status, "type": refusal.typename}
            )

    def _channel_posts(self, profile_id: str | None) -> Response:
        if not profile_id:
            return _refusal(400, "profile_id is required")
        try:
            return _json(200, self.sandbox.channel_posts(profile_id))
        except KeyError:
            return _refusal(404, "Unknown profile")


def _body(request: Request) -> Any:
    """The JSON body whatever its Content-Type; {} when empty, None when not JSON."""
    return request.get_json(force=True, silent=True) if request.get_data() else {}
