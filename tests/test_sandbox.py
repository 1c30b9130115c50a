"""The Buffer sandbox, driven over a real socket with plain requests."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bridge.config import RateLimit
from bridge.sandbox import RunningSandbox, Sandbox, SandboxConfig, parse_tokens, start
from bridge.sandbox.faults import as_rate_limit
from bridge.sandbox.forms import php_parse
from bridge.sandbox.seed import seed_account

pytestmark = pytest.mark.integration

TOKEN = "tok-alpha-5f1c0e9b"
OTHER_TOKEN = "tok-beta-77d2a410"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TIMEOUT = (2, 5)
PROFILE_FIELDS = (
    "_id",
    "avatar",
    "avatar_https",
    "counts",
    "default",
    "disconnected",
    "formatted_service",
    "formatted_username",
    "service",
    "service_id",
    "service_type",
    "service_username",
    "statistics",
    "team_members",
    "timezone",
    "user_id",
    "utm_tracking",
    "verb",
    "cover_photo",
    "disabled_features",
    "shortener",
    "schedules",
    "created_at",
    "id",
)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    config = SandboxConfig(seed=7, profiles=5, tokens={TOKEN: "default", OTHER_TOKEN: "other"})
    with start(config) as server:
        yield server


@pytest.fixture
def sb(running: RunningSandbox) -> RunningSandbox:
    """The shared sandbox, reset to seed state with no faults and a 60/60s limit."""
    running.sandbox.set_faults(
        error_rate=0,
        rate_429=0,
        slow_rate=0,
        drop_rate=0,
        latency=0,
        slow_seconds=35,
        rate_limit=(60, 60.0),
    )
    running.sandbox.reset()
    return running


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(sb: RunningSandbox, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", auth())
    return requests.get(sb.url + path, timeout=TIMEOUT, **kwargs)


def update(
    sb: RunningSandbox, profile_id: str, body: str, token: str | None = TOKEN
) -> requests.Response:
    headers = {**FORM, **(auth(token) if token else {})}
    url = f"{sb.url}profiles/{profile_id}/schedules/update.json"
    return requests.post(url, data=body, headers=headers, timeout=TIMEOUT)


def profile_of(sb: RunningSandbox, service: str, account: str = "default") -> dict[str, Any]:
    return next(p for p in sb.sandbox.profiles(account) if p["service"] == service)


def first_id(sb: RunningSandbox, account: str = "default") -> str:
    return str(sb.sandbox.profiles(account)[0]["id"])


# --- auth ---------------------------------------------------------------------------


def test_token_in_header_query_or_form(sb: RunningSandbox) -> None:
    assert get(sb, "profiles.json").status_code == 200
    r = get(sb, "profiles.json", headers={}, params={"access_token": TOKEN})
    assert r.status_code == 200
    body = f"access_token={TOKEN}&schedules[0][days][]=mon&schedules[0][times][]=09:00"
    assert update(sb, first_id(sb), body, token=None).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_no_token_is_an_empty_html_401(sb: RunningSandbox, headers: dict[str, str]) -> None:
    r = get(sb, "profiles.json", headers=headers)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "text/html"
    assert r.content == b""
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith(
        "OAuth realm='Service', error='invalid_request', error_description="
    )


def test_unknown_token_is_a_json_401(sb: RunningSandbox) -> None:
    r = get(sb, "profiles.json", headers=auth("nope"))
    assert r.status_code == 401
    assert r.json() == {"error": "The provided access token is invalid", "code": 401}


# --- format and routing -------------------------------------------------------------


def test_json_is_php_style(sb: RunningSandbox) -> None:
    r = get(sb, "profiles.json")
    assert r.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "http:\\/\\/" in r.text and "http://" not in r.text
    assert get(sb, "profiles.json", params={"pretty": "true"}).json() == r.json()


def test_profiles_are_realistic(sb: RunningSandbox) -> None:
    profiles = get(sb, "profiles.json").json()
    assert len(profiles) == 5
    first = profiles[0]
    assert (first["service"], first["service_username"]) == ("twitter", "skinnyoteam")
    for profile in profiles:
        assert set(PROFILE_FIELDS) <= set(profile)
        assert re.fullmatch(r"[0-9a-f]{24}", profile["id"]) and profile["_id"] == profile["id"]
        assert isinstance(profile["created_at"], int)
        assert set(profile["counts"]) == {"pending", "sent", "daily_suggestions", "drafts"}
        assert "domain" in profile["shortener"]
        assert "/" in profile["timezone"]
        for entry in profile["schedules"]:
            assert set(entry) == {"days", "times"}
    assert len({p["service"] for p in profiles}) == 5
    assert len({p["service_username"] for p in profiles}) == 5
    one = get(sb, f"profiles/{first['id']}.json").json()
    assert one == first
    assert get(sb, f"profiles/{first['id']}/schedules.json").json() == first["schedules"]


def test_other_suffix_is_406(sb: RunningSandbox) -> None:
    r = get(sb, "profiles.xml")
    assert r.status_code == 406
    assert r.json()["code"] == 1005 and r.json()["error"]


@pytest.mark.parametrize("path", ["nothing.json", "profiles", "profiles/x/posts.json"])
def test_unknown_endpoint_is_404(sb: RunningSandbox, path: str) -> None:
    r = get(sb, path)
    assert r.status_code == 404
    assert r.json()["code"] == 404


def test_wrong_method_is_405(sb: RunningSandbox) -> None:
    pid = first_id(sb)
    assert get(sb, f"profiles/{pid}/schedules/update.json").status_code == 405
    r = requests.post(sb.url + "profiles.json", headers=auth(), timeout=TIMEOUT)
    assert r.status_code == 405


def test_unknown_profile_is_404_1010(sb: RunningSandbox) -> None:
    r = get(sb, "profiles/0123456789abcdef01234567.json")
    assert r.status_code == 404
    assert r.json() == {"success": False, "message": "Profile could not be found", "code": 1010}


def test_another_accounts_profile_is_403_1011(sb: RunningSandbox) -> None:
    theirs = first_id(sb, "other")
    assert get(sb, f"profiles/{theirs}/schedules.json").status_code == 403
    r = update(sb, theirs, "schedules[0][days][]=mon&schedules[0][times][]=09:00")
    assert r.status_code == 403
    assert r.json()["code"] == 1011 and r.json()["success"] is False
    assert get(sb, f"profiles/{theirs}.json", headers=auth(OTHER_TOKEN)).status_code == 200


# --- schedules/update -----------------------------------------------------------------


def test_json_body_is_not_read(sb: RunningSandbox) -> None:
    pid = first_id(sb)
    before = sb.sandbox.schedules(pid)
    body = {"schedules": [{"days": ["mon"], "times": ["09:00"]}]}
    url = f"{sb.url}profiles/{pid}/schedules/update.json"
    r = requests.post(url, json=body, headers=auth(), timeout=TIMEOUT)
    assert r.status_code == 400
    assert r.json() == {
        "success": False,
        "message": "Missing required parameter schedules",
        "code": 1004,
    }
    assert sb.sandbox.schedules(pid) == before


def test_update_accepts_both_array_forms_and_reads_back(sb: RunningSandbox) -> None:
    pid = first_id(sb)
    body = (
        "schedules[0][days][]=mon&schedules[0][days][5]=tue&schedules[0][days][]=wed"
        "&schedules[0][times][0]=12:45&schedules[0][times][1]=15:30"
        "&schedules[1][days][0]=sat&schedules[1][days][1]=sun&schedules[1][times]="
    )
    r = update(sb, pid, body)
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": "Schedules updated"}
    expected = [
        {"days": ["mon", "tue", "wed"], "times": ["12:45", "15:30"]},
        {"days": ["sat", "sun"], "times": []},
    ]
    assert get(sb, f"profiles/{pid}/schedules.json").json() == expected
    assert get(sb, f"profiles/{pid}.json").json()["schedules"] == expected
    # Entries are kept as sent: no sorting, no merging.
    r = update(
        sb, pid, "schedules[0][days][]=fri&schedules[0][times][]=18:00&schedules[0][times][]=07:00"
    )
    assert r.status_code == 200
    assert sb.sandbox.schedules(pid) == [{"days": ["fri"], "times": ["18:00", "07:00"]}]


@pytest.mark.parametrize(
    "body",
    [
        "schedules[0][days][]=funday&schedules[0][times][]=09:00",
        "schedules[0][days][]=mon&schedules[0][times][]=25:00",
        "schedules[0][days][]=mon&schedules[0][times][]=9am",
        "schedules=mon",
    ],
)
def test_invalid_values_are_400_1006(sb: RunningSandbox, body: str) -> None:
    pid = first_id(sb)
    before = sb.sandbox.schedules(pid)
    r = update(sb, pid, body)
    assert r.status_code == 400
    assert r.json()["code"] == 1006 and r.json()["success"] is False
    assert sb.sandbox.schedules(pid) == before


def test_schedule_limit_is_403_1013(sb: RunningSandbox) -> None:
    pid = profile_of(sb, "facebook")["id"]
    times = [f"{h:02d}:{m:02d}" for h in range(7, 20) for m in (0, 30)][:26]
    ok = "&".join(f"schedules[0][times][]={t}" for t in times[:25])
    assert update(sb, pid, "schedules[0][days][]=mon&" + ok).status_code == 200
    # Two entries sharing Monday: 25 + 1 times that day.
    over = ok + "&schedules[0][days][]=mon&schedules[1][days][]=mon&schedules[1][times][]=23:00"
    r = update(sb, pid, over)
    assert r.status_code == 403
    assert r.json()["code"] == 1013


def test_php_parse_nests_like_php() -> None:
    pairs = [("a[]", "1"), ("a[7]", "2"), ("a[]", "3"), ("b[x][]", "y"), ("c", "")]
    assert php_parse(pairs) == {"a": {0: "1", 7: "2", 8: "3"}, "b": {"x": {0: "y"}}, "c": ""}


# --- rate limit and faults ---------------------------------------------------------------


def test_rate_limit_per_token_sliding_window(sb: RunningSandbox) -> None:
    sb.sandbox.set_faults(rate_limit=(5, 1.0))
    assert get(sb, "nothing.json").status_code == 404  # failures after auth count too
    for _ in range(4):
        assert get(sb, "profiles.json").status_code == 200
    r = get(sb, "profiles.json")
    assert r.status_code == 429
    assert r.json() == {"error": "Too many requests", "code": 429}
    assert "Retry-After" not in r.headers
    assert get(sb, "profiles.json", headers=auth(OTHER_TOKEN)).status_code == 200
    time.sleep(1.05)
    assert get(sb, "profiles.json").status_code == 200


def test_injected_500(sb: RunningSandbox) -> None:
    sb.sandbox.set_faults(error_rate=1)
    r = get(sb, "profiles.json")
    assert r.status_code == 500
    assert r.json() == {"error": "An unknown error occurred", "code": 1000}
    assert sb.sandbox.recorded()[-1].fault == "error"


def test_injected_429_ignores_the_limiter(sb: RunningSandbox) -> None:
    sb.sandbox.set_faults(rate_429=1)
    r = get(sb, "profiles.json")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.json()["code"] == 429


def test_dropped_connection(sb: RunningSandbox) -> None:
    sb.sandbox.set_faults(drop_rate=1)
    pid = first_id(sb)
    with pytest.raises(requests.ConnectionError):
        update(sb, pid, "schedules[0][days][]=sun&schedules[0][times][]=10:00")
    # The answer was lost, the write was not.
    assert sb.sandbox.schedules(pid) == [{"days": ["sun"], "times": ["10:00"]}]
    record = sb.sandbox.recorded()[-1]
    assert (record.fault, record.status) == ("drop", None)


def test_slow_answer_times_out_the_client(sb: RunningSandbox) -> None:
    sb.sandbox.set_faults(slow_rate=1, slow_seconds=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sb.url + "profiles.json", headers=auth(), timeout=(1, 0.2))
    r = requests.get(sb.url + "profiles.json", headers=auth(), timeout=(1, 3))
    assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.5


def test_latency_and_faults_spare_control_endpoints(sb: RunningSandbox) -> None:
    sb.sandbox.set_faults(latency=0.2, error_rate=1)
    began = time.monotonic()
    assert get(sb, "profiles.json").status_code == 500
    assert time.monotonic() - began >= 0.2
    assert requests.get(sb.root_url + "__sandbox/faults", timeout=TIMEOUT).status_code == 200


def test_slow_sleep_is_interrupted_by_stop() -> None:
    server = start(SandboxConfig(slow_rate=1, slow_seconds=30))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(server.url + "profiles.json", headers=auth("sandbox-token"), timeout=20)
        except requests.RequestException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    began = time.monotonic()
    server.stop()
    caller.join(5)
    assert not caller.is_alive()
    assert time.monotonic() - began < 3


# --- determinism -----------------------------------------------------------------------


def test_same_seed_same_profiles_and_faults() -> None:
    def run(seed: int) -> tuple[list[dict[str, Any]], list[int]]:
        config = SandboxConfig(seed=seed, profiles=8, error_rate=0.3, rate_429=0.2)
        with start(config) as server:
            statuses = [
                get(server, "profiles.json", headers=auth("sandbox-token")).status_code
                for _ in range(20)
            ]
            return server.sandbox.profiles("default"), statuses

    first, second, other = run(3), run(3), run(4)
    assert first == second
    assert {429, 500, 200} <= set(first[1])
    assert [p["id"] for p in other[0]][1:] != [p["id"] for p in first[0]][1:]
    assert len({p["service_username"] for p in first[0]}) == 8


# --- control endpoints and records ---------------------------------------------------------


def test_control_endpoints(sb: RunningSandbox) -> None:
    root = sb.root_url + "__sandbox/"
    pid = first_id(sb)
    original = sb.sandbox.schedules(pid)
    get(sb, "profiles.json")
    update(sb, pid, "schedules[0][days][]=mon&schedules[0][times][]=09:00")
    records = requests.get(root + "requests", timeout=TIMEOUT).json()
    assert [(r["method"], r["status"], r["token"]) for r in records] == [
        ("GET", 200, "default"),
        ("POST", 200, "default"),
    ]
    assert records[1]["path"] == f"/1/profiles/{pid}/schedules/update.json"
    assert records[1]["form"] == [
        ["schedules[0][days][]", "mon"],
        ["schedules[0][times][]", "09:00"],
    ]
    assert records[0]["form"] is None and records[0]["duration"] >= 0
    assert requests.delete(root + "requests", timeout=TIMEOUT).json() == {"cleared": 2}
    assert requests.get(root + "requests", timeout=TIMEOUT).json() == []

    faults = requests.put(
        root + "faults", json={"error_rate": 0.5, "rate_limit": "5/1s"}, timeout=TIMEOUT
    )
    assert faults.status_code == 200
    assert faults.json()["error_rate"] == 0.5 and faults.json()["rate_limit"] == [5, 1.0]
    assert requests.get(root + "faults", timeout=TIMEOUT).json() == faults.json()
    assert requests.put(root + "faults", json={"error_rate": 2}, timeout=TIMEOUT).status_code == 400
    assert requests.put(root + "faults", json={"bogus": 1}, timeout=TIMEOUT).status_code == 400
    sb.sandbox.set_faults(error_rate=0)

    accounts = requests.get(root + "accounts", timeout=TIMEOUT).json()
    assert [a["name"] for a in accounts] == ["default", "other"]
    assert accounts[0]["profile_ids"][0] == pid

    assert sb.sandbox.schedules(pid) != original
    assert requests.post(root + "reset", timeout=TIMEOUT).json() == {"success": True, "seed": 7}
    assert sb.sandbox.schedules(pid) == original
    assert requests.post(root + "reset", json={"seed": 9}, timeout=TIMEOUT).status_code == 200
    assert sb.sandbox.profiles("other")[0]["id"] != accounts[1]["profile_ids"][0]
    sb.sandbox.reset(seed=7)
    assert requests.get(root + "nope", timeout=TIMEOUT).status_code == 404
    assert requests.get(root + "reset", timeout=TIMEOUT).status_code == 405


def test_records_never_hold_tokens(sb: RunningSandbox) -> None:
    pid = first_id(sb)
    get(sb, "profiles.json")
    get(sb, "profiles.json", headers={}, params={"access_token": OTHER_TOKEN})
    update(sb, pid, f"access_token={TOKEN}&schedules=", token=None)
    get(sb, "profiles.json", headers=auth("bad-token-xyz"))
    text = requests.get(sb.root_url + "__sandbox/requests", timeout=TIMEOUT).text
    for secret in (TOKEN, OTHER_TOKEN, "bad-token-xyz"):
        assert secret not in text
        assert all(secret not in repr(r) for r in sb.sandbox.recorded())
    assert [r.token for r in sb.sandbox.recorded()] == ["default", "other", "default", "invalid"]
    assert sb.sandbox.schedules(pid) == []  # `schedules=` sets an empty list


def test_python_helpers(sb: RunningSandbox) -> None:
    pid = first_id(sb)
    sb.sandbox.set_schedules(pid, [{"days": ["tue"], "times": ["08:00"]}])
    assert get(sb, f"profiles/{pid}/schedules.json").json() == [
        {"days": ["tue"], "times": ["08:00"]}
    ]
    assert sb.sandbox.profiles(TOKEN) == sb.sandbox.profiles("default")
    assert len(sb.sandbox.recorded()) == 1
    with pytest.raises(ValueError):
        sb.sandbox.set_faults(drop_rate=-1)
    assert isinstance(Sandbox(), Sandbox)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("60/60s", RateLimit(60, 60.0)),  # bridge.config's grammar (tests in test_config.py)
        ([5, 1], RateLimit(5, 1.0)),  # the control API's JSON pair
        ((600, 60.0), RateLimit(600, 60.0)),
        (RateLimit(2, 3.0), RateLimit(2, 3.0)),
    ],
)
def test_rate_limit_settings(spec: object, expected: RateLimit) -> None:
    assert as_rate_limit(spec) == expected


@pytest.mark.parametrize("spec", ["5/", "0/60s", [0, 60], [5, 0], [True, 1], [5], 60])
def test_rate_limit_settings_rejects(spec: object) -> None:
    with pytest.raises(ValueError):
        as_rate_limit(spec)


def test_parse_tokens() -> None:
    assert parse_tokens(["a", "b=brand", "c"]) == {"a": "default", "b": "brand", "c": "account3"}


def test_large_accounts_keep_24_character_ids() -> None:
    profiles = seed_account(1, "default", 1500)
    assert all(len(p["id"]) == 24 for p in profiles)
    assert len({p["id"] for p in profiles}) == 1500
