"""The sandbox's state: seeded accounts and profiles, faults, rate windows and the request record.

One `Sandbox` holds everything the APIs served over it (v1 and GraphQL) read or
change, behind one re-entrant lock, so that any number of server threads can use
it: a schedule written through v1 is what GraphQL reads next, and the other way
round. Its public methods are also the Python control API tests use (the HTTP
control API in `control.py` calls the same methods).

API modules read and change profiles through `profile_ids`, `profile` and
`owner_of`, which hand out the live objects: hold `lock` while using them.

GraphQL adds, over the same profiles: API keys (key -> account, beside v1's
tokens), organizations (each account's profiles split in order into
`organizations` groups), paused days (kept beside the v1 objects, so v1 answers
never show them; a v1 update changes times and leaves pauses alone, as a pause in
Buffer's app keeps its times), rate windows of their own (several at once), and
posts: `posts`, a `posts.Posts` store rebuilt by `reset`, which takes this lock.

Past 400 lines on purpose: everything behind the one lock is here, so no other module
can touch the state without it; seeding, faults, forms, the posts' rules (posts.py,
under the same lock) and the APIs live elsewhere.
"""

from __future__ import annotations

import copy
import hashlib
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from bridge.config import RateLimit, parse_rate_limits
from bridge.errors import ConfigError
from bridge.sandbox import faults as fault_rules
from bridge.sandbox.posts import DEFAULT_QUEUE_LIMIT, Posts
from bridge.sandbox.seed import seed_account
from bridge.week import DAYS

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_GRAPHQL_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "as_rate_limits",
    "parse_tokens",
]

DEFAULT_RATE_LIMIT = RateLimit(60, 60.0)  # Buffer's documented 60 requests a minute
DEFAULT_GRAPHQL_RATE_LIMIT = "100/15m,250/24h"  # per API key, graphql.md
DEFAULT_API_KEY = "sandbox-key"


@dataclass
class SandboxConfig:
    """Everything that shapes a sandbox: seed, accounts (token -> account name), rate limit, faults.

    `rate_limit` may also be given as (count, seconds) or a string like "60/60s";
    `graphql_rate_limit` as a string like "100/15m,250/24h" or a list of either.
    `api_keys` are GraphQL keys (key -> account name; an account may have tokens,
    keys or both). `graphql_only` answers every v1 request as the retired API.
    """

    seed: int = 1
    profiles: int = 5
    tokens: dict[str, str] = field(default_factory=lambda: {"sandbox-token": "default"})
    rate_limit: RateLimit | tuple[int, float] | str = DEFAULT_RATE_LIMIT
    error_rate: float = 0.0
    rate_429: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 35.0
    drop_rate: float = 0.0
    latency: float = 0.0
    # None: `sandbox-key` for the first token's account (no account is added by it)
    api_keys: dict[str, str] | None = None
    graphql_rate_limit: Any = DEFAULT_GRAPHQL_RATE_LIMIT
    organizations: int = 2  # per account (fewer when it has fewer profiles)
    graphql_only: bool = False
    queue_limit: int = DEFAULT_QUEUE_LIMIT  # scheduled posts a channel may hold (posts.py)


@dataclass(frozen=True)
class Begun:
    """One API request as begun: when, the fault drawn for it, the fault settings used."""

    started: float
    fault: str | None
    settings: dict[str, float]


@dataclass(frozen=True)
class RequestRecord:
    """One answered (or deliberately dropped) API request; `token` is a label, never the token."""

    time: float
    method: str
    path: str
    token: str | None
    status: int | None
    fault: str | None
    form: list[tuple[str, str]] | None
    duration: float

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (form pairs as lists)."""
        data = asdict(self)
        if self.form is not None:
            data["form"] = [list(pair) for pair in self.form]
        return data


def parse_tokens(specs: Iterable[str]) -> dict[str, str]:
    """`TOKEN=ACCOUNT` (or bare `TOKEN`) strings -> {token: account}.

    A bare first token belongs to "default", a bare n-th one to "account<n>".
    Raises ValueError for an empty token.
    """
    tokens: dict[str, str] = {}
    for number, spec in enumerate(specs, start=1):
        token, sep, account = spec.partition("=")
        if not token:
            raise ValueError("a token must not be empty")
        tokens[token] = (
            account if sep and account else ("default" if number == 1 else f"account{number}")
        )
    return tokens


class Sandbox:
    """The thread-safe state of one simulated Buffer, and its Python control API."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        """Seed the accounts of `config` (copied); ValueError for no tokens, bad faults or a
        negative queue_limit."""
        self.config = copy.deepcopy(config) if config is not None else SandboxConfig()
        if self.config.api_keys is None:
            first = next(iter(self.config.tokens.values()), "default")
            self.config.api_keys = {DEFAULT_API_KEY: first}
        self.api_keys: dict[str, str] = self.config.api_keys
        if not self.config.tokens and not self.api_keys:
            raise ValueError("a sandbox needs at least one token or API key")
        if self.config.organizations < 1:
            raise ValueError("organizations must be at least 1")
        if self.config.queue_limit < 0:
            raise ValueError("queue_limit must not be negative")
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._faults: dict[str, float] = {}
        self._rate_limit = fault_rules.as_rate_limit(self.config.rate_limit)
        self._graphql_limits = as_rate_limits(self.config.graphql_rate_limit)
        self.set_faults(**{key: getattr(self.config, key) for key in fault_rules.FAULT_KEYS})
        self._labels = _token_labels(self.config.tokens)
        self._labels.update(
            {key: f"key:{label}" for key, label in _token_labels(self.api_keys).items()}
        )
        self._records: list[RequestRecord] = []
        self.reset()

    # --- Python control API

    def reset(self, seed: int | None = None) -> None:
        """Re-seed every account (with `seed` when given); clear the record and rate windows.

        The fault draws restart too, so a reset sandbox replays the same faults.
        """
        with self.lock:
            if seed is not None:
                self.config.seed = seed
            self._profiles: dict[str, dict[str, Any]] = {}
            self._owner: dict[str, str] = {}
            self._account_profiles: dict[str, list[str]] = {}
            self._paused: dict[str, set[str]] = {}
            self._organizations: dict[str, list[dict[str, Any]]] = {}
            for account in self._account_names():
                seeded = seed_account(self.config.seed, account, self.config.profiles)
                self._account_profiles[account] = [p["id"] for p in seeded]
                for profile in seeded:
                    self._profiles[profile["id"]] = profile
                    self._owner[profile["id"]] = account
                self._paused.update(_seed_pauses(self.config.seed, account, seeded))
                self._organizations[account] = _organize(
                    account, [p["id"] for p in seeded], self.config.organizations
                )
            self._windows: dict[str, deque[float]] = {}
            self._graphql_windows: dict[tuple[str, float], deque[float]] = {}
            self._rng = random.Random(f"buffer-sandbox-faults:{self.config.seed}")
            self._records = []
            self.posts = Posts(self)  # every post, and Buffer's rules for them (posts.py)

    def _account_names(self) -> list[str]:
        """Every account named by a token or a key, tokens' first (v1's seed order)."""
        return list(dict.fromkeys([*self.config.tokens.values(), *self.api_keys.values()]))

    def recorded(self) -> list[RequestRecord]:
        """A copy of the record of answered API requests, oldest first."""
        with self.lock:
            return list(self._records)

    def clear_requests(self) -> int:
        """Forget the recorded requests; returns how many there were."""
        with self.lock:
            count = len(self._records)
            self._records = []
            return count

    def faults(self) -> dict[str, Any]:
        """The fault settings, the rate limit as `[count, seconds]` and the GraphQL windows
        as a list of them (JSON-ready)."""
        with self.lock:
            return {
                **self._faults,
                "rate_limit": [self._rate_limit.limit, self._rate_limit.period],
                "graphql_rate_limit": [[w.limit, w.period] for w in self._graphql_limits],
            }

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change any of FAULT_KEYS and `rate_limit`; returns `faults()` after the change.

        All or nothing: raises ValueError (see `faults.checked_fault` and
        `faults.as_rate_limit`) before changing anything.
        """
        updates: dict[str, float] = {}
        rate_limit: RateLimit | None = None
        graphql_limits: tuple[RateLimit, ...] | None = None
        for key, value in settings.items():
            if key == "rate_limit":
                rate_limit = fault_rules.as_rate_limit(value)
            elif key == "graphql_rate_limit":
                graphql_limits = as_rate_limits(value)
            else:
                updates[key] = fault_rules.checked_fault(key, value)
        with self.lock:
            self._faults.update(updates)
            if rate_limit is not None:
                self._rate_limit = rate_limit
            if graphql_limits is not None:
                self._graphql_limits = graphql_limits
            return self.faults()

    def accounts(self) -> list[dict[str, Any]]:
        """Every account: name, token labels (never the tokens), profile ids and short profiles."""
        with self.lock:
            return [
                {
                    "name": account,
                    "tokens": [
                        self._labels[token]
                        for token, name in self.config.tokens.items()
                        if name == account
                    ],
                    "api_keys": [
                        self._labels[key] for key, name in self.api_keys.items() if name == account
                    ],
                    "organizations": [
                        {"id": o["id"], "name": o["name"], "profile_ids": list(o["channel_ids"])}
                        for o in self._organizations[account]
                    ],
                    "profile_ids": list(ids),
                    "profiles": [
                        {
                            key: self._profiles[pid][key]
                            for key in ("id", "service", "service_username", "timezone")
                        }
                        for pid in ids
                    ],
                }
                for account, ids in self._account_profiles.items()
            ]

    def profiles(self, token_or_account: str) -> list[dict[str, Any]]:
        """Copies of the profiles an account (named, or by one of its tokens) sees.

        Raises KeyError for an unknown account or token.
        """
        account = self.config.tokens.get(
            token_or_account, self.api_keys.get(token_or_account, token_or_account)
        )
        with self.lock:
            if account not in self._account_profiles:
                raise KeyError("no such account or token")
            return [copy.deepcopy(self._profiles[pid]) for pid in self._account_profiles[account]]

    def schedules(self, profile_id: str) -> list[dict[str, Any]]:
        """A copy of a profile's current schedules; KeyError for an unknown profile."""
        with self.lock:
            return copy.deepcopy(self._profiles[profile_id]["schedules"])

    def set_schedules(self, profile_id: str, entries: list[dict[str, Any]]) -> None:
        """Set a profile's schedules without a request: not validated, recorded or rate-limited."""
        with self.lock:
            self._profiles[profile_id]["schedules"] = copy.deepcopy(entries)

    def paused_days(self, profile_id: str) -> list[str]:
        """A profile's paused days in week order (GraphQL shows them, v1 cannot).

        Raises KeyError for an unknown profile."""
        with self.lock:
            self._profiles[profile_id]  # KeyError for an unknown profile
            return [d for d in DAYS if d in self._paused.get(profile_id, set())]

    def set_paused(self, profile_id: str, days: Iterable[str]) -> None:
        """Pause exactly `days` of a profile, as Buffer's own app would.

        Raises ValueError for a day not in DAYS, KeyError for an unknown profile."""
        wanted = set(days)
        if not wanted <= set(DAYS):
            raise ValueError(f"days must be among {', '.join(DAYS)}")
        with self.lock:
            self._profiles[profile_id]  # KeyError for an unknown profile
            self._paused[profile_id] = wanted

    def add_post(self, profile_id: str, text: str, due_at: str | None = None) -> dict[str, Any]:
        """A post made in Buffer's own app: `Posts.add_from_app` (KeyError, ValueError,
        posts.PostError)."""
        return self.posts.add_from_app(profile_id, text, due_at)

    def channel_posts(self, profile_id: str) -> list[dict[str, Any]]:
        """Every post of a channel: `Posts.of_channel` (KeyError for an unknown profile)."""
        return self.posts.of_channel(profile_id)

    def shutdown(self) -> None:
        """Wake every request sleeping in `wait` (slow faults, latency) so a server can stop."""
        self._stopping.set()

    # --- for the API modules

    def account_of(self, token: str) -> str | None:
        """The account a token belongs to; None for an unknown token."""
        return self.config.tokens.get(token)

    def account_of_key(self, key: str) -> str | None:
        """The account a GraphQL API key belongs to; None for an unknown key."""
        return self.api_keys.get(key)

    def organizations(self, account: str) -> list[dict[str, Any]]:
        """The live organizations of an account: `{id, name, channel_ids}` (hold `lock`)."""
        return self._organizations[account]

    def organization_owner(self, organization_id: str) -> tuple[str, dict[str, Any]] | None:
        """(account, live organization) for an organization id; None for an unknown one."""
        for account, organizations in self._organizations.items():
            for organization in organizations:
                if organization["id"] == organization_id:
                    return account, organization
        return None

    def paused(self, profile_id: str) -> set[str]:
        """The live set of a profile's paused days (hold `lock`)."""
        return self._paused.setdefault(profile_id, set())

    def admit_graphql(self, key: str) -> tuple[float | None, list[dict[str, float]]]:
        """Count a GraphQL request against every window of `key`.

        Returns (None, windows) when admitted, or (seconds until every full window
        has room, windows) when not (and then nothing is counted). `windows` gives
        each window's limit, period, remaining and reset seconds, for the headers.
        """
        now = time.monotonic()
        with self.lock:
            states: list[tuple[RateLimit, deque[float]]] = []
            for limit in self._graphql_limits:
                stamps = self._graphql_windows.setdefault((key, limit.period), deque())
                while stamps and stamps[0] <= now - limit.period:
                    stamps.popleft()
                states.append((limit, stamps))
            full = [
                stamps[len(stamps) - limit.limit] + limit.period - now
                for limit, stamps in states
                if len(stamps) >= limit.limit
            ]
            if not full:
                for _, stamps in states:
                    stamps.append(now)
            windows = [
                {
                    "limit": limit.limit,
                    "period": limit.period,
                    "remaining": max(0, limit.limit - len(stamps)),
                    "reset": (stamps[0] + limit.period - now) if stamps else limit.period,
                }
                for limit, stamps in states
            ]
            return (max(0.0, max(full)) if full else None), windows

    def label_of(self, token: str | None) -> str | None:
        """What the record shows for a token: its account label, "invalid", or None for none."""
        return None if token is None else self._labels.get(token, "invalid")

    def profile_ids(self, account: str) -> list[str]:
        """The live list of an account's profile ids, in Buffer's order (hold `lock`)."""
        return self._account_profiles[account]

    def profile(self, profile_id: str) -> dict[str, Any]:
        """The live profile object (hold `lock`); KeyError for an unknown id."""
        return self._profiles[profile_id]

    def owner_of(self, profile_id: str) -> str | None:
        """The account that owns a profile; None for an unknown id."""
        return self._owner.get(profile_id)

    def draw_fault(self) -> tuple[str | None, dict[str, float]]:
        """Draw the fault of one request (see `faults.pick`); also returns the settings it used."""
        with self.lock:
            settings = dict(self._faults)
            draw = self._rng.random()
        return fault_rules.pick(draw, settings), settings

    def begin_request(self) -> Begun:
        """The start time, fault and fault settings of one API request, after waiting out
        the configured latency: what every API module does first."""
        started = time.monotonic()
        fault, settings = self.draw_fault()
        if settings["latency"] > 0:
            self.wait(settings["latency"])
        return Begun(started, fault, settings)

    def admit(self, token: str) -> bool:
        """Count a request against `token`'s sliding window; False (and not counted) when full."""
        now = time.monotonic()
        with self.lock:
            limit = self._rate_limit
            stamps = self._windows.setdefault(token, deque())
            while stamps and stamps[0] <= now - limit.period:
                stamps.popleft()
            if len(stamps) >= limit.limit:
                return False
            stamps.append(now)
            return True

    def record(self, record: RequestRecord) -> None:
        """Append one request to the record."""
        with self.lock:
            self._records.append(record)

    def end_request(
        self,
        request: Request,
        response: Response,
        begun: Begun,
        credential: str | None,
        form: list[tuple[str, str]] | None,
    ) -> Response:
        """Finish one API request begun with `begin_request`: wait out a slow fault, record
        it (the credential by its label only), then answer, or cut the connection for a drop
        fault (faults.Dropped)."""
        fault = begun.fault
        if fault == "slow":
            self.wait(begun.settings["slow_seconds"])
        self.record(
            RequestRecord(
                time=time.time(),
                method=request.method,
                path=request.path,
                token=self.label_of(credential),
                status=None if fault == "drop" else response.status_code,
                fault=fault,
                form=form,
                duration=round(time.monotonic() - begun.started, 6),
            )
        )
        if fault == "drop":
            fault_rules.drop_connection(request.environ)
        return response

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, returning early once `shutdown()` was called."""
        self._stopping.wait(seconds)


def as_rate_limits(value: Any) -> tuple[RateLimit, ...]:
    """GraphQL windows from "100/15m,250/24h" (config's grammar), a RateLimit, or a list of
    RateLimits, strings or [count, seconds] pairs; ValueError otherwise."""
    if isinstance(value, str):
        try:
            return parse_rate_limits("graphql_rate_limit", value)
        except ConfigError as error:
            raise ValueError(str(error)) from None
    if isinstance(value, RateLimit):
        return (value,)
    if isinstance(value, list | tuple) and value:
        windows = tuple(fault_rules.as_rate_limit(item) for item in value)
        if len({w.period for w in windows}) == len(windows):
            return windows
    raise ValueError(
        "graphql_rate_limit must be a string like 100/15m,250/24h or a list of [count, seconds]"
    )


def _seed_pauses(seed: int, account: str, profiles: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Some paused days, from their own random stream (v1's seed data stays as it was):
    every second profile has one paused day, preferring a day with posting times."""
    rng = random.Random(f"buffer-sandbox-pauses:{seed}:{account}")
    paused: dict[str, set[str]] = {}
    for index, profile in enumerate(profiles):
        if index % 2 == 0:
            continue
        busy = [d for d in DAYS if any(d in e["days"] and e["times"] for e in profile["schedules"])]
        paused[profile["id"]] = {rng.choice(busy or list(DAYS))}
    return paused


def _organize(account: str, profile_ids: list[str], count: int) -> list[dict[str, Any]]:
    """An account's profiles split in order into up to `count` organizations (at least one)."""
    count = max(1, min(count, len(profile_ids)))
    size = -(-len(profile_ids) // count) if profile_ids else 0
    organizations = []
    for number in range(count):
        digest = hashlib.sha256(f"buffer-sandbox-org:{account}:{number}".encode()).hexdigest()
        organizations.append(
            {
                "id": digest[:24],
                "name": f"{account.title()} {'HQ' if number == 0 else f'team {number + 1}'}",
                "channel_ids": profile_ids[number * size : (number + 1) * size],
            }
        )
    return organizations


def _token_labels(tokens: dict[str, str]) -> dict[str, str]:
    """token -> its account name, numbered ("brand#2") when tokens share an account."""
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for token, account in tokens.items():
        seen[account] = seen.get(account, 0) + 1
        labels[token] = account if seen[account] == 1 else f"{account}#{seen[account]}"
    return labels
