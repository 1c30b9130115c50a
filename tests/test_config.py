"""Settings from the environment: defaults, accounts, and one-line errors naming the variable."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bridge.config import MAX_DEFAULT_WEB_WORKERS, RateLimit, load_settings, parse_rate_limits
from bridge.errors import ConfigError


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.buffer_api_url == "https://api.bufferapp.com/1/"
    assert settings.buffer_rate_limit == RateLimit(60, 60.0)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.snapshot_interval == 3600.0
    assert settings.account_names() == []


def test_accounts_from_token_variables(tmp_path: Path) -> None:
    secret = tmp_path / "brand-token"
    secret.write_text("from-a-file\n")
    settings = load_settings(
        {
            "BUFFER_ACCESS_TOKEN": "main",
            "BUFFER_ACCESS_TOKEN_BRAND_UK": "uk",
            "BUFFER_ACCESS_TOKEN_BRAND_FILE": str(secret),
        }
    )
    assert settings.account_names() == ["default", "brand", "brand_uk"]
    assert settings.buffer_token("default") == "main"
    assert settings.buffer_token("brand_uk") == "uk"
    assert settings.buffer_token("brand") == "from-a-file"
    assert "main" not in repr(settings) and "from-a-file" not in repr(settings)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("60/60s", RateLimit(60, 60)),
        ("30/5s", RateLimit(30, 5)),
        ("100/1m", RateLimit(100, 60)),
        ("10/2", RateLimit(10, 2)),
        ("60/60", RateLimit(60, 60)),
        ("5/0.5s", RateLimit(5, 0.5)),
        (" 250 / 24h ", RateLimit(250, 86400)),
        ("3000/30d", RateLimit(3000, 30 * 86400)),
    ],
)
def test_rate_limit_forms(value: str, expected: RateLimit) -> None:
    assert load_settings({"BUFFER_RATE_LIMIT": value}).buffer_rate_limit == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BUFFER_RATE_LIMIT", "sixty"),
        ("BUFFER_RATE_LIMIT", "x/60s"),
        ("BUFFER_RATE_LIMIT", "0/60s"),
        ("BUFFER_RATE_LIMIT", "60/0s"),
        ("BUFFER_RATE_LIMIT", "5/"),
        ("BUFFER_RATE_LIMIT", "60"),
        ("BUFFER_RATE_LIMIT", "60/60w"),
        ("BUFFER_RATE_LIMIT", "-1/60s"),
        ("BUFFER_API_URL", "ftp://example.com/"),
        ("BUFFER_TIMEOUT", "fast"),
        ("BUFFER_TIMEOUT", "1,2,3"),
        ("REDIS_URL", "localhost:6379"),
        ("DATABASE_URL", "mysql://x"),
        ("SNAPSHOT_INTERVAL", "hourly"),
        ("SNAPSHOT_INTERVAL", "0"),
        ("SYNC_MAX_ATTEMPTS", "0"),
        ("SYNC_BACKOFF_MAX", "5h"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "LOUD"),
        ("BUFFER_ACCESS_TOKEN_bad-name", "x"),
        ("BUFFER_ACCESS_TOKEN_FILE", "/nonexistent/token"),
        ("WORKER_NAME", "two words"),
        ("WORKER_NAME", "a@b@c"),
        ("WORKER_NAME", "name@"),
    ],
)
def test_malformed_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: value})
    message = str(caught.value)
    assert variable.split("_bad")[0] in message
    assert "\n" not in message


def test_nothing_is_read_at_import() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "BUFFER_RATE_LIMIT": "garbage", "DATABASE_URL": "nonsense"}
    modules = "bridge, bridge.config, bridge.cli, bridge.api.profiles, tasks.sync, tasks.snapshots"
    done = subprocess.run([sys.executable, "-c", f"import {modules}"], env=env, timeout=60)
    assert done.returncode == 0  # the environment is read on demand, not at import
    with pytest.raises(ConfigError):
        load_settings(env)


# ---- the web process and runtime files -------------------------------------------------


def test_runtime_defaults() -> None:
    settings = load_settings({})
    assert settings.prometheus_multiproc_dir is None
    assert settings.beat_heartbeat_file == "/tmp/bridge-beat.heartbeat"
    assert settings.web_bind == "0.0.0.0:8000"
    assert 1 <= settings.web_workers <= MAX_DEFAULT_WEB_WORKERS
    assert (settings.web_threads, settings.web_timeout, settings.web_graceful_timeout) == (
        16,
        60,
        30,
    )
    assert settings.forwarded_allow_ips == "127.0.0.1,::1"


def test_runtime_settings_from_the_environment() -> None:
    settings = load_settings(
        {
            "PROMETHEUS_MULTIPROC_DIR": "/run/metrics",
            "BEAT_HEARTBEAT_FILE": "/run/beat.heartbeat",
            "GUNICORN_BIND": "127.0.0.1:9000",
            "GUNICORN_WORKERS": "3",
            "GUNICORN_THREADS": "32",
            "GUNICORN_TIMEOUT": "90",
            "GUNICORN_GRACEFUL_TIMEOUT": "20",
            "FORWARDED_ALLOW_IPS": "*",
        }
    )
    assert settings.prometheus_multiproc_dir == "/run/metrics"
    assert settings.beat_heartbeat_file == "/run/beat.heartbeat"
    assert (settings.web_bind, settings.web_workers, settings.web_threads) == (
        "127.0.0.1:9000",
        3,
        32,
    )
    assert (settings.web_timeout, settings.web_graceful_timeout) == (90, 20)
    assert settings.forwarded_allow_ips == "*"


def test_blank_runtime_values_mean_the_default() -> None:
    # an env file's `GUNICORN_WORKERS=` (as in .env.example) is "not set"
    blank = load_settings({"GUNICORN_WORKERS": "", "PROMETHEUS_MULTIPROC_DIR": " "})
    assert blank.web_workers == load_settings({}).web_workers
    assert blank.prometheus_multiproc_dir is None


@pytest.mark.parametrize(
    "variable",
    [
        "GUNICORN_WORKERS",
        "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT",
        "GUNICORN_GRACEFUL_TIMEOUT",
        "GUNICORN_READ_TIMEOUT",
    ],
)
@pytest.mark.parametrize("value", ["0", "many"])
def test_malformed_gunicorn_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})


# --- Buffer's two APIs ----------------------------------------------------------------


def test_graphql_defaults() -> None:
    settings = load_settings({})
    assert settings.buffer_graphql_url == "https://api.buffer.com"
    assert settings.rate_limits("graphql") == (RateLimit(100, 900.0), RateLimit(250, 86400.0))
    assert settings.rate_limits("v1") == (RateLimit(60, 60.0),)
    assert settings.buffer_v1_sunset == date(2027, 2, 1)
    assert settings.account_names() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("60/60s", (RateLimit(60, 60.0),)),
        ("100/15m,250/24h", (RateLimit(100, 900.0), RateLimit(250, 86400.0))),
        (" 100/15m , 3000/30d ", (RateLimit(100, 900.0), RateLimit(3000, 30 * 86400.0))),
    ],
)
def test_parse_rate_limits(value: str, expected: tuple[RateLimit, ...]) -> None:
    assert parse_rate_limits("X", value) == expected


@pytest.mark.parametrize("value", ["", ",", "60/60s,", "60/60s,,1/1d", "100/15m,200/900s", "1/0s"])
def test_parse_rate_limits_refuses(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^X="):
        parse_rate_limits("X", value)


def test_v1_rate_limit_takes_several_windows_and_keeps_the_first_as_before() -> None:
    settings = load_settings({"BUFFER_RATE_LIMIT": "60/60s,1000/24h"})
    assert settings.buffer_rate_limit == RateLimit(60, 60.0)
    assert settings.rate_limits("v1") == (RateLimit(60, 60.0), RateLimit(1000, 86400.0))


def test_graphql_rate_limit_uses_the_same_grammar() -> None:
    with pytest.raises(ConfigError, match="BUFFER_GRAPHQL_RATE_LIMIT"):
        load_settings({"BUFFER_GRAPHQL_RATE_LIMIT": "100/15m,lots"})
    settings = load_settings({"BUFFER_GRAPHQL_RATE_LIMIT": "10/1m"})
    assert settings.rate_limits("graphql") == (RateLimit(10, 60.0),)


def test_accounts_by_token_key_or_both(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("key-from-file\n")
    settings = load_settings(
        {
            "BUFFER_ACCESS_TOKEN": "tok",
            "BUFFER_API_KEY": "key",
            "BUFFER_API_KEY_BRAND_FILE": str(key_file),
            "BUFFER_ACCESS_TOKEN_OLD": "tok2",
        }
    )
    assert settings.account_names() == ["default", "brand", "old"]
    assert settings.account_api("default") == "both"
    assert settings.account_api("brand") == "graphql"
    assert settings.account_api("old") == "v1"
    assert settings.buffer_api_key("default") == "key"
    assert settings.buffer_api_key("brand") == "key-from-file"
    with pytest.raises(ConfigError, match="BUFFER_API_KEY_OLD"):
        settings.buffer_api_key("old")
    with pytest.raises(ConfigError, match="BUFFER_API_KEY_NOPE or BUFFER_ACCESS_TOKEN_NOPE"):
        settings.account_api("nope")


@pytest.mark.parametrize(
    "env",
    [
        {"BUFFER_API_KEY_brand": "k"},
        {"BUFFER_API_KEYX": "k"},
        {"BUFFER_API_KEY_FILE": "/nonexistent/key"},
        {"BUFFER_GRAPHQL_URL": "ftp://api.buffer.com"},
        {"BUFFER_V1_SUNSET": "next february"},
    ],
)
def test_graphql_settings_refuse_garbage(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


def test_v1_sunset() -> None:
    settings = load_settings({"BUFFER_V1_SUNSET": "2027-02-01"})
    assert not settings.v1_past_sunset(date(2027, 1, 31))
    assert settings.v1_past_sunset(date(2027, 2, 1))
    assert settings.v1_days_left(date(2026, 12, 2)) == 61
    assert settings.v1_days_left(date(2027, 3, 1)) == 0
    off = load_settings({"BUFFER_V1_SUNSET": "None"})
    assert off.buffer_v1_sunset is None
    assert not off.v1_past_sunset(date(2099, 1, 1))
    assert off.v1_days_left(date(2099, 1, 1)) is None


def test_graphql_url_is_kept_as_given() -> None:
    url = "http://127.0.0.1:8765/graphql"
    assert load_settings({"BUFFER_GRAPHQL_URL": url}).buffer_graphql_url == url


@pytest.mark.parametrize(
    ("environ", "node"),
    [
        ({}, "worker-9808@{host}"),
        ({"WORKER_METRICS_PORT": "9900"}, "worker-9900@{host}"),
        ({"WORKER_NAME": "sync-a"}, "sync-a@{host}"),
        ({"WORKER_NAME": "sync-a@machine-a", "WORKER_METRICS_PORT": "0"}, "sync-a@machine-a"),
    ],
)
def test_worker_node_name(environ: dict[str, str], node: str) -> None:
    import socket

    from bridge.healthcheck import worker_node_name

    assert worker_node_name(load_settings(environ)) == node.format(host=socket.gethostname())
