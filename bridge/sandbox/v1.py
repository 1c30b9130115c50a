"""Buffer API v1 over the sandbox's state, faithful to behaviour.md and profiles.md.

Endpoints, under `/1/`::

    GET  profiles.json
    GET  profiles/<id>.json
    GET  profiles/<id>/schedules.json
    POST profiles/<id>/schedules/update.json

It reproduces the parts a client would rather not meet: PHP-style form bodies
only (a JSON body is not read), two error body shapes, `\\/`-escaped JSON, a
per-token rate limit without rate-limit headers, and injected faults.

Order of checks for a `/1/` request (the order the sandbox chooses; Buffer does
not document one)::

    fault draw -> fixed latency -> injected 500 / 429 (nothing else happens)
    -> token (401) -> rate limit (429; the request is counted when admitted)
    -> endpoint (404) -> format (406) -> method (405) -> profile (404/403)
    -> parameters (400) -> schedule limit (403) -> answer
    -> slow fault: sleep, then answer / drop fault: cut the connection

So routing comes after authentication (an unknown endpoint still costs a slot of
the rate limit), and a slow or dropped `schedules/update` has taken effect
although the client never sees the answer, as with a real lost response.

Schedule limit: the number of posting times on any one day, summed over the
entries that include that day, may not exceed the service's limit
(`SCHEDULE_LIMITS`); past it, 403/1013.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from bridge.sandbox.forms import form_pairs, php_list, php_parse
from bridge.sandbox.state import Sandbox
from bridge.week import DAYS, TIME_RE

__all__ = [
    "JSON_CONTENT_TYPE",
    "PREFIX",
    "SCHEDULE_LIMITS",
    "V1",
    "buffer_error",
    "encode_json",
    "find_token",
]

PREFIX = "/1/"
# Most posting times allowed on any one day, per service (see module docstring);
# other services get 25.
SCHEDULE_LIMITS = {
    "twitter": 288,
    "facebook": 25,
    "linkedin": 25,
    "instagram": 25,
    "pinterest": 50,
}
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
NO_TOKEN_CHALLENGE = (
    "OAuth realm='Service', error='invalid_request', error_description='The request is "
    "missing a required parameter, includes an unsupported parameter or parameter value, "
    "repeats the same parameter, uses more than one method for including an access token, "
    "or is otherwise malformed.'"
)
_SEPARATORS = {True: (",", ": "), False: (",", ":")}

# (account, profile id or "", form pairs, pretty) -> answer
Handler = Callable[[str, str, list[tuple[str, str]], bool], Response]


def encode_json(data: Any, pretty: bool = False) -> bytes:
    """JSON as PHP's json_encode writes it: ASCII only, `/` escaped as `\\/`."""
    text = json.dumps(data, indent=4 if pretty else None, separators=_SEPARATORS[pretty])
    return text.replace("/", "\\/").encode("ascii")


def buffer_json(status: int, data: Any, pretty: bool = False) -> Response:
    """A response as Buffer sends it: PHP-encoded JSON with Buffer's Content-Type."""
    return Response(encode_json(data, pretty), status=status, content_type=JSON_CONTENT_TYPE)


def buffer_error(status: int, message: str, code: int) -> Response:
    """Buffer's `{"error", "code"}` error shape."""
    return buffer_json(status, {"error": message, "code": code})


def _failure(status: int, message: str, code: int) -> Response:
    """Buffer's other error shape, `{"success": false, "message", "code"}`."""
    return buffer_json(status, {"success": False, "message": message, "code": code})


class V1:
    """The `/1/` API as a request handler over one Sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.url_map = Map(
            [
                Rule("/1/profiles.<fmt>", endpoint="profiles", methods=["GET"]),
                Rule("/1/profiles/<profile_id>.<fmt>", endpoint="profile", methods=["GET"]),
                Rule(
                    "/1/profiles/<profile_id>/schedules.<fmt>",
                    endpoint="schedules",
                    methods=["GET"],
                ),
                Rule(
                    "/1/profiles/<profile_id>/schedules/update.<fmt>",
                    endpoint="update",
                    methods=["POST"],
                ),
            ],
            merge_slashes=False,  # Buffer does not redirect; a doubled slash is a 404
        )
        self._endpoints: dict[str, Handler] = {
            "profiles": self._profiles,
            "profile": self._profile,
            "schedules": self._schedules,
            "update": self._update,
        }

    def __call__(self, request: Request) -> Response:
        """Answer one `/1/` request with faults, and record it.

        Raises faults.Dropped (after recording) when a drop fault cuts the connection.
        """
        begun = self.sandbox.begin_request()
        fault = begun.fault
        pairs = form_pairs(request)
        token = find_token(request, pairs)
        if fault == "error":
            response = buffer_error(500, "An unknown error occurred", 1000)
        elif fault == "429":
            response = buffer_error(429, "Too many requests", 429)
        else:
            response = self._authorised(request, token, pairs)
        form = (
            [(k, v) for k, v in pairs if k != "access_token"] if request.method == "POST" else None
        )
        return self.sandbox.end_request(request, response, begun, token, form)

    def _authorised(
        self, request: Request, token: str | None, pairs: list[tuple[str, str]]
    ) -> Response:
        """The answer after the token (401) and rate limit (429) checks let the request in."""
        if token is None:
            return Response(
                b"",
                status=401,
                content_type="text/html",
                headers={"WWW-Authenticate": NO_TOKEN_CHALLENGE},
            )
        account = self.sandbox.account_of(token)
        if account is None:
            return buffer_error(401, "The provided access token is invalid", 401)
        if not self.sandbox.admit(token):
            return buffer_error(429, "Too many requests", 429)
        return self._route(request, account, pairs)

    def _route(self, request: Request, account: str, pairs: list[tuple[str, str]]) -> Response:
        """Endpoint (404), then format (406), then method (405), then the endpoint's answer."""
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match(request.path, method=request.method)
        except NotFound:
            return buffer_error(404, "Endpoint not found", 404)
        except MethodNotAllowed as exc:
            allowed = sorted(exc.valid_methods or ())
            # The path names an endpoint; its format is checked before its method.
            _, args = adapter.match(request.path, method=allowed[0])
            if args["fmt"] != "json":
                return buffer_error(406, "Unsupported response format", 1005)
            response = buffer_error(405, "Method not allowed", 405)
            response.headers["Allow"] = ", ".join(allowed)
            return response
        if args["fmt"] != "json":
            return buffer_error(406, "Unsupported response format", 1005)
        pretty = request.args.get("pretty") == "true"
        profile_id = args.get("profile_id", "")
        with self.sandbox.lock:
            return self._endpoints[endpoint](account, profile_id, pairs, pretty)

    # --- endpoints (called holding the sandbox lock)

    def _profiles(
        self, account: str, _: str, pairs: list[tuple[str, str]], pretty: bool
    ) -> Response:
        profiles = [self.sandbox.profile(pid) for pid in self.sandbox.profile_ids(account)]
        return buffer_json(200, profiles, pretty)

    def _profile(
        self, account: str, pid: str, pairs: list[tuple[str, str]], pretty: bool
    ) -> Response:
        refused = self._refused(account, pid)
        return refused or buffer_json(200, self.sandbox.profile(pid), pretty)

    def _schedules(
        self, account: str, pid: str, pairs: list[tuple[str, str]], pretty: bool
    ) -> Response:
        refused = self._refused(account, pid)
        return refused or buffer_json(200, self.sandbox.profile(pid)["schedules"], pretty)

    def _update(
        self, account: str, pid: str, pairs: list[tuple[str, str]], pretty: bool
    ) -> Response:
        """Replace a profile's schedules from the form body, or refuse and change nothing."""
        refused = self._refused(account, pid)
        if refused:
            return refused
        profile = self.sandbox.profile(pid)
        schedules = _parse_schedules(php_parse(pairs))
        if isinstance(schedules, Response):
            return schedules
        limit = SCHEDULE_LIMITS.get(profile["service"], 25)
        for day in DAYS:
            slots = sum(len(s["times"]) for s in schedules if day in s["days"])
            if slots > limit:
                return _failure(
                    403,
                    f"You've reached the schedule limit of {limit} posts a day for this profile",
                    1013,
                )
        profile["schedules"] = schedules
        return buffer_json(200, {"success": True, "message": "Schedules updated"}, pretty)

    def _refused(self, account: str, profile_id: str) -> Response | None:
        """404/1010 for an unknown profile, 403/1011 for another account's; None when allowed."""
        owner = self.sandbox.owner_of(profile_id)
        if owner is None:
            return _failure(404, "Profile could not be found", 1010)
        if owner != account:
            return _failure(403, "You do not have permission to access this profile", 1011)
        return None


def _parse_schedules(form: dict[str, Any]) -> list[dict[str, Any]] | Response:
    """The `schedules` parameter as Buffer entries, or the 400 answer (1004 missing, 1006 bad)."""
    if "schedules" not in form:
        return _failure(400, "Missing required parameter schedules", 1004)
    entries = php_list(form["schedules"])
    if entries is None:
        return _failure(400, "Invalid value for parameter schedules", 1006)
    schedules: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return _failure(400, f"Invalid value for parameter schedules[{index}]", 1006)
        parsed: dict[str, Any] = {}
        for key in ("days", "times"):
            if key not in entry:
                return _failure(400, f"Missing required parameter schedules[{index}][{key}]", 1004)
            values = php_list(entry[key])
            if values is None or not all(isinstance(v, str) for v in values):
                return _failure(400, f"Invalid value for parameter schedules[{index}][{key}]", 1006)
            parsed[key] = values
        for day in parsed["days"]:
            if day not in DAYS:
                return _failure(400, f"Invalid day '{day}' in schedules[{index}][days]", 1006)
        for moment in parsed["times"]:
            if not TIME_RE.fullmatch(moment):
                return _failure(400, f"Invalid time '{moment}' in schedules[{index}][times]", 1006)
        schedules.append({"days": parsed["days"], "times": parsed["times"]})
    return schedules


def find_token(request: Request, pairs: list[tuple[str, str]]) -> str | None:
    """The access token from the Bearer header, else the query, else the form; None if absent."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    query = request.args.get("access_token")
    if query:
        return query
    for key, value in pairs:
        if key == "access_token" and value:
            return value
    return None
