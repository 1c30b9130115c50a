"""The sandbox's state: seeded accounts and profiles, faults, rate windows and the request record.

One `Sandbox` holds everything an API served over it (v1 today, GraphQL beside
it later) reads or changes, behind one re-entrant lock, so that any number of
server threads can use it. Its public methods are also the Python control API
tests use (the HTTP control API in `control.py` calls the same methods).

API modules read and change profiles through `profile_ids`, `profile` and
`owner_of`, which hand out the live objects: hold `lock` while using them.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from bridge.config import RateLimit
from bridge.sandbox import faults as fault_rules
from bridge.sandbox.seed import seed_account

__all__ = ["DEFAULT_RATE_LIMIT", "RequestRecord", "Sandbox", "SandboxConfig", "parse_tokens"]

DEFAULT_RATE_LIMIT = RateLimit(60, 60.0)  # Buffer's documented 60 requests a minute


@dataclass
class SandboxConfig:
    """Everything that shapes a sandbox: seed, accounts (token -> account name), rate limit, faults.

    `rate_limit` may also be given as (count, seconds) or a string like "60/60s".
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
        """Seed the accounts of `config` (copied); ValueError for no tokens or bad faults."""
        self.config = copy.deepcopy(config) if config is not None else SandboxConfig()
        if not self.config.tokens:
            raise ValueError("a sandbox needs at least one token")
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._faults: dict[str, float] = {}
        self._rate_limit = fault_rules.as_rate_limit(self.config.rate_limit)
        self.set_faults(**{key: getattr(self.config, key) for key in fault_rules.FAULT_KEYS})
        self._labels = _token_labels(self.config.tokens)
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
            for account in dict.fromkeys(self.config.tokens.values()):
                seeded = seed_account(self.config.seed, account, self.config.profiles)
                self._account_profiles[account] = [p["id"] for p in seeded]
                for profile in seeded:
                    self._profiles[profile["id"]] = profile
                    self._owner[profile["id"]] = account
            self._windows: dict[str, deque[float]] = {}
            self._rng = random.Random(f"buffer-sandbox-faults:{self.config.seed}")
            self._records = []

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
        """The fault settings and the rate limit as `[count, seconds]` (JSON-ready)."""
        with self.lock:
            return {**self._faults, "rate_limit": [self._rate_limit.limit, self._rate_limit.period]}

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change any of FAULT_KEYS and `rate_limit`; returns `faults()` after the change.

        All or nothing: raises ValueError (see `faults.checked_fault` and
        `faults.as_rate_limit`) before changing anything.
        """
        updates: dict[str, float] = {}
        rate_limit: RateLimit | None = None
        for key, value in settings.items():
            if key == "rate_limit":
                rate_limit = fault_rules.as_rate_limit(value)
            else:
                updates[key] = fault_rules.checked_fault(key, value)
        with self.lock:
            self._faults.update(updates)
            if rate_limit is not None:
                self._rate_limit = rate_limit
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
        account = self.config.tokens.get(token_or_account, token_or_account)
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

    def shutdown(self) -> None:
        """Wake every request sleeping in `wait` (slow faults, latency) so a server can stop."""
        self._stopping.set()

    # --- for the API modules

    def account_of(self, token: str) -> str | None:
        """The account a token belongs to; None for an unknown token."""
        return self.config.tokens.get(token)

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

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, returning early once `shutdown()` was called."""
        self._stopping.wait(seconds)


def _token_labels(tokens: dict[str, str]) -> dict[str, str]:
    """token -> its account name, numbered ("brand#2") when tokens share an account."""
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for token, account in tokens.items():
        seen[account] = seen.get(account, 0) + 1
        labels[token] = account if seen[account] == 1 else f"{account}#{seen[account]}"
    return labels
