"""Every setting, read from the environment in one place.

Nothing here runs at import time: `load_settings()` reads an environment mapping
(os.environ by default) and returns an immutable `Settings`. A malformed value
raises `ConfigError` with one line naming the variable and what it expected.

Past 400 lines on purpose: the house rule is that every setting is read here
and nowhere else, and `VARIABLES` (the README table and the deploy files are checked
against it) belongs beside the parsing it describes.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from bridge.buffer.models import V1_BASE_URL
from bridge.errors import ConfigError

DEFAULT_BUFFER_API_URL = V1_BASE_URL
DEFAULT_DATABASE_URL = "sqlite:///bridge.db"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TOKEN_PREFIX = "BUFFER_ACCESS_TOKEN"
API_KEY_PREFIX = "BUFFER_API_KEY"
DEFAULT_BUFFER_GRAPHQL_URL = "https://api.buffer.com"
DEFAULT_BUFFER_RATE_LIMIT = "60/60s"
# Buffer's documented GraphQL windows: 100 per 15 minutes on every plan, 250 a day
# (Essentials; a Free key gets 100 a day, so set 100/15m,100/24h for one)
DEFAULT_BUFFER_GRAPHQL_RATE_LIMIT = "100/15m,250/24h"
# Buffer's legacy REST API "will no longer return data" from this day (announced 2026-07-27)
DEFAULT_BUFFER_V1_SUNSET = "2027-02-01"
V1_SUNSET = date(2027, 2, 1)
MAX_BACKOFF = 3600.0
DEFAULT_ACCOUNT = "default"
DEFAULT_HEARTBEAT_FILE = "/tmp/bridge-beat.heartbeat"
DEFAULT_WEB_BIND = "0.0.0.0:8000"
# gunicorn's own default: trust X-Forwarded-* only from a proxy on this machine
DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"
# a worker's own /metrics: this machine only unless the deployment says otherwise
DEFAULT_WORKER_METRICS_HOST = "127.0.0.1"
# Celery queues: syncs, snapshots, rotation and the rest, and outbound event deliveries on
# their own, so a receiver that holds every request cannot take the workers syncs need
WORK_QUEUE = "bridge"
DELIVERY_QUEUE = "bridge-deliveries"
WORKER_QUEUES = (WORK_QUEUE, DELIVERY_QUEUE)
# 2 x cores + 1 is gunicorn's rule of thumb; the cap keeps a container, which sees the
# host's cores, from starting dozens of processes
MAX_DEFAULT_WEB_WORKERS = 8

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/(.*)$")
MAX_RATE_DIGITS = 18  # a request count below 2**63
_ACCOUNT_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]*$")


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` Buffer requests per `period` seconds, per access token."""

    limit: int
    period: float

    def __str__(self) -> str:
        """`COUNT/SECONDSs`, which parse_rate_limit reads back to this window: every digit
        of the period, never an exponent (`:g` made 1234567 s `1.23457e+06s`)."""
        seconds = format(Decimal(repr(self.period)), "f")
        if "." in seconds:
            seconds = seconds.rstrip("0").rstrip(".")
        return f"{self.limit}/{seconds}s"


# Which of Buffer's APIs an account is configured for: an access token (v1), an API
# key (GraphQL), or both under one account name.
AccountApi = Literal["v1", "graphql", "both"]


def _default_graphql_limits() -> tuple[RateLimit, ...]:
    return parse_rate_limits("BUFFER_GRAPHQL_RATE_LIMIT", DEFAULT_BUFFER_GRAPHQL_RATE_LIMIT)


@dataclass(frozen=True)
class Settings:
    """Every setting of the bridge, already validated."""

    buffer_api_url: str = DEFAULT_BUFFER_API_URL
    # account name (lower case) -> the environment variable that holds its token
    buffer_token_vars: Mapping[str, str] = field(default_factory=dict)
    # the first window of BUFFER_RATE_LIMIT (what a one-window limiter enforces) ...
    buffer_rate_limit: RateLimit = RateLimit(60, 60.0)
    # ... and every window of it; empty means just `buffer_rate_limit` (see rate_limits)
    buffer_rate_limits: tuple[RateLimit, ...] = ()
    # account name (lower case) -> the environment variable that holds its GraphQL API key
    buffer_key_vars: Mapping[str, str] = field(default_factory=dict)
    buffer_graphql_url: str = DEFAULT_BUFFER_GRAPHQL_URL
    buffer_graphql_rate_limits: tuple[RateLimit, ...] = field(
        default_factory=_default_graphql_limits
    )
    # the day v1 stops answering; None: BUFFER_V1_SUNSET=none, no date logic
    buffer_v1_sunset: date | None = V1_SUNSET
    buffer_timeout: tuple[float, float] = (5.0, 30.0)
    # Buffer slots per window that reads on behalf of callers leave for syncs
    buffer_write_reserve: int = 20
    # (connect, read) of a Buffer call made while a caller waits (GET .../schedules)
    buffer_request_timeout: tuple[float, float] = (2.0, 3.0)
    # how long a live schedules read is served from Redis (0: not cached)
    schedules_cache_ttl: float = 30.0
    # requests per period one API client may make
    client_rate_limit: RateLimit = RateLimit(600, 60.0)
    ping_rate_limit: RateLimit = RateLimit(3, 60.0)
    # requests of one web process that may wait at once (`?wait=`)
    wait_max_concurrent: int = 8
    redis_url: str = DEFAULT_REDIS_URL
    database_url: str = DEFAULT_DATABASE_URL
    slack_signing_secret: str | None = None
    snapshot_interval: float = 3600.0
    reconcile_interval: float = 60.0
    reconcile_after: float = 120.0
    # how often beat looks for due rotation steps, and how late a run counts as late
    rotation_interval: float = 60.0
    rotation_late_after: float = 120.0
    sync_max_attempts: int = 8
    sync_backoff_max: float = 600.0
    # kept weeks (bridge.posting): a queued post's slot is at least this far from now, and
    # Buffer's queue is adopted this often (profiles with adopt_queue)
    post_lead_seconds: float = 120.0
    adopt_interval: float = 1800.0
    sync_burst_window: float = 5.0
    sync_settle: float = 1.0
    sync_settle_max: float = 10.0
    log_level: str = "INFO"
    log_format: str = "json"
    worker_metrics_port: int = 9808  # 0: the worker serves no /metrics
    # the worker's Celery node name (name@host); empty: worker-<metrics port>@<host name>
    worker_name: str = ""
    worker_metrics_host: str = DEFAULT_WORKER_METRICS_HOST
    # the one queue a `bridge worker` consumes, and threads of a deliveries worker
    worker_queue: str = WORK_QUEUE
    delivery_concurrency: int = 8
    # bearer token /metrics of the web process asks for (None: open)
    metrics_token: str | None = field(default=None, repr=False)
    # signs the dashboard's session cookies (None: /ui is off, it says so)
    secret_key: str | None = field(default=None, repr=False)
    webhook_delivery_retention: float = 7 * 86400.0
    # where prometheus_client keeps metrics shared by several processes (None: in memory)
    prometheus_multiproc_dir: str | None = None
    beat_heartbeat_file: str = DEFAULT_HEARTBEAT_FILE
    # the web process under gunicorn (bridge/web_server.py)
    web_bind: str = DEFAULT_WEB_BIND
    web_workers: int = field(default_factory=lambda: default_web_workers())
    web_threads: int = 16
    web_timeout: int = 60
    web_graceful_timeout: int = 30
    # seconds a request may take to arrive whole, from its first byte (bridge/read_ahead.py)
    web_read_timeout: int = 10
    forwarded_allow_ips: str = DEFAULT_FORWARDED_ALLOW_IPS
    # hosts chat follow-ups may reach despite the https/allow-list/public-address rules:
    # for tests and local development only (bridge/followups.py)
    followup_private_hosts: frozenset[str] = frozenset()
    # outbound event subscriptions may use http and loopback/private addresses (never
    # link-local): development, tests and the sandbox only (bridge/safehttp.py)
    outbound_allow_private: bool = False
    # how long sent events and their delivery log are kept
    event_retention: float = 30 * 86400.0
    # the raw environment the tokens are read from (never logged, never stored)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def account_names(self) -> list[str]:
        """Configured Buffer accounts (by access token, API key or both), the default first."""
        names = sorted(set(self.buffer_token_vars) | set(self.buffer_key_vars))
        if DEFAULT_ACCOUNT in names:
            names.remove(DEFAULT_ACCOUNT)
            names.insert(0, DEFAULT_ACCOUNT)
        return names

    def account_api(self, account: str) -> AccountApi:
        """Which API `account` is configured for: "v1" (token), "graphql" (key) or "both".

        Says what is configured, not what still works: see `v1_past_sunset` for that.
        Raises ConfigError for an account named by neither variable.
        """
        v1 = account in self.buffer_token_vars
        graphql = account in self.buffer_key_vars
        if v1 and graphql:
            return "both"
        if v1:
            return "v1"
        if graphql:
            return "graphql"
        raise ConfigError(
            f"no Buffer account named {account!r}: set {key_var(account)} or {token_var(account)}"
        )

    def buffer_api_key(self, account: str) -> str:
        """The GraphQL API key of `account`, from its environment variable or its _FILE.

        Raises ConfigError when `account` has no API key (it may still have a v1 token).
        """
        var = self.buffer_key_vars.get(account)
        if var is None:
            raise ConfigError(f"no Buffer API key for account {account!r}: set {key_var(account)}")
        return _read_secret(self.environ, var) or ""

    def rate_limits(self, api: Literal["v1", "graphql"]) -> tuple[RateLimit, ...]:
        """Every window of BUFFER_RATE_LIMIT (v1) or BUFFER_GRAPHQL_RATE_LIMIT (graphql)."""
        if api == "graphql":
            return self.buffer_graphql_rate_limits
        return self.buffer_rate_limits or (self.buffer_rate_limit,)

    def v1_past_sunset(self, today: date) -> bool:
        """True on and after BUFFER_V1_SUNSET (v1 no longer answers); never when it is none."""
        return self.buffer_v1_sunset is not None and today >= self.buffer_v1_sunset

    def v1_days_left(self, today: date) -> int | None:
        """Days from `today` until the v1 sunset (0 on or after it); None when it is none."""
        if self.buffer_v1_sunset is None:
            return None
        return max(0, (self.buffer_v1_sunset - today).days)

    def buffer_token(self, account: str) -> str:
        """The access token of `account`, from its environment variable or its _FILE."""
        var = self.buffer_token_vars.get(account)
        if var is None:
            raise ConfigError(f"no Buffer account named {account!r}: set {token_var(account)}")
        return _read_secret(self.environ, var) or ""


def default_web_workers() -> int:
    """gunicorn processes when GUNICORN_WORKERS is unset: 2 x cores + 1, capped."""
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WEB_WORKERS)


def token_var(account: str) -> str:
    """The environment variable that holds `account`'s Buffer token."""
    return TOKEN_PREFIX if account == DEFAULT_ACCOUNT else f"{TOKEN_PREFIX}_{account.upper()}"


def key_var(account: str) -> str:
    """The environment variable that holds `account`'s GraphQL API key."""
    return API_KEY_PREFIX if account == DEFAULT_ACCOUNT else f"{API_KEY_PREFIX}_{account.upper()}"


def parse_duration(name: str, value: str) -> float:
    """`90`, `90s`, `15m`, `1h` -> seconds; ConfigError naming `name` otherwise."""
    match = _DURATION_RE.match(value)
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)] if match else 0.0
    # finite: 400 digits are `inf` to float(); above 0 after the unit: 1e-321ms rounds to 0
    if not 0 < seconds < math.inf:
        raise ConfigError(f"{name}={value!r}: expected a positive duration like 90, 90s, 15m or 1h")
    return seconds


def _parse_delay(name: str, value: str) -> float:
    """Like parse_duration, but 0 is allowed (it turns the delay off)."""
    if value.strip() in ("0", "0s"):
        return 0.0
    return parse_duration(name, value)


def parse_rate_limit(name: str, value: str) -> RateLimit:
    """`COUNT/PERIOD` -> RateLimit; ConfigError naming `name` otherwise.

    The one rate-limit grammar of the project (BUFFER_RATE_LIMIT, `bridge sandbox
    --rate-limit`, the sandbox's control API), decided from what docs and tests use
    (`60/60s`, `60/1m`, `30/5`):

    * COUNT is a whole number >= 1. A limit of 0 would let no request through at
      all, so it is refused rather than read as "no limit".
    * PERIOD is a duration exactly as `parse_duration` reads it: a positive number
      with an optional unit ms, s, m, h or d (`60`, `60s`, `1m`, `0.5s`, `24h`,
      `30d`); no unit means seconds. It may not be left out: `5/` is refused, as a
      value cut short is likelier than one meant as "per second".

    Kept to one window per call so that a list of windows (`100/15m,250/24h`) is
    this function applied to each comma-separated part.
    """
    match = _RATE_RE.match(value)
    # at most MAX_RATE_DIGITS digits: int() refuses past 4300, and Redis counts in 64 bits
    if not match or len(match.group(1)) > MAX_RATE_DIGITS or int(match.group(1)) <= 0:
        raise ConfigError(f"{name}={value!r}: expected requests/period like 60/60s or 30/5s")
    try:
        period = parse_duration(name, match.group(2))
    except ConfigError:
        raise ConfigError(
            f"{name}={value!r}: expected requests/period like 60/60s or 30/5s "
            "(the period a positive duration: 90, 90s, 15m, 1h, 1d)"
        ) from None
    return RateLimit(int(match.group(1)), period)


def parse_rate_limits(name: str, value: str) -> tuple[RateLimit, ...]:
    """`COUNT/PERIOD[,COUNT/PERIOD...]` -> one RateLimit per window, in the order given.

    Each comma-separated part is read by `parse_rate_limit` (the one grammar);
    a request must fit every window. Empty parts (`60/60s,`) and a period given
    twice (`100/15m,200/900s`: which one holds?) raise ConfigError naming `name`.
    """
    parts = [part.strip() for part in value.split(",")]
    if not value.strip() or any(not part for part in parts):
        raise ConfigError(
            f"{name}={value!r}: expected requests/period windows like 60/60s or 100/15m,250/24h"
        )
    windows = tuple(parse_rate_limit(name, part) for part in parts)
    periods = [window.period for window in windows]
    if len(set(periods)) != len(periods):
        raise ConfigError(f"{name}={value!r}: each period may appear once")
    return windows


def _parse_sunset(name: str, value: str) -> date | None:
    """`YYYY-MM-DD`, or `none` (no sunset date logic)."""
    if value.strip().lower() == "none":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a date like 2027-02-01, or none") from None


def _parse_timeout(name: str, value: str) -> tuple[float, float]:
    """`5,30` (connect, read) or one number for both."""
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) <= 0:
        raise ConfigError(f"{name}={value!r}: expected seconds as CONNECT,READ like 5,30")
    return parts[0], parts[1]


def _parse_int(name: str, value: str, minimum: int = 1) -> int:
    """A whole number no smaller than `minimum`."""
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ConfigError(f"{name}={value!r}: expected a whole number >= {minimum}")
    return number


def _parse_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """One of `choices`."""
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def _parse_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    """A URL whose scheme is one of `schemes`."""
    scheme = value.split(":", 1)[0].split("+", 1)[0].lower() if ":" in value else ""
    if scheme not in schemes:
        raise ConfigError(f"{name}={value!r}: expected a URL starting with {' or '.join(schemes)}")
    return value


def _parse_flag(name: str, value: str) -> bool:
    """true/false (also 1/0, yes/no, on/off); ConfigError naming `name` otherwise."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _host_list(value: str) -> frozenset[str]:
    """`127.0.0.1, localhost, [::1]` -> the host names as URLs' hostnames read them."""
    hosts = (h.strip().lower().removeprefix("[").removesuffix("]") for h in value.split(","))
    return frozenset(h for h in hosts if h)


_NODE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}(@[A-Za-z0-9_.-]{1,255})?$")


def parse_worker_name(name: str, value: str) -> str:
    """A Celery node name, `name@host` or a bare `name` (the host name is added when the
    worker starts); empty means the default. ConfigError naming `name` for anything else
    (spaces, a second @, control characters), which Celery would take or mangle silently."""
    if value and not _NODE_NAME.match(value):
        raise ConfigError(
            f"{name}={value!r}: expected a Celery node name like worker1 or worker1@host "
            "(letters, digits, _ . -)"
        )
    return value


def _value(environ: Mapping[str, str], var: str, default: str) -> str:
    """`var` stripped, or `default` when it is unset or blank (an env file's `VAR=`)."""
    return environ.get(var, "").strip() or default


def _read_secret(environ: Mapping[str, str], var: str) -> str | None:
    """The value of `var`, or the contents of the file named by `var`_FILE."""
    if environ.get(var):
        return environ[var].strip()
    path = environ.get(f"{var}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"{var}_FILE={path!r}: cannot read the file ({exc.strerror})"
            ) from exc
    return None


def _token_vars(environ: Mapping[str, str], prefix: str = TOKEN_PREFIX) -> dict[str, str]:
    """Account name -> secret variable, for every `prefix`[_NAME][_FILE] set.

    `prefix` is BUFFER_ACCESS_TOKEN (v1 tokens) or BUFFER_API_KEY (GraphQL keys).
    """
    found: dict[str, str] = {}
    for key in environ:
        if not key.startswith(prefix) or not environ[key]:
            continue
        var = key.removesuffix("_FILE") if key != f"{prefix}_FILE" else prefix
        if var == prefix:
            found[DEFAULT_ACCOUNT] = var
            continue
        suffix = var.removeprefix(f"{prefix}_")
        if not var.startswith(f"{prefix}_") or not _ACCOUNT_RE.match(suffix):
            raise ConfigError(
                f"{key}: expected {prefix} or {prefix}_<NAME> with NAME in A-Z, 0-9, _"
            )
        found[suffix.lower()] = var
    return found


MIN_SECRET_KEY = 32
MAKE_SECRET_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
EMPTY_SECRET_KEY = "SECRET_KEY is set but empty"
NO_SECRET_KEY = (
    f"SECRET_KEY is empty or not set: the dashboard (/ui) is off and answers 503; set it to "
    f"{MIN_SECRET_KEY}+ random characters ({MAKE_SECRET_KEY}), or SECRET_KEY_FILE to a file"
)


def _parse_secret_key(value: str | None) -> str | None:
    """SECRET_KEY: long enough that a session cookie's signature cannot be guessed."""
    if value is not None and len(value) < MIN_SECRET_KEY:
        raise ConfigError(
            f"SECRET_KEY must have at least {MIN_SECRET_KEY} characters ({MAKE_SECRET_KEY})"
        )
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from `environ` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    get = env.get
    log_format = get("LOG_FORMAT", "json").lower()
    if log_format not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT={log_format!r}: expected json or text")
    log_level = get("LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL={log_level!r}: expected DEBUG, INFO, WARNING or ERROR")
    v1_limits = parse_rate_limits(
        "BUFFER_RATE_LIMIT", get("BUFFER_RATE_LIMIT", DEFAULT_BUFFER_RATE_LIMIT)
    )
    settings = Settings(
        buffer_api_url=_parse_url(
            "BUFFER_API_URL", get("BUFFER_API_URL", DEFAULT_BUFFER_API_URL), ("http", "https")
        ),
        buffer_token_vars=_token_vars(env),
        buffer_rate_limit=v1_limits[0],
        buffer_rate_limits=v1_limits,
        buffer_key_vars=_token_vars(env, API_KEY_PREFIX),
        buffer_graphql_url=_parse_url(
            "BUFFER_GRAPHQL_URL",
            _value(env, "BUFFER_GRAPHQL_URL", DEFAULT_BUFFER_GRAPHQL_URL),
            ("http", "https"),
        ),
        buffer_graphql_rate_limits=parse_rate_limits(
            "BUFFER_GRAPHQL_RATE_LIMIT",
            _value(env, "BUFFER_GRAPHQL_RATE_LIMIT", DEFAULT_BUFFER_GRAPHQL_RATE_LIMIT),
        ),
        buffer_v1_sunset=_parse_sunset(
            "BUFFER_V1_SUNSET", _value(env, "BUFFER_V1_SUNSET", DEFAULT_BUFFER_V1_SUNSET)
        ),
        buffer_write_reserve=_parse_int(
            "BUFFER_WRITE_RESERVE",
            _value(env, "BUFFER_WRITE_RESERVE", str(v1_limits[0].limit // 3)),
            minimum=0,
        ),
        buffer_timeout=_parse_timeout("BUFFER_TIMEOUT", get("BUFFER_TIMEOUT", "5,30")),
        buffer_request_timeout=_parse_timeout(
            "BUFFER_REQUEST_TIMEOUT", _value(env, "BUFFER_REQUEST_TIMEOUT", "2,3")
        ),
        schedules_cache_ttl=_parse_delay(
            "SCHEDULES_CACHE_TTL", _value(env, "SCHEDULES_CACHE_TTL", "30s")
        ),
        client_rate_limit=parse_rate_limit(
            "CLIENT_RATE_LIMIT", _value(env, "CLIENT_RATE_LIMIT", "600/60s")
        ),
        ping_rate_limit=parse_rate_limit(
            "PING_RATE_LIMIT", _value(env, "PING_RATE_LIMIT", "3/60s")
        ),
        wait_max_concurrent=_parse_int(
            "WAIT_MAX_CONCURRENT", _value(env, "WAIT_MAX_CONCURRENT", "8")
        ),
        redis_url=_parse_url(
            "REDIS_URL", get("REDIS_URL", DEFAULT_REDIS_URL), ("redis", "rediss", "unix")
        ),
        database_url=_parse_url(
            "DATABASE_URL",
            get("DATABASE_URL", DEFAULT_DATABASE_URL),
            ("sqlite", "postgresql", "postgres"),
        ),
        slack_signing_secret=_read_secret(env, "SLACK_SIGNING_SECRET"),
        snapshot_interval=parse_duration("SNAPSHOT_INTERVAL", get("SNAPSHOT_INTERVAL", "1h")),
        reconcile_interval=parse_duration("RECONCILE_INTERVAL", get("RECONCILE_INTERVAL", "60s")),
        reconcile_after=parse_duration("RECONCILE_AFTER", get("RECONCILE_AFTER", "120s")),
        rotation_interval=parse_duration("ROTATION_INTERVAL", get("ROTATION_INTERVAL", "60s")),
        rotation_late_after=parse_duration("ROTATION_LATE_AFTER", get("ROTATION_LATE_AFTER", "2m")),
        sync_max_attempts=_parse_int("SYNC_MAX_ATTEMPTS", get("SYNC_MAX_ATTEMPTS", "8")),
        sync_backoff_max=parse_duration("SYNC_BACKOFF_MAX", get("SYNC_BACKOFF_MAX", "10m")),
        post_lead_seconds=_parse_delay("POST_LEAD_SECONDS", get("POST_LEAD_SECONDS", "120")),
        adopt_interval=parse_duration("ADOPT_INTERVAL", get("ADOPT_INTERVAL", "30m")),
        sync_burst_window=_parse_delay("SYNC_BURST_WINDOW", get("SYNC_BURST_WINDOW", "5s")),
        sync_settle=_parse_delay("SYNC_SETTLE", get("SYNC_SETTLE", "1s")),
        sync_settle_max=parse_duration("SYNC_SETTLE_MAX", get("SYNC_SETTLE_MAX", "10s")),
        log_level=log_level,
        log_format=log_format,
        worker_metrics_port=_parse_int(
            "WORKER_METRICS_PORT", get("WORKER_METRICS_PORT", "9808"), minimum=0
        ),
        worker_metrics_host=_value(env, "WORKER_METRICS_HOST", DEFAULT_WORKER_METRICS_HOST),
        worker_name=parse_worker_name("WORKER_NAME", _value(env, "WORKER_NAME", "")),
        worker_queue=_parse_choice(
            "WORKER_QUEUE", _value(env, "WORKER_QUEUE", WORK_QUEUE), WORKER_QUEUES
        ),
        delivery_concurrency=_parse_int(
            "DELIVERY_CONCURRENCY", _value(env, "DELIVERY_CONCURRENCY", "8")
        ),
        metrics_token=_read_secret(env, "METRICS_TOKEN") or None,
        secret_key=_parse_secret_key(_read_secret(env, "SECRET_KEY") or None),
        webhook_delivery_retention=parse_duration(
            "WEBHOOK_DELIVERY_RETENTION", _value(env, "WEBHOOK_DELIVERY_RETENTION", "7d")
        ),
        prometheus_multiproc_dir=_value(env, "PROMETHEUS_MULTIPROC_DIR", "") or None,
        beat_heartbeat_file=_value(env, "BEAT_HEARTBEAT_FILE", DEFAULT_HEARTBEAT_FILE),
        web_bind=_value(env, "GUNICORN_BIND", DEFAULT_WEB_BIND),
        web_workers=_parse_int(
            "GUNICORN_WORKERS", _value(env, "GUNICORN_WORKERS", str(default_web_workers()))
        ),
        web_threads=_parse_int("GUNICORN_THREADS", _value(env, "GUNICORN_THREADS", "16")),
        web_timeout=_parse_int("GUNICORN_TIMEOUT", _value(env, "GUNICORN_TIMEOUT", "60")),
        web_graceful_timeout=_parse_int(
            "GUNICORN_GRACEFUL_TIMEOUT", _value(env, "GUNICORN_GRACEFUL_TIMEOUT", "30")
        ),
        web_read_timeout=_parse_int(
            "GUNICORN_READ_TIMEOUT", _value(env, "GUNICORN_READ_TIMEOUT", "10")
        ),
        forwarded_allow_ips=_value(env, "FORWARDED_ALLOW_IPS", DEFAULT_FORWARDED_ALLOW_IPS),
        followup_private_hosts=_host_list(_value(env, "FOLLOWUP_ALLOW_PRIVATE_HOSTS", "")),
        outbound_allow_private=_parse_flag(
            "OUTBOUND_ALLOW_PRIVATE", _value(env, "OUTBOUND_ALLOW_PRIVATE", "false")
        ),
        event_retention=parse_duration("EVENT_RETENTION", _value(env, "EVENT_RETENTION", "30d")),
        environ=env,
    )
    if settings.sync_backoff_max > MAX_BACKOFF:
        # a countdown must stay under the broker's visibility timeout, or tasks run twice
        raise ConfigError(f"SYNC_BACKOFF_MAX: expected at most {MAX_BACKOFF:g}s (1h)")
    if settings.buffer_write_reserve >= settings.buffer_rate_limit.limit:
        raise ConfigError(
            f"BUFFER_WRITE_RESERVE={settings.buffer_write_reserve}: expected fewer than the "
            f"{settings.buffer_rate_limit.limit} requests of BUFFER_RATE_LIMIT, or reads get none"
        )
    if settings.wait_max_concurrent >= settings.web_threads:
        raise ConfigError(
            f"WAIT_MAX_CONCURRENT={settings.wait_max_concurrent}: expected fewer than the "
            f"{settings.web_threads} GUNICORN_THREADS, so health checks always find a thread"
        )
    for account in settings.buffer_token_vars:
        settings.buffer_token(account)  # a missing _FILE stops start-up now, not mid-sync
    for account in settings.buffer_key_vars:
        settings.buffer_api_key(account)
    return settings


# Every variable the bridge reads, with its default and meaning: the README's table
# and the deployment files are checked against this list.
VARIABLES: dict[str, tuple[str, str]] = {
    "BUFFER_API_URL": (
        DEFAULT_BUFFER_API_URL,
        "Buffer API base URL (point it at `bridge sandbox`)",
    ),
    "BUFFER_ACCESS_TOKEN": ("(none)", "access token of the default Buffer account"),
    "BUFFER_ACCESS_TOKEN_<NAME>": ("(none)", "access token of a further Buffer account NAME"),
    "BUFFER_RATE_LIMIT": (
        DEFAULT_BUFFER_RATE_LIMIT,
        "Buffer v1 requests allowed per token, shared by every worker (windows: `60/60s,1000/24h`)",
    ),
    "BUFFER_API_KEY": ("(none)", "Buffer GraphQL API key of the default account"),
    "BUFFER_API_KEY_<NAME>": ("(none)", "Buffer GraphQL API key of a further account NAME"),
    "BUFFER_GRAPHQL_URL": (
        DEFAULT_BUFFER_GRAPHQL_URL,
        "Buffer GraphQL endpoint, POSTed to as given (point it at `bridge sandbox`)",
    ),
    "BUFFER_GRAPHQL_RATE_LIMIT": (
        DEFAULT_BUFFER_GRAPHQL_RATE_LIMIT,
        "Buffer GraphQL requests allowed per API key, every window shared by every worker",
    ),
    "BUFFER_V1_SUNSET": (
        DEFAULT_BUFFER_V1_SUNSET,
        "day Buffer's v1 API stops answering: writes end then (`none`: no date logic)",
    ),
    "BUFFER_TIMEOUT": (
        "5,30",
        "seconds to connect, read before a Buffer call gives up; their sum bounds a whole call",
    ),
    "BUFFER_WRITE_RESERVE": (
        "a third of BUFFER_RATE_LIMIT (20)",
        "Buffer requests per window that reads for callers leave to syncs (fewer than the limit)",
    ),
    "BUFFER_REQUEST_TIMEOUT": (
        "2,3",
        "seconds to connect, read for a Buffer call a caller waits on (GET .../schedules)",
    ),
    "SCHEDULES_CACHE_TTL": ("30s", "how long a live schedules read is served from Redis (0: off)"),
    "CLIENT_RATE_LIMIT": ("600/60s", "requests one API client may make (429 with Retry-After)"),
    "PING_RATE_LIMIT": ("3/60s", "test pings one API client may send to its subscriptions (429)"),
    "WAIT_MAX_CONCURRENT": (
        "8",
        "`?wait=` requests one web process holds at once (429 beyond; fewer than the threads)",
    ),
    "REDIS_URL": (DEFAULT_REDIS_URL, "Redis for the task queue, locks and the rate limiter"),
    "DATABASE_URL": (DEFAULT_DATABASE_URL, "SQLAlchemy URL of the store (SQLite or PostgreSQL)"),
    "SLACK_SIGNING_SECRET": ("(none)", "Slack app signing secret; /chat/slack is off without it"),
    "SNAPSHOT_INTERVAL": ("1h", "how often beat snapshots every profile's schedules"),
    "RECONCILE_INTERVAL": ("60s", "how often beat looks for operations left waiting"),
    "RECONCILE_AFTER": ("120s", "how long an operation may wait before it is re-woken"),
    "ROTATION_INTERVAL": ("60s", "how often beat fires the rotation steps that fell due"),
    "ROTATION_LATE_AFTER": (
        "2m",
        "a rotation run fired this long after its step counts as late (jobs say how late)",
    ),
    "SYNC_MAX_ATTEMPTS": ("8", "attempts at a retryable Buffer error before a job fails"),
    "SYNC_BACKOFF_MAX": ("10m", "longest wait between two attempts"),
    "SYNC_BURST_WINDOW": (
        "5s",
        "a change to a profile not synced for this long syncs at once (0: every change settles)",
    ),
    "SYNC_SETTLE": (
        "1s",
        "a change within that window waits until the profile has had no change for this long "
        "(0: every change syncs at once)",
    ),
    "SYNC_SETTLE_MAX": ("10s", "... but never longer than this after its oldest change"),
    "LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING or ERROR"),
    "LOG_FORMAT": ("json", "json (one object per line) or text"),
    "PROMETHEUS_MULTIPROC_DIR": ("(none)", "directory for metrics shared by gunicorn workers"),
    "WORKER_METRICS_PORT": ("9808", "port where a worker serves its /metrics (0 turns it off)"),
    "WORKER_METRICS_HOST": (
        DEFAULT_WORKER_METRICS_HOST,
        "address a worker's /metrics listens on (0.0.0.0 only on a private network)",
    ),
    "WORKER_NAME": (
        "worker-<WORKER_METRICS_PORT>@<host name>",
        "the worker's Celery node name, name or name@host (`bridge worker --name` too)",
    ),
    "WORKER_QUEUE": (
        WORK_QUEUE,
        f"what a `bridge worker` runs: {WORK_QUEUE} (syncs, snapshots, rotation, reconciler) "
        f"or {DELIVERY_QUEUE} (outbound events, in threads); run both kinds",
    ),
    "DELIVERY_CONCURRENCY": (
        "8",
        f"deliveries one {DELIVERY_QUEUE} worker sends at once (threads; one per subscription)",
    ),
    "METRICS_TOKEN": ("(none)", "bearer token the web /metrics asks for (unset: open)"),
    "SECRET_KEY": (
        "(none)",
        "signs the dashboard's (/ui) session cookies, 32+ characters; /ui is off without it "
        "(`bridge dev` makes one in its data directory)",
    ),
    "WEBHOOK_DELIVERY_RETENTION": ("7d", "how long answered signed webhooks are remembered"),
    "BEAT_HEARTBEAT_FILE": (DEFAULT_HEARTBEAT_FILE, "file beat touches on every tick"),
    "GUNICORN_BIND": (DEFAULT_WEB_BIND, "address:port the web process listens on under gunicorn"),
    "GUNICORN_WORKERS": ("2 x cores + 1, at most 8", "gunicorn worker processes"),
    "GUNICORN_THREADS": ("16", "threads per gunicorn worker (a `?wait=` request holds one)"),
    "GUNICORN_TIMEOUT": ("60", "seconds a silent gunicorn worker lives before it is restarted"),
    "GUNICORN_GRACEFUL_TIMEOUT": ("30", "seconds requests may run on after a stop or reload"),
    "GUNICORN_READ_TIMEOUT": (
        "10",
        "seconds a request (headers and body) may take to arrive; later: 408 (slow clients)",
    ),
    "FORWARDED_ALLOW_IPS": (
        DEFAULT_FORWARDED_ALLOW_IPS,
        "proxies whose X-Forwarded-* headers gunicorn trusts (`*`: any)",
    ),
    "FOLLOWUP_ALLOW_PRIVATE_HOSTS": (
        "(none)",
        "tests and local development only: hosts chat follow-ups may reach over http or "
        "at private addresses (never set in production)",
    ),
    "OUTBOUND_ALLOW_PRIVATE": (
        "false",
        "development, tests and the sandbox only: event subscriptions may use http and "
        "loopback/private addresses (never link-local 169.254.0.0/16)",
    ),
    "EVENT_RETENTION": ("30d", "how long outbound events and their delivery log are kept"),
}
