"""Unit tests of the Buffer client against responses shaped like the real API (behaviour.md)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter
from responses import matchers

from bridge import errors
from bridge.buffer.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, USER_AGENT, BufferClient
from bridge.buffer.encoding import encode_schedules
from bridge.buffer.errors import error_from_response
from bridge.buffer.models import Profile, Schedule, is_profile_id

TOKEN = "1/0123456789abcdefSECRETtoken"
PID = "4eb854340acb04e870000010"
BASE = "https://api.bufferapp.com/1/"

PROFILE = {
    "avatar": "http://a3.twimg.com/profile_images/1405180232.png",
    "created_at": 1320703028,
    "default": True,
    "formatted_username": "@skinnyoteam",
    "id": PID,
    "schedules": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["12:00", "17:00", "18:00"]}
    ],
    "service": "twitter",
    "service_id": "164724445",
    "service_username": "skinnyoteam",
    "statistics": {"followers": 246},
    "team_members": ["4eb867340acb04e670000001"],
    "timezone": "Europe/London",
    "user_id": "4eb854340acb04e870000010",
}
REAL_EXTRAS = {
    "_id": PID,
    "avatar_https": "https://a3.twimg.com/profile_images/1405180232.png",
    "counts": {"pending": 3, "sent": 120, "daily_suggestions": 25, "drafts": 0},
    "disconnected": False,
    "formatted_service": "Twitter",
    "service_type": "profile",
    "utm_tracking": "enabled",
    "verb": "tweet",
    "cover_photo": "https://example.com/c.jpg",
    "disabled_features": [],
    "shortener": {"domain": "buff.ly"},
}
JSON_CT = "application/json;charset=UTF-8"


@pytest.fixture
def rsps():
    """A responses mock that fails the test on unexpected or unused requests."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def seen() -> list[tuple[str, int | None, float]]:
    """Collects on_call reports."""
    return []


@pytest.fixture
def client(seen):
    """A client on the default base URL that records its calls."""
    with BufferClient(TOKEN, on_call=lambda *args: seen.append(args)) as c:
        yield c


def assert_request(call: Any, method: str, url: str) -> None:
    """The request went to exactly `url` with `method`, the token only in the header."""
    req = call.request
    assert req.method == method
    assert req.url == url
    assert urlsplit(req.url).query == ""
    assert TOKEN not in req.url
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("buffer-bridge/")
    assert req.req_kwargs["timeout"] == DEFAULT_TIMEOUT
    if req.body:
        body = req.body if isinstance(req.body, str) else req.body.decode()
        assert TOKEN not in body
        assert "access_token" not in body


# ---------------------------------------------------------------- the four endpoints


def test_profiles(rsps, client, seen):
    """GET profiles.json parses every profile and keeps unknown fields in extra."""
    rsps.get(BASE + "profiles.json", json=[{**PROFILE, **REAL_EXTRAS}, {"id": "a" * 24}])
    profiles = client.profiles()
    assert_request(rsps.calls[0], "GET", BASE + "profiles.json")
    assert len(profiles) == 2
    p = profiles[0]
    assert p.id == PID and p.service == "twitter" and p.service_username == "skinnyoteam"
    assert p.formatted_username == "@skinnyoteam" and p.timezone == "Europe/London"
    assert p.schedules == (
        Schedule(("mon", "tue", "wed", "thu", "fri"), ("12:00", "17:00", "18:00")),
    )
    assert p.created_at == 1320703028 and p.default is True
    assert p.team_members == ("4eb867340acb04e670000001",)
    assert p.statistics == {"followers": 246}
    assert dict(p.extra) == REAL_EXTRAS
    bare = profiles[1]
    assert bare.schedules == () and bare.created_at is None and bare.default is False
    assert bare.extra == {} and bare.statistics == {}
    assert seen == [("profiles", 200, pytest.approx(seen[0][2]))]
    assert client.calls == 1


def test_profile(rsps, client, seen):
    """GET profiles/{id}.json."""
    rsps.get(BASE + f"profiles/{PID}.json", json=PROFILE)
    assert client.profile(PID) == Profile.from_json(PROFILE)
    assert_request(rsps.calls[0], "GET", BASE + f"profiles/{PID}.json")
    assert [s[:2] for s in seen] == [("profile", 200)]


def test_schedules(rsps, client, seen):
    """GET profiles/{id}/schedules.json returns every entry."""
    rsps.get(
        BASE + f"profiles/{PID}/schedules.json",
        json=[
            {"days": ["mon", "tue"], "times": ["09:00"]},
            {"days": ["sat", "sun"], "times": [], "future_field": 1},
        ],
    )
    assert client.schedules(PID) == [
        Schedule(("mon", "tue"), ("09:00",)),
        Schedule(("sat", "sun"), ()),
    ]
    assert_request(rsps.calls[0], "GET", BASE + f"profiles/{PID}/schedules.json")
    assert [s[:2] for s in seen] == [("schedules", 200)]


def test_update_schedules_multi_entry_form_body(rsps, client, seen):
    """Every entry is indexed, form-encoded, in order; mappings and Schedules both accepted."""
    url = BASE + f"profiles/{PID}/schedules/update.json"
    rsps.post(url, json={"success": True, "message": "Schedule saved successfully"})
    result = client.update_schedules(
        PID,
        [
            Schedule(("mon", "tue", "thu"), ("12:45", "15:30", "17:43")),
            {"days": ["sat", "sun"], "times": ["10:00"], "ignored": True},
        ],
    )
    assert result is None
    call = rsps.calls[0]
    assert_request(call, "POST", url)
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(call.request.body, keep_blank_values=True, strict_parsing=True) == [
        ("schedules[0][days][]", "mon"),
        ("schedules[0][days][]", "tue"),
        ("schedules[0][days][]", "thu"),
        ("schedules[0][times][]", "12:45"),
        ("schedules[0][times][]", "15:30"),
        ("schedules[0][times][]", "17:43"),
        ("schedules[1][days][]", "sat"),
        ("schedules[1][days][]", "sun"),
        ("schedules[1][times][]", "10:00"),
    ]
    # Not JSON, and the brackets and colons are URL-encoded by requests.
    assert "%5B" in call.request.body and "%3A" in call.request.body
    assert [s[:2] for s in seen] == [("update_schedules", 200)]


def test_update_schedules_empty_times_entry_still_sent(rsps, client):
    """An entry with no times keeps its key, as `schedules[i][times]=`."""
    url = BASE + f"profiles/{PID}/schedules/update.json"
    rsps.post(url, json={"success": True})
    client.update_schedules(PID, [Schedule(("mon",), ("09:00",)), Schedule(("sat", "sun"), ())])
    assert parse_qsl(rsps.calls[0].request.body, keep_blank_values=True) == [
        ("schedules[0][days][]", "mon"),
        ("schedules[0][times][]", "09:00"),
        ("schedules[1][days][]", "sat"),
        ("schedules[1][days][]", "sun"),
        ("schedules[1][times]", ""),
    ]


def test_encode_schedules_is_a_list_of_pairs():
    """The encoder hands requests a list of (key, value) tuples."""
    assert encode_schedules([{"days": ["fri"], "times": ["23:59", "00:00"]}]) == [
        ("schedules[0][days][]", "fri"),
        ("schedules[0][times][]", "23:59"),
        ("schedules[0][times][]", "00:00"),
    ]


@pytest.mark.parametrize(
    "schedules, field, token",
    [
        ([{"days": ["mon"], "times": ["9:00"]}], "schedules[0].times", "9:00"),
        ([{"days": ["mon"], "times": ["24:00"]}], "schedules[0].times", "24:00"),
        ([{"days": ["mon"], "times": ["12:60"]}], "schedules[0].times", "12:60"),
        ([{"days": ["mon"], "times": ["9am"]}], "schedules[0].times", "9am"),
        ([Schedule(("mon",), ("09:00",)), {"days": ["funday"]}], "schedules[1].days", "funday"),
        ([{"days": ["Monday"], "times": []}], "schedules[0].days", "Monday"),
        ([{"days": "mon", "times": []}], "schedules[0].days", None),
        ([{"days": ["mon"], "times": "09:00"}], "schedules[0].times", None),
        ([{"days": [], "times": ["09:00"]}], "schedules[0].days", None),
        ([{"days": ["mon"], "times": [900]}], "schedules[0].times", None),
        (["mon"], "schedules[0]", None),
        ([], "schedules", None),
    ],
)
def test_update_schedules_validates_before_sending(rsps, client, schedules, field, token):
    """Bad days, times or shapes raise InvalidSchedule and nothing is sent."""
    with pytest.raises(errors.InvalidSchedule) as info:
        client.update_schedules(PID, schedules)
    assert info.value.field == field
    assert info.value.token == token
    assert len(rsps.calls) == 0 and client.calls == 0


@pytest.mark.parametrize(
    "base_url", ["https://api.bufferapp.com/1/", "https://api.bufferapp.com/1"]
)
def test_base_url_with_or_without_trailing_slash(rsps, base_url):
    """Both spellings of the base URL reach the same endpoints."""
    rsps.get(BASE + f"profiles/{PID}/schedules.json", json=[])
    rsps.post(BASE + f"profiles/{PID}/schedules/update.json", json={"success": True})
    with BufferClient(TOKEN, base_url=base_url) as c:
        c.schedules(PID)
        c.update_schedules(PID, [Schedule(("mon",), ("09:00",))])
    assert [call.request.url for call in rsps.calls] == [
        BASE + f"profiles/{PID}/schedules.json",
        BASE + f"profiles/{PID}/schedules/update.json",
    ]


def test_sandbox_base_url_with_path(rsps):
    """A local sandbox URL with a path prefix is joined, not replaced."""
    rsps.get("http://127.0.0.1:8099/buffer/1/profiles.json", json=[])
    with BufferClient(TOKEN, base_url="http://127.0.0.1:8099/buffer/1") as c:
        assert c.profiles() == []


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "4eb854340acb04e87000001",  # 23
        "4eb854340acb04e8700000100",  # 25
        "4eb854340acb04e87000001g",
        "../../oauth2/token.json?x",
        "4eb854340acb04e870000010\n",
        "twitter:skinnyoteam",
    ],
)
@pytest.mark.parametrize(
    "method",
    [
        lambda c, pid: c.profile(pid),
        lambda c, pid: c.schedules(pid),
        lambda c, pid: c.update_schedules(pid, [Schedule(("mon",), ("09:00",))]),
    ],
)
def test_invalid_profile_id_raises_before_any_request(rsps, client, seen, bad, method):
    """An id that is not 24 hex characters never reaches a URL."""
    with pytest.raises(errors.InvalidInput) as info:
        method(client, bad)
    assert type(info.value) is errors.InvalidInput
    assert info.value.field == "profile"
    assert info.value.message == (
        f"invalid Buffer profile id '{bad}': expected 24 hexadecimal characters"
    )
    assert len(rsps.calls) == 0 and client.calls == 0 and seen == []


def test_profile_id_case_accepted_and_sent_as_given(rsps, client):
    """Upper-case hex is accepted and not rewritten."""
    upper = PID.upper()
    rsps.get(BASE + f"profiles/{upper}.json", json={**PROFILE, "id": upper})
    assert client.profile(upper).id == upper
    assert is_profile_id(PID) and is_profile_id(upper)
    assert not is_profile_id(None) and not is_profile_id(PID + "\n")


def test_timeout_is_an_explicit_tuple_on_every_request():
    """A fake session sees the (connect, read) timeout, our auth, and no redirects."""

    class FakeSession:
        def __init__(self) -> None:
            self.kwargs: list[dict[str, Any]] = []

        def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
            self.kwargs.append({"method": method, "url": url, **kwargs})
            response = requests.Response()
            response.status_code = 200
            response._content = b"[]"
            return response

        def close(self) -> None:
            raise AssertionError("a given session belongs to the caller")

    fake = FakeSession()
    with BufferClient(TOKEN, timeout=(2, 7.5), session=fake) as c:  # type: ignore[arg-type]
        c.profiles()
        c.schedules(PID)
    assert [k["timeout"] for k in fake.kwargs] == [(2.0, 7.5), (2.0, 7.5)]
    assert all(k["allow_redirects"] is False for k in fake.kwargs)
    assert all(TOKEN not in k["url"] for k in fake.kwargs)
    assert c.calls == 2


@pytest.mark.parametrize("timeout", [None, (5.0, None), (0, 30), 30, (1, 2, 3)])
def test_timeout_must_be_a_positive_pair(timeout):
    """There is no way to configure an unbounded wait."""
    with pytest.raises(errors.ConfigError):
        BufferClient(TOKEN, timeout=timeout)


@pytest.mark.parametrize("token", ["", "   ", "abc def", "abc\r\nX-Evil: 1"])
def test_bad_tokens_refused_without_echoing_them(token):
    """Empty or header-breaking tokens are a configuration error that does not show the token."""
    with pytest.raises(errors.ConfigError) as info:
        BufferClient(token)
    if token.strip():
        assert token not in str(info.value)


def test_session_pools_and_never_retries():
    """The client's own session mounts an adapter with zero retries."""
    c = BufferClient(TOKEN)
    for url in (DEFAULT_BASE_URL, "http://localhost:8099/"):
        adapter = c.session.get_adapter(url)
        assert isinstance(adapter, HTTPAdapter)
        assert adapter.max_retries.total == 0
    assert TOKEN not in repr(c)
    assert "Authorization" not in c.session.headers
    c.close()


def test_no_retry_after_failure(rsps, client, seen):
    """A 503 is raised at once: one request, one on_call."""
    rsps.get(BASE + "profiles.json", status=503, body="")
    with pytest.raises(errors.BufferUnavailable):
        client.profiles()
    assert len(rsps.calls) == 1 and client.calls == 1
    assert [s[:2] for s in seen] == [("profiles", 503)]


def test_on_call_reports_none_status_on_connection_error(rsps, client, seen):
    """No answer is reported as status None, and still counted."""
    rsps.get(BASE + "profiles.json", body=requests.ConnectionError("refused"))
    with pytest.raises(errors.BufferUnavailable):
        client.profiles()
    assert [s[:2] for s in seen] == [("profiles", None)]
    assert client.calls == 1 and seen[0][2] >= 0


def test_broken_on_call_hook_does_not_fail_the_call(rsps):
    """A metrics hook that raises is logged, not propagated."""

    def boom(*args: Any) -> None:
        raise RuntimeError("metrics down")

    rsps.get(BASE + "profiles.json", json=[])
    with BufferClient(TOKEN, on_call=boom) as c:
        assert c.profiles() == []


def test_redirect_not_followed(rsps, client):
    """A redirect is an error naming the configuration, not followed."""
    rsps.get(BASE + "profiles.json", status=301, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(errors.BufferAPIError) as info:
        client.profiles()
    assert type(info.value) is errors.BufferAPIError and info.value.status == 301
    assert not info.value.retryable and len(rsps.calls) == 1


# ---------------------------------------------------------------- error mapping

_WWW = "OAuth realm='Service', error='invalid_request', error_description='No access token'"


def _json(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """A JSON answer as Buffer sends it."""
    return {"status": status, "body": json.dumps(body), "content_type": JSON_CT}


def _code(status: int, code: int, message: str) -> dict[str, Any]:
    """The `{"success": false, "message", "code"}` error shape."""
    return _json(status, {"success": False, "message": message, "code": code})


ERROR_TABLE = [
    # id, mock kwargs, class, status, code, message, retryable
    ("400-1003", _code(400, 1003, "Parameter not recognized."), errors.BufferBadRequest, 400, 1003,
     "Parameter not recognized.", False),
    ("400-1004", _code(400, 1004, "Required parameter missing."), errors.BufferBadRequest, 400,
     1004, "Required parameter missing.", False),
    ("400-1006", _code(400, 1006, "Parameter value is out of bounds."), errors.BufferBadRequest,
     400, 1006, "Parameter value is out of bounds.", False),
    ("400-1012", _json(400, {"error": "Profile did not save successfully.", "code": 1012}),
     errors.BufferBadRequest, 400, 1012, "Profile did not save successfully.", False),
    ("401-json", _json(401, {"error": "The provided access token is invalid", "code": 401}),
     errors.BufferUnauthorized, 401, 401, "The provided access token is invalid", False),
    ("401-empty-html", {"status": 401, "body": "", "content_type": "text/html",
                        "headers": {"WWW-Authenticate": _WWW}},
     errors.BufferUnauthorized, 401, None, "access token missing or rejected by Buffer", False),
    ("403-403", _json(403, {"error": "Permission denied.", "code": 403}), errors.BufferForbidden,
     403, 403, "Permission denied.", False),
    ("403-1001", _json(403, {"error": "Access token required.", "code": 1001}),
     errors.BufferForbidden, 403, 1001, "Access token required.", False),
    ("403-1002", _json(403, {"error": "Not within application scope.", "code": 1002}),
     errors.BufferForbidden, 403, 1002, "Not within application scope.", False),
    ("403-1011", _json(403, {"error": "No authorization to access profile.", "code": 1011}),
     errors.BufferForbidden, 403, 1011, "No authorization to access profile.", False),
    ("403-1013", _code(403, 1013, "Profile schedule limit reached."), errors.BufferForbidden, 403,
     1013, "Profile schedule limit reached.", False),
    ("404-404", _json(404, {"error": "Endpoint not found.", "code": 404}), errors.BufferNotFound,
     404, 404, "Endpoint not found.", False),
    ("404-1010", _json(404, {"error": "Profile could not be found.", "code": 1010}),
     errors.BufferNotFound, 404, 1010, "Profile could not be found.", False),
    ("400-1010", _json(400, {"error": "Profile could not be found.", "code": 1010}),
     errors.BufferNotFound, 400, 1010, "Profile could not be found.", False),
    ("403-1010", _code(403, 1010, "Profile could not be found."), errors.BufferNotFound, 403, 1010,
     "Profile could not be found.", False),
    ("405", _json(405, {"error": "Method not allowed.", "code": 405}), errors.BufferAPIError, 405,
     405, "Method not allowed.", False),
    ("406-1005", _json(406, {"error": "Unsupported response format.", "code": 1005}),
     errors.BufferAPIError, 406, 1005, "Unsupported response format.", False),
    ("429", _json(429, {"error": "Too many requests.", "code": 429}), errors.BufferRateLimited, 429,
     429, "Too many requests.", True),
    ("429-empty", {"status": 429, "body": ""}, errors.BufferRateLimited, 429, None,
     "too many requests: over Buffer's rate limit", True),
    ("500-1000", _json(500, {"error": "An unknown error occurred.", "code": 1000}),
     errors.BufferUnavailable, 500, 1000, "An unknown error occurred.", True),
    ("502-html", {"status": 502, "body": "<html>Bad Gateway</html>", "content_type": "text/html"},
     errors.BufferUnavailable, 502, None, "Buffer is unavailable", True),
    ("503", {"status": 503, "body": ""}, errors.BufferUnavailable, 503, None,
     "Buffer is unavailable", True),
    ("504", {"status": 504, "body": "Gateway Timeout", "content_type": "text/plain"},
     errors.BufferUnavailable, 504, None, "Buffer is unavailable", True),
    ("599", {"status": 599, "body": ""}, errors.BufferUnavailable, 599, None,
     "Buffer is unavailable", True),
    ("418", {"status": 418, "body": ""}, errors.BufferAPIError, 418, None,
     "Buffer refused the request", False),
    ("200-success-false-1011", _code(200, 1011, "No authorization to access profile."),
     errors.BufferForbidden, 200, 1011, "No authorization to access profile.", False),
    ("200-success-false-1012", _code(200, 1012, "Profile did not save successfully."),
     errors.BufferBadRequest, 200, 1012, "Profile did not save successfully.", False),
    ("200-success-false-unknown-code", _code(200, 4242, "Something odd."), errors.BufferAPIError,
     200, 4242, "Something odd.", False),
    ("200-success-false-no-message", _json(200, {"success": False}), errors.BufferAPIError, 200,
     None, "Buffer reported a failure", False),
    ("200-error-body", _json(200, {"error": "Profile could not be found.", "code": "1010"}),
     errors.BufferNotFound, 200, 1010, "Profile could not be found.", False),
    ("200-not-json", {"status": 200, "body": "<html>maintenance</html>",
                      "content_type": "text/html"},
     errors.BufferUnavailable, 200, None, None, True),
    ("200-empty", {"status": 200, "body": ""}, errors.BufferUnavailable, 200, None, None, True),
    ("timeout-read", {"body": requests.ReadTimeout("read timed out")}, errors.BufferUnavailable,
     None, None, None, True),
    ("timeout-connect", {"body": requests.ConnectTimeout("connect timed out")},
     errors.BufferUnavailable, None, None, None, True),
    ("connection-refused", {"body": requests.ConnectionError("Connection refused")},
     errors.BufferUnavailable, None, None, None, True),
    ("connection-dropped", {"body": requests.exceptions.ChunkedEncodingError("reset")},
     errors.BufferUnavailable, None, None, None, True),
]  # fmt: skip


@pytest.mark.parametrize(
    "mock, cls, status, code, message, retryable",
    [case[1:] for case in ERROR_TABLE],
    ids=[case[0] for case in ERROR_TABLE],
)
@pytest.mark.parametrize("endpoint", ["profiles", "profile", "schedules", "update_schedules"])
def test_error_mapping(rsps, client, seen, endpoint, mock, cls, status, code, message, retryable):
    """Every status and code of behaviour.md maps to the right class, status, code and message."""
    method, path, call = {
        "profiles": ("GET", "profiles.json", lambda: client.profiles()),
        "profile": ("GET", f"profiles/{PID}.json", lambda: client.profile(PID)),
        "schedules": ("GET", f"profiles/{PID}/schedules.json", lambda: client.schedules(PID)),
        "update_schedules": (
            "POST",
            f"profiles/{PID}/schedules/update.json",
            lambda: client.update_schedules(PID, [Schedule(("mon",), ("09:00",))]),
        ),
    }[endpoint]
    rsps.add(method, BASE + path, **mock)
    with pytest.raises(errors.BufferAPIError) as info:
        call()
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.code == code
    if message is not None:
        assert err.message == message
    elif status == 200:
        assert err.message.startswith("unexpected response from Buffer")
    assert err.retryable is retryable
    if status is None:
        assert err.response is None
    else:
        assert isinstance(err.response, requests.Response)
        assert err.response.status_code == status
    assert TOKEN not in err.message and TOKEN not in str(err)
    assert len(rsps.calls) == 1 and client.calls == 1
    assert [s[:2] for s in seen] == [(endpoint, status)]


def test_error_from_response_is_usable_alone():
    """The mapping function works on any requests.Response."""
    response = requests.Response()
    response.status_code = 403
    response._content = b'{"error": "Profile schedule limit reached.", "code": 1013}'
    err = error_from_response(response)
    assert isinstance(err, errors.BufferForbidden) and err.code == 1013 and err.response is response
    assert str(err) == "Profile schedule limit reached. (HTTP 403, code 1013)"


def test_token_echoed_by_buffer_is_scrubbed(rsps, client):
    """Even if Buffer echoed the token back, the error message does not carry it."""
    rsps.get(
        BASE + "profiles.json",
        status=401,
        json={"error": f"The provided access token {TOKEN} is invalid", "code": 401},
    )
    with pytest.raises(errors.BufferUnauthorized) as info:
        client.profiles()
    assert TOKEN not in str(info.value)
    assert "***" in info.value.message


# ---------------------------------------------------------------- unexpected shapes


@pytest.mark.parametrize(
    "endpoint, path, body",
    [
        ("profiles", "profiles.json", {"profiles": []}),
        ("profiles", "profiles.json", [{"service": "twitter"}]),
        ("profiles", "profiles.json", ["not-an-object"]),
        ("profile", f"profiles/{PID}.json", [PROFILE]),
        ("profile", f"profiles/{PID}.json", {**PROFILE, "schedules": "mon"}),
        ("profile", f"profiles/{PID}.json", {**PROFILE, "id": None}),
        ("schedules", f"profiles/{PID}/schedules.json", {"days": ["mon"]}),
        ("schedules", f"profiles/{PID}/schedules.json", [{"days": "mon", "times": []}]),
    ],
)
def test_unexpected_json_shape(rsps, client, endpoint, path, body):
    """A 200 JSON answer of the wrong shape is a non-retryable BufferAPIError with the response."""
    rsps.get(BASE + path, json=body)
    args = () if endpoint == "profiles" else (PID,)
    with pytest.raises(errors.BufferAPIError) as info:
        getattr(client, endpoint)(*args)
    err = info.value
    assert type(err) is errors.BufferAPIError
    assert err.message.startswith("unexpected response from Buffer")
    assert err.status == 200 and err.response is not None and not err.retryable


def test_update_with_non_object_json_is_unexpected(rsps, client):
    """`[]` or `true` in answer to an update is not a success."""
    rsps.post(BASE + f"profiles/{PID}/schedules/update.json", json=True)
    with pytest.raises(errors.BufferAPIError, match="unexpected response"):
        client.update_schedules(PID, [Schedule(("mon",), ("09:00",))])


# ---------------------------------------------------------------- models


def test_profile_round_trips_with_extra():
    """to_json gives back what Buffer sent, extra fields included."""
    raw = {**PROFILE, **REAL_EXTRAS}
    profile = Profile.from_json(raw)
    assert profile.to_json() == raw
    assert Profile.from_json(profile.to_json()) == profile


def test_profile_missing_id_is_unexpected_response():
    """A profile without an id cannot be used."""
    with pytest.raises(errors.BufferAPIError, match="unexpected response"):
        Profile.from_json({k: v for k, v in PROFILE.items() if k != "id"})


def test_profile_lenient_types():
    """Numeric service ids and string timestamps are coerced, not refused."""
    p = Profile.from_json({"id": PID, "service_id": 164724445, "created_at": "1320703028"})
    assert p.service_id == "164724445" and p.created_at == 1320703028
    assert p.service == "" and p.timezone == "" and p.team_members == ()


def test_schedule_json_and_hashable():
    """Schedules convert both ways, ignore unknown keys, and are hashable values."""
    s = Schedule.from_json({"days": ["mon"], "times": ["09:00"], "extra": 1})
    assert s == Schedule(("mon",), ("09:00",))
    assert s.to_json() == {"days": ["mon"], "times": ["09:00"]}
    assert Schedule.from_json({}) == Schedule((), ())
    assert hash(Schedule(["mon"], ["09:00"])) == hash(s)  # type: ignore[arg-type]


def test_client_closes_its_own_session():
    """close() and the context manager close a session the client created."""
    closed: list[bool] = []
    with BufferClient(TOKEN) as c:
        c.session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    assert closed == [True]


def test_form_body_is_not_json(rsps, client):
    """Buffer's PHP would not read a JSON body; the match is on the urlencoded form."""
    rsps.post(
        BASE + f"profiles/{PID}/schedules/update.json",
        json={"success": True},
        match=[
            matchers.urlencoded_params_matcher(
                {"schedules[0][days][]": "wed", "schedules[0][times][]": "08:15"}
            ),
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
            matchers.query_string_matcher(""),
        ],
    )
    client.update_schedules(PID, [Schedule(("wed",), ("08:15",))])
