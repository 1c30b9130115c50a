"""A local simulator of Buffer API v1, faithful to what the real API does.

The real API cannot be reached from development machines, so this sandbox is
how the project is developed, tested and benchmarked. It reproduces
``/work/shared/buffer-api/behaviour.md``, including the parts a client would
rather not meet: PHP-style form bodies only (a JSON body is not read), two
error body shapes, ``\\/``-escaped JSON, a per-token rate limit without any
rate-limit headers, and injected faults.

Endpoints, under ``/1/``::

    GET  profiles.json
    GET  profiles/<id>.json
    GET  profiles/<id>/schedules.json
    POST profiles/<id>/schedules/update.json

Order of checks for a ``/1/`` request (the order the sandbox chooses; Buffer
does not document one)::

    fault draw -> fixed latency -> injected 500 / 429 (nothing else happens)
    -> token (401) -> rate limit (429; the request is counted when admitted)
    -> endpoint (404) -> format (406) -> method (405) -> profile (404/403)
    -> parameters (400) -> schedule limit (403) -> answer
    -> slow fault: sleep, then answer / drop fault: cut the connection

So a slow or dropped ``schedules/update`` has taken effect although the client
never sees the answer, as with a real lost response. Faults are drawn from one
``random.Random`` seeded from the config seed, one draw per /1/ request; the
rates are consecutive slices of [0, 1) (drop, slow, error, 429), so their sum
should stay <= 1. Dropping a connection needs Werkzeug's server (it shuts down
``environ["werkzeug.socket"]`` and raises ``ConnectionAbortedError``).

Schedule limit: the number of posting times on any one day, summed over the
entries that include that day, may not exceed the service's limit
(:data:`SCHEDULE_LIMITS`); past it, 403/1013.

Control and observation, sandbox only, no token, never faulted::

    GET    /__sandbox/requests   every /1/ request answered (no tokens in it)
    DELETE /__sandbox/requests   clear that record
    GET    /__sandbox/faults     fault rates, latency and rate limit
    PUT    /__sandbox/faults     change them (JSON object, any subset of keys)
    GET    /__sandbox/accounts   account names, token labels and profiles
    POST   /__sandbox/reset      re-seed profiles (optional JSON {"seed": n})

The same operations exist as methods of :class:`Sandbox`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = [
    "DAYS",
    "SCHEDULE_LIMITS",
    "RequestRecord",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "parse_rate_limit",
    "parse_tokens",
    "serve_forever",
    "start",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Most posting times allowed on any one day, per service (see module docstring).
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
FAULT_KEYS = ("error_rate", "rate_429", "slow_rate", "slow_seconds", "drop_rate", "latency")
_SEPARATORS = {True: (",", ": "), False: (",", ":")}
_TIME_RE = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_HEX_CHARS = "0123456789abcdef"


@dataclass
class SandboxConfig:
    """Everything that shapes a sandbox: seed, accounts, rate limit and faults."""

    seed: int = 1
    profiles: int = 5
    tokens: dict[str, str] = field(default_factory=lambda: {"sandbox-token": "default"})
    rate_limit: tuple[int, float] = (60, 60.0)
    error_rate: float = 0.0
    rate_429: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 35.0
    drop_rate: float = 0.0
    latency: float = 0.0


@dataclass(frozen=True)
class RequestRecord:
    """One answered (or deliberately dropped) /1/ request; never holds a token."""

    time: float
    method: str
    path: str
    token: str | None
    status: int | None
    fault: str | None
    form: list[tuple[str, str]] | None
    duration: float

    def as_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        data = asdict(self)
        if self.form is not None:
            data["form"] = [list(pair) for pair in self.form]
        return data


# --- parsing helpers ---------------------------------------------------------


def parse_rate_limit(spec: str) -> tuple[int, float]:
    """Parse ``N/M``, ``N/Ms``, ``N/Mm`` or ``N/Mh`` (e.g. ``60/60s``) to (count, seconds)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([smh]?)\s*", spec)
    if not match or (match.group(2) is None and not match.group(3)):
        raise ValueError(f"rate limit must look like 60/60s, 60/1m or 60/60, not {spec!r}")
    count = int(match.group(1))
    amount = float(match.group(2)) if match.group(2) is not None else 1.0
    seconds = amount * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(3)]
    if seconds <= 0:
        raise ValueError(f"rate limit window must be positive, not {spec!r}")
    return count, seconds


def parse_tokens(specs: Iterable[str]) -> dict[str, str]:
    """Turn ``TOKEN=ACCOUNT`` (or bare ``TOKEN``) strings into a token -> account dict."""
    tokens: dict[str, str] = {}
    for number, spec in enumerate(specs, start=1):
        token, sep, account = spec.partition("=")
        if not token:
            raise ValueError("a token must not be empty")
        tokens[token] = (
            account if sep and account else ("default" if number == 1 else f"account{number}")
        )
    return tokens


def php_parse(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest form pairs the way PHP fills ``$_POST``; arrays stay int-keyed dicts."""
    result: dict[Any, Any] = {}
    for raw_key, value in pairs:
        base, _, rest = raw_key.partition("[")
        if not base:
            continue
        segments: list[str | None] = []
        if _:
            rest = "[" + rest
            while rest.startswith("["):
                end = rest.find("]")
                if end < 0:
                    break
                inner = rest[1:end]
                segments.append(inner or None)
                rest = rest[end + 1 :]
        node: dict[Any, Any] = result
        keys: list[Any] = [base, *segments]
        for position, key in enumerate(keys):
            if key is None:
                ints = [k for k in node if isinstance(k, int)]
                key = max(ints) + 1 if ints else 0
            elif re.fullmatch(r"-?[1-9]\d*|0", key):
                key = int(key)
            if position == len(keys) - 1:
                node[key] = value
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = {}
                    node[key] = child
                node = child
    return result


def _as_list(value: Any) -> list[Any] | None:
    """A PHP array as a list in insertion order; ``""`` is an empty list; else None."""
    if value == "":
        return []
    if isinstance(value, dict):
        return list(value.values())
    return None


def encode_json(data: Any, pretty: bool = False) -> bytes:
    """JSON as PHP's json_encode writes it: ASCII only, ``/`` escaped as ``\\/``."""
    text = json.dumps(data, indent=4 if pretty else None, separators=_SEPARATORS[pretty])
    return text.replace("/", "\\/").encode("ascii")


# --- seeded accounts -----------------------------------------------------------

_SERVICES = ("twitter", "facebook", "linkedin", "instagram", "pinterest")
_TIMEZONES = (
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
)
_WORDS_A = (
    "acme", "blue", "bright", "city", "daily", "fresh", "green", "happy", "indie", "little",
    "north", "open", "urban", "wild", "sunny", "metro", "golden", "rapid", "quiet", "smart",
)  # fmt: skip
_WORDS_B = (
    "bakery", "books", "coffee", "design", "garden", "labs", "media", "studio", "travel",
    "works", "fitness", "kitchen", "news", "crafts", "outdoors", "records", "bikes", "tech",
)  # fmt: skip
_FORMATTED_SERVICE = {
    "twitter": "Twitter",
    "facebook": "Facebook",
    "linkedin": "LinkedIn",
    "instagram": "Instagram",
    "pinterest": "Pinterest",
}
_VERB = {
    "twitter": "tweet",
    "facebook": "post",
    "linkedin": "post",
    "instagram": "post",
    "pinterest": "pin",
}


_LATEST_CREATED = 1_750_000_000  # mid 2025: ids keep 8 hex digits of time (24 in all)


def _object_id(rng: random.Random, created_at: int) -> str:
    """A MongoDB-style id: 8 hex digits of creation time, 16 random hex digits."""
    return f"{created_at:08x}" + "".join(rng.choice(_HEX_CHARS) for _ in range(16))


def _times(rng: random.Random, count: int, start: int, end: int) -> list[str]:
    """``count`` distinct sorted HH:MM times between hours start and end."""
    minutes_pool = (0, 0, 15, 30, 30, 45, rng.randrange(60))
    chosen: set[str] = set()
    while len(chosen) < count:
        chosen.add(f"{rng.randrange(start, end):02d}:{rng.choice(minutes_pool):02d}")
    return sorted(chosen)


def _seed_schedules(rng: random.Random, service: str) -> list[dict[str, list[str]]]:
    """Realistic schedules: mostly one weekday entry and one weekend entry."""
    busy = 8 if service in ("twitter", "pinterest") else 4
    shape = rng.random()
    if shape < 0.6:
        return [
            {"days": list(DAYS[:5]), "times": _times(rng, rng.randint(2, busy), 7, 21)},
            {"days": ["sat", "sun"], "times": _times(rng, rng.randint(1, 2), 9, 20)},
        ]
    if shape < 0.8:
        return [{"days": list(DAYS), "times": _times(rng, rng.randint(1, busy), 8, 22)}]
    if shape < 0.95:
        return [
            {"days": ["mon", "wed", "fri"], "times": _times(rng, rng.randint(2, busy), 7, 20)},
            {"days": ["tue", "thu"], "times": _times(rng, rng.randint(1, 3), 8, 18)},
            {"days": ["sat", "sun"], "times": _times(rng, 1, 10, 18)},
        ]
    return [{"days": list(DAYS[:5]), "times": _times(rng, rng.randint(1, 3), 8, 18)}]


def _service_details(rng: random.Random, service: str, username: str) -> dict[str, Any]:
    """The service-specific fields of a profile."""
    followers = int(rng.lognormvariate(7, 1.5))
    if service == "twitter":
        service_id = str(rng.randrange(10**8, 10**18))
        image = f"{rng.randrange(10**9, 10**10)}/{username[:8]}_normal.png"
        return {
            "service_id": service_id,
            "service_type": "profile",
            "formatted_username": f"@{username}",
            "avatar": f"http://pbs.twimg.com/profile_images/{image}",
            "avatar_https": f"https://pbs.twimg.com/profile_images/{image}",
            "cover_photo": f"https://pbs.twimg.com/profile_banners/{service_id}/1500x500",
            "statistics": {"followers": followers},
        }
    if service == "facebook":
        service_id = str(rng.randrange(10**14, 10**15))
        return {
            "service_id": service_id,
            "service_type": "page",
            "formatted_username": username.replace("_", " ").title(),
            "avatar": f"http://graph.facebook.com/{service_id}/picture",
            "avatar_https": f"https://graph.facebook.com/{service_id}/picture",
            "cover_photo": f"https://scontent.xx.fbcdn.net/v/t1.0-9/{service_id}_n.jpg",
            "statistics": {"followers": followers},
        }
    if service == "linkedin":
        service_id = "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz0123456789")
            for _ in range(10)
        )
        image = "".join(rng.choice(_HEX_CHARS) for _ in range(20))
        return {
            "service_id": service_id,
            "service_type": rng.choice(("profile", "page")),
            "formatted_username": username.replace("_", " ").title(),
            "avatar": f"http://media.licdn.com/mpr/mprx/0_{image}",
            "avatar_https": f"https://media.licdn.com/mpr/mprx/0_{image}",
            "cover_photo": "https://static.licdn.com/scds/common/u/images/themes/default.png",
            "statistics": {"connections": followers},
        }
    service_id = str(rng.randrange(10**16, 10**18))
    if service == "instagram":
        image = "".join(rng.choice(_HEX_CHARS) for _ in range(32))
        return {
            "service_id": service_id,
            "service_type": rng.choice(("profile", "business")),
            "formatted_username": f"@{username}",
            "avatar": f"http://scontent.cdninstagram.com/t51.2885-19/{image}.jpg",
            "avatar_https": f"https://scontent.cdninstagram.com/t51.2885-19/{image}.jpg",
            "cover_photo": "",
            "statistics": {"followers": followers},
        }
    image = "".join(rng.choice(_HEX_CHARS) for _ in range(32))
    return {
        "service_id": service_id,
        "service_type": "profile",
        "formatted_username": username,
        "avatar": f"http://i.pinimg.com/75x75_RS/{image[:2]}/{image}.jpg",
        "avatar_https": f"https://i.pinimg.com/75x75_RS/{image[:2]}/{image}.jpg",
        "cover_photo": "",
        "statistics": {"followers": followers},
    }


def _username(rng: random.Random, service: str, taken: set[str]) -> str:
    """A plausible brand username, unique within the account."""
    while True:
        base = f"{rng.choice(_WORDS_A)}{rng.choice(('', '_', ''))}{rng.choice(_WORDS_B)}"
        if service == "facebook" or service == "linkedin":
            base = base.replace("_", "") + rng.choice(("", "_official", "_hq"))
        if rng.random() < 0.2:
            base += str(rng.randrange(2, 99))
        name = base[:15] if service == "twitter" else base
        if name not in taken:
            taken.add(name)
            return name


def _docs_profile() -> dict[str, Any]:
    """The example profile of profiles.md, first profile of the ``default`` account."""
    return {
        "id": "4eb854340acb04e870000010",
        "created_at": 1320703028,
        "service": "twitter",
        "service_id": "164724445",
        "service_username": "skinnyoteam",
        "service_type": "profile",
        "formatted_username": "@skinnyoteam",
        "avatar": "http://a3.twimg.com/profile_images/1405180232.png",
        "avatar_https": "https://si0.twimg.com/profile_images/1405180232.png",
        "cover_photo": "https://pbs.twimg.com/profile_banners/164724445/1500x500",
        "statistics": {"followers": 246},
        "timezone": "Europe/London",
        "schedules": [{"days": list(DAYS[:5]), "times": ["12:00", "17:00", "18:00"]}],
    }


def seed_account(seed: int, account: str, count: int) -> list[dict[str, Any]]:
    """The profiles of one account: deterministic in (seed, account, count)."""
    rng = random.Random(f"buffer-sandbox:{seed}:{account}")
    owner_created = rng.randrange(1_300_000_000, 1_500_000_000)
    user_id = _object_id(rng, owner_created)
    colleagues = [_object_id(rng, owner_created + rng.randrange(10**6, 10**8)) for _ in range(3)]
    services = list(_SERVICES)
    rng.shuffle(services)
    services.remove("twitter")
    services.insert(0, "twitter")
    taken: set[str] = set()
    profiles: list[dict[str, Any]] = []
    created = owner_created
    for index in range(count):
        service = services[index] if index < len(services) else rng.choice(_SERVICES)
        created += rng.randrange(3600, 200 * 86400)
        if created > _LATEST_CREATED:  # large accounts: stay in the past and in 8 hex digits
            created = owner_created + (created - owner_created) % (_LATEST_CREATED - owner_created)
        if index == 0 and account == "default":
            base = _docs_profile()
            taken.add(base["service_username"])
        else:
            username = _username(rng, service, taken)
            base = {
                "id": _object_id(rng, created),
                "created_at": created,
                "service": service,
                "service_username": username,
                "timezone": rng.choice(_TIMEZONES),
                "schedules": _seed_schedules(rng, service),
                **_service_details(rng, service, username),
            }
        team = [user_id, *rng.sample(colleagues, rng.randint(0, 2))]
        profiles.append(
            {
                "_id": base["id"],
                "avatar": base["avatar"],
                "avatar_https": base["avatar_https"],
                "counts": {
                    "daily_suggestions": rng.randint(0, 25),
                    "drafts": rng.randint(0, 5),
                    "pending": rng.randint(0, 40),
                    "sent": rng.randint(50, 6000),
                },
                "cover_photo": base["cover_photo"],
                "created_at": base["created_at"],
                "default": index == 0 or rng.random() < 0.4,
                "disabled_features": rng.choice(([], [], ["mentions"])),
                "disconnected": False,
                "formatted_service": _FORMATTED_SERVICE[base["service"]],
                "formatted_username": base["formatted_username"],
                "id": base["id"],
                "schedules": base["schedules"],
                "service": base["service"],
                "service_id": base["service_id"],
                "service_type": base["service_type"],
                "service_username": base["service_username"],
                "shortener": {"domain": rng.choice(("buff.ly", "buff.ly", "bit.ly"))},
                "statistics": base["statistics"],
                "team_members": team,
                "timezone": base["timezone"],
                "user_id": user_id,
                "utm_tracking": rng.choice(("enabled", "enabled", "disabled")),
                "verb": _VERB[base["service"]],
            }
        )
    return profiles


# --- the simulator -------------------------------------------------------------


class _Dropped(ConnectionAbortedError):
    """Raised to make Werkzeug's server abandon a request without answering."""


class Sandbox:
    """Buffer API v1 as a thread-safe WSGI application."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = copy.deepcopy(config) if config is not None else SandboxConfig()
        if not self.config.tokens:
            raise ValueError("a sandbox needs at least one token")
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._faults: dict[str, float] = {}
        self._rate_limit = (0, 1.0)
        self.set_faults(
            rate_limit=self.config.rate_limit,
            **{key: getattr(self.config, key) for key in FAULT_KEYS},
        )
        self._labels = self._token_labels(self.config.tokens)
        self._records: list[RequestRecord] = []
        self.reset()

    @staticmethod
    def _token_labels(tokens: dict[str, str]) -> dict[str, str]:
        """Stable short labels: the account name, numbered when tokens share one."""
        labels: dict[str, str] = {}
        seen: dict[str, int] = {}
        for token, account in tokens.items():
            seen[account] = seen.get(account, 0) + 1
            labels[token] = account if seen[account] == 1 else f"{account}#{seen[account]}"
        return labels

    # --- Python control API -----------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Re-seed profiles (optionally with a new seed); clear records and rate windows."""
        with self._lock:
            if seed is not None:
                self.config.seed = seed
            self._profiles: dict[str, dict[str, Any]] = {}
            self._owner: dict[str, str] = {}
            self._account_profiles: dict[str, list[str]] = {}
            for account in dict.fromkeys(self.config.tokens.values()):
                seeded = seed_account(self.config.seed, account, self.config.profiles)
                self._account_profiles[account] = [p["id"] for p in seeded]
                for profile in seeded:
                    self._profiles[profile["id"]] = profile
                    self._owner[profile["id"]] = account
            self._windows: dict[str, deque[float]] = {}
            self._rng = random.Random(f"buffer-sandbox-faults:{self.config.seed}")
            self._records = []

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the record of answered /1/ requests."""
        return self.recorded()

    def recorded(self) -> list[RequestRecord]:
        """A thread-safe copy of the record of answered /1/ requests."""
        with self._lock:
            return list(self._records)

    def clear_requests(self) -> int:
        """Forget recorded requests; return how many there were."""
        with self._lock:
            count = len(self._records)
            self._records = []
            return count

    def faults(self) -> dict[str, Any]:
        """Current fault settings and rate limit."""
        with self._lock:
            return {**self._faults, "rate_limit": list(self._rate_limit)}

    def set_faults(self, **kwargs: Any) -> dict[str, Any]:
        """Change fault rates, slow_seconds, latency, rate_limit (tuple or "60/60s")."""
        updates: dict[str, float] = {}
        rate_limit: tuple[int, float] | None = None
        for key, value in kwargs.items():
            if key == "rate_limit":
                rate_limit = self._check_rate_limit(value)
            elif key in FAULT_KEYS:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key} must be a number")
                number = float(value)
                is_rate = key not in ("slow_seconds", "latency")
                if number < 0 or (is_rate and number > 1):
                    raise ValueError(
                        f"{key} must be between 0 and 1" if is_rate else f"{key} must be >= 0"
                    )
                updates[key] = number
            else:
                raise ValueError(f"unknown fault setting {key!r}")
        with self._lock:
            self._faults.update(updates)
            if rate_limit is not None:
                self._rate_limit = rate_limit
            return self.faults()

    @staticmethod
    def _check_rate_limit(value: Any) -> tuple[int, float]:
        """Validate a rate limit given as (count, seconds) or ``"N/Ms"``."""
        if isinstance(value, str):
            return parse_rate_limit(value)
        if isinstance(value, list | tuple) and len(value) == 2:
            count, window = value
            if (
                isinstance(count, int)
                and not isinstance(count, bool)
                and isinstance(window, int | float)
                and count >= 0
                and window > 0
            ):
                return count, float(window)
        raise ValueError("rate_limit must be [count, seconds] or a string like 60/60s")

    def accounts(self) -> list[dict[str, Any]]:
        """Accounts with their token labels (never the tokens) and profiles."""
        with self._lock:
            result = []
            for account, ids in self._account_profiles.items():
                labels = [
                    self._labels[token]
                    for token, name in self.config.tokens.items()
                    if name == account
                ]
                profiles = [
                    {
                        key: self._profiles[pid][key]
                        for key in ("id", "service", "service_username", "timezone")
                    }
                    for pid in ids
                ]
                result.append(
                    {
                        "name": account,
                        "tokens": labels,
                        "profile_ids": list(ids),
                        "profiles": profiles,
                    }
                )
            return result

    def profiles(self, token_or_account: str) -> list[dict[str, Any]]:
        """The profiles an account (named, or by one of its tokens) sees in profiles.json."""
        account = self.config.tokens.get(token_or_account, token_or_account)
        with self._lock:
            if account not in self._account_profiles:
                raise KeyError("no such account or token")
            return [copy.deepcopy(self._profiles[pid]) for pid in self._account_profiles[account]]

    def schedules(self, profile_id: str) -> list[dict[str, Any]]:
        """A profile's current schedules."""
        with self._lock:
            return copy.deepcopy(self._profiles[profile_id]["schedules"])

    def set_schedules(self, profile_id: str, entries: list[dict[str, Any]]) -> None:
        """Set a profile's schedules directly (test helper: not recorded or counted)."""
        with self._lock:
            self._profiles[profile_id]["schedules"] = copy.deepcopy(entries)

    def shutdown(self) -> None:
        """Wake any request sleeping in a slow fault or latency so the server can stop."""
        self._stopping.set()

    # --- WSGI -------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Answer one request."""
        request = Request(environ)
        path = request.path
        if path.startswith("/__sandbox/") or path == "/__sandbox":
            response = self._control(request)
        elif path.startswith("/1/"):
            response = self._api(request, environ)
        else:
            response = _error(404, "Endpoint not found", 404)
        return response(environ, start_response)

    def _api(self, request: Request, environ: dict[str, Any]) -> Response:
        """Answer a /1/ request, with faults, and record it."""
        started = time.monotonic()
        with self._lock:
            faults = dict(self._faults)
            draw = self._rng.random()
        if faults["latency"] > 0:
            self._stopping.wait(faults["latency"])
        fault = _pick_fault(draw, faults)
        pairs = _form_pairs(request)
        token = _find_token(request, pairs)
        label = None if token is None else self._labels.get(token, "invalid")
        if fault == "error":
            response = _error(500, "An unknown error occurred", 1000)
        elif fault == "429":
            response = _error(429, "Too many requests", 429)
        else:
            response = self._authorised(request, token, pairs)
        if fault == "slow":
            self._stopping.wait(faults["slow_seconds"])
        safe_form = None
        if request.method == "POST":
            safe_form = [(k, v) for k, v in pairs if k != "access_token"]
        record = RequestRecord(
            time=time.time(),
            method=request.method,
            path=request.path,
            token=label,
            status=None if fault == "drop" else response.status_code,
            fault=fault,
            form=safe_form,
            duration=round(time.monotonic() - started, 6),
        )
        with self._lock:
            self._records.append(record)
        if fault == "drop":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise _Dropped("sandbox fault: connection dropped")
        return response

    def _authorised(
        self, request: Request, token: str | None, pairs: list[tuple[str, str]]
    ) -> Response:
        """Token, rate limit, then the endpoint itself."""
        if token is None:
            return Response(
                b"",
                status=401,
                content_type="text/html",
                headers={"WWW-Authenticate": NO_TOKEN_CHALLENGE},
            )
        account = self.config.tokens.get(token)
        if account is None:
            return _error(401, "The provided access token is invalid", 401)
        if not self._admit(token):
            return _error(429, "Too many requests", 429)
        pretty = request.args.get("pretty") == "true"
        return self._route(request, account, pairs, pretty)

    def _admit(self, token: str) -> bool:
        """Sliding-window rate limit per token; admitted requests are counted."""
        now = time.monotonic()
        with self._lock:
            count, window = self._rate_limit
            if count <= 0:
                return True
            stamps = self._windows.setdefault(token, deque())
            while stamps and stamps[0] <= now - window:
                stamps.popleft()
            if len(stamps) >= count:
                return False
            stamps.append(now)
            return True

    def _route(
        self, request: Request, account: str, pairs: list[tuple[str, str]], pretty: bool
    ) -> Response:
        """Dispatch an authenticated /1/ request to its endpoint."""
        rest = request.path[len("/1/") :]
        match = re.fullmatch(r"(?P<stem>.+?)\.(?P<fmt>[A-Za-z0-9]+)", rest)
        if not match:
            return _error(404, "Endpoint not found", 404)
        stem, fmt = match.group("stem"), match.group("fmt")
        endpoint: str | None = None
        profile_id = ""
        if stem == "profiles":
            endpoint = "profiles"
        else:
            parts = stem.split("/")
            if len(parts) >= 2 and parts[0] == "profiles" and parts[1]:
                profile_id = parts[1]
                endpoint = {
                    2: "profile" if len(parts) == 2 else None,
                    3: "schedules" if parts[2:] == ["schedules"] else None,
                    4: "update" if parts[2:] == ["schedules", "update"] else None,
                }.get(len(parts))
        if endpoint is None:
            return _error(404, "Endpoint not found", 404)
        if fmt != "json":
            return _error(406, "Unsupported response format", 1005)
        allowed = ("POST",) if endpoint == "update" else ("GET", "HEAD")
        if request.method not in allowed:
            response = _error(405, "Method not allowed", 405)
            response.headers["Allow"] = ", ".join(allowed)
            return response
        with self._lock:
            if endpoint == "profiles":
                ids = self._account_profiles[account]
                return _json(200, [self._profiles[pid] for pid in ids], pretty)
            owner = self._owner.get(profile_id)
            if owner is None:
                return _failure(404, "Profile could not be found", 1010)
            if owner != account:
                return _failure(403, "You do not have permission to access this profile", 1011)
            profile = self._profiles[profile_id]
            if endpoint == "profile":
                return _json(200, profile, pretty)
            if endpoint == "schedules":
                return _json(200, profile["schedules"], pretty)
            return self._update(profile, pairs, pretty)

    def _update(
        self, profile: dict[str, Any], pairs: list[tuple[str, str]], pretty: bool
    ) -> Response:
        """Replace a profile's schedules from a PHP-style form body."""
        form = php_parse(pairs)
        if "schedules" not in form:
            return _failure(400, "Missing required parameter schedules", 1004)
        entries = _as_list(form["schedules"])
        if entries is None:
            return _failure(400, "Invalid value for parameter schedules", 1006)
        schedules: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                return _failure(400, f"Invalid value for parameter schedules[{index}]", 1006)
            parsed: dict[str, Any] = {}
            for key in ("days", "times"):
                if key not in entry:
                    return _failure(
                        400, f"Missing required parameter schedules[{index}][{key}]", 1004
                    )
                values = _as_list(entry[key])
                if values is None or not all(isinstance(v, str) for v in values):
                    return _failure(
                        400, f"Invalid value for parameter schedules[{index}][{key}]", 1006
                    )
                parsed[key] = values
            for day in parsed["days"]:
                if day not in DAYS:
                    return _failure(400, f"Invalid day '{day}' in schedules[{index}][days]", 1006)
            for moment in parsed["times"]:
                if not _TIME_RE.fullmatch(moment):
                    return _failure(
                        400, f"Invalid time '{moment}' in schedules[{index}][times]", 1006
                    )
            schedules.append({"days": parsed["days"], "times": parsed["times"]})
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
        return _json(200, {"success": True, "message": "Schedules updated"}, pretty)

    # --- control endpoints --------------------------------------------------------

    def _control(self, request: Request) -> Response:
        """Sandbox-only control and observation endpoints."""
        name = request.path[len("/__sandbox/") :].strip("/")
        method = request.method
        routes = {
            "requests": ("GET", "DELETE"),
            "faults": ("GET", "PUT"),
            "accounts": ("GET",),
            "reset": ("POST",),
        }
        if name not in routes:
            return _plain_json(404, {"error": "Unknown sandbox endpoint", "code": 404})
        if method not in routes[name]:
            response = _plain_json(405, {"error": "Method not allowed", "code": 405})
            response.headers["Allow"] = ", ".join(routes[name])
            return response
        if name == "requests":
            if method == "DELETE":
                return _plain_json(200, {"cleared": self.clear_requests()})
            return _plain_json(200, [r.as_dict() for r in self.recorded()])
        if name == "accounts":
            return _plain_json(200, self.accounts())
        body = request.get_json(force=True, silent=True) if request.get_data() else {}
        if not isinstance(body, dict):
            return _plain_json(400, {"error": "Body must be a JSON object", "code": 400})
        if name == "faults":
            if method == "GET":
                return _plain_json(200, self.faults())
            try:
                return _plain_json(200, self.set_faults(**body))
            except ValueError as exc:
                return _plain_json(400, {"error": str(exc), "code": 400})
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return _plain_json(400, {"error": "seed must be an integer", "code": 400})
        self.reset(seed)
        return _plain_json(200, {"success": True, "seed": self.config.seed})


def _pick_fault(draw: float, faults: dict[str, float]) -> str | None:
    """Map one uniform draw to at most one fault; rates are cumulative slices of [0, 1)."""
    edge = 0.0
    for name, key in (
        ("drop", "drop_rate"),
        ("slow", "slow_rate"),
        ("error", "error_rate"),
        ("429", "rate_429"),
    ):
        edge += faults[key]
        if draw < edge:
            return name
    return None


def _form_pairs(request: Request) -> list[tuple[str, str]]:
    """Form fields in body order, as PHP reads them (urlencoded or multipart only)."""
    if request.method != "POST":
        return []
    if request.mimetype == "application/x-www-form-urlencoded":
        body = request.get_data().decode("utf-8", "replace")
        return parse_qsl(body, keep_blank_values=True)
    if request.mimetype == "multipart/form-data":
        return list(request.form.items(multi=True))
    return []


def _find_token(request: Request, pairs: list[tuple[str, str]]) -> str | None:
    """The access token from the Bearer header, the query, or the form; else None."""
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


def _json(status: int, data: Any, pretty: bool = False) -> Response:
    """A Buffer-style JSON response."""
    return Response(encode_json(data, pretty), status=status, content_type=JSON_CONTENT_TYPE)


def _error(status: int, message: str, code: int) -> Response:
    """The ``{"error", "code"}`` error shape."""
    return _json(status, {"error": message, "code": code})


def _failure(status: int, message: str, code: int) -> Response:
    """The ``{"success": false, "message", "code"}`` error shape."""
    return _json(status, {"success": False, "message": message, "code": code})


def _plain_json(status: int, data: Any) -> Response:
    """A control-endpoint response: ordinary JSON."""
    return Response(json.dumps(data), status=status, content_type="application/json")


# --- serving -------------------------------------------------------------------


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, logging paths without query strings (tokens live there)."""

    quiet = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log method, path and status, never the query string."""
        if self.quiet:
            return
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s', self.command, path, code)


class _QuietRequestHandler(_RequestHandler):
    quiet = True


class RunningSandbox:
    """A sandbox served on a real socket by a background thread."""

    def __init__(self, sandbox: Sandbox, server: BaseWSGIServer, thread: threading.Thread) -> None:
        self.sandbox = sandbox
        self.server = server
        self.thread = thread
        self.host = server.host
        self.port = server.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.root_url = f"http://{host}:{self.port}/"
        self.url = f"{self.root_url}1/"

    def stop(self) -> None:
        """Stop serving, waking requests that sleep in a slow fault."""
        self.sandbox.shutdown()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sandbox: Sandbox | None = None,
    quiet: bool = True,
) -> RunningSandbox:
    """Serve a sandbox in a daemon thread (port 0 picks a free port)."""
    app = sandbox if sandbox is not None else Sandbox(config)
    handler = _QuietRequestHandler if quiet else _RequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, name="buffer-sandbox", daemon=True)
    thread.start()
    return RunningSandbox(app, server, thread)


def serve_forever(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8765
) -> None:
    """Serve a sandbox in the foreground until interrupted (for ``bridge sandbox``)."""
    app = Sandbox(config)
    server = make_server(host, port, app, threaded=True, request_handler=_RequestHandler)
    shown = f"[{host}]" if ":" in host else host
    names = ", ".join(a["name"] for a in app.accounts())
    print(f"Buffer sandbox on http://{shown}:{server.port}/1/ (accounts: {names})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.shutdown()
        server.server_close()
