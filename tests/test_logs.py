"""Logs: one JSON object per line with its context, request ids echoed, secrets redacted."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from bridge import create_app, logs
from tests.conftest import make_settings


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` parsed as JSON (fails the test on a line that is not)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def json_app(database_url, redis_url):
    """The app logging JSON, as in production."""
    from bridge.services import Services

    settings = make_settings(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_FORMAT="json")
    services = Services(settings)
    yield create_app(settings, services)
    services.close()


def request_line(err: str) -> dict[str, Any]:
    """The access-log line among the captured output."""
    (line,) = [entry for entry in json_lines(err) if entry["logger"] == "bridge.request"]
    return line


def test_request_log_is_one_json_line_with_the_request_fields(json_app, capsys):
    response = json_app.test_client().get("/v1/jobs/12345")
    line = request_line(capsys.readouterr().err)
    assert response.status_code == 401
    assert set(line) >= {"ts", "level", "logger", "message", "request_id", "duration_ms"}
    assert line["ts"].endswith("Z")
    assert line["route"] == "/v1/jobs/<int:job_id>"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/jobs/12345", 401)
    assert line["source"] == "rest"
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_client_name_is_logged_once_known(json_app, capsys):
    from bridge import auth

    with json_app.extensions["bridge"].db.session() as session:
        _client, token = auth.create_client(session, "zap-account")
    json_app.test_client().get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert request_line(capsys.readouterr().err)["client"] == "zap-account"


def test_a_sane_request_id_is_kept_and_echoed(json_app, capsys):
    response = json_app.test_client().get("/healthz", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["X-Request-ID"] == "abc-123.x"
    line = request_line(capsys.readouterr().err)
    assert (line["request_id"], line["source"]) == ("abc-123.x", "health")


@pytest.mark.parametrize("header", ["", "has space", "x" * 200, "<script>", "a\tb"])
def test_an_insane_request_id_is_replaced(json_app, capsys, header):
    response = json_app.test_client().get("/healthz", headers={"X-Request-ID": header})
    echoed = response.headers["X-Request-ID"]
    assert echoed != header and len(echoed) == 32
    assert request_line(capsys.readouterr().err)["request_id"] == echoed


def test_context_stays_with_its_request(json_app, capsys):
    client = json_app.test_client()
    client.get("/healthz", headers={"X-Request-ID": "first"})
    logging.getLogger("bridge.test").info("between requests")
    lines = json_lines(capsys.readouterr().err)
    between = [line for line in lines if line["message"] == "between requests"]
    assert between and "request_id" not in between[0]


def test_text_format_for_humans(capsys):
    logs.configure("INFO", "text")
    logs.bind(request_id="r1", profile_id="p1")
    try:
        logging.getLogger("bridge.test").warning("hello %s", "world")
    finally:
        logs.clear()
    err = capsys.readouterr().err
    assert "WARNING bridge.test: hello world [request_id=r1 profile_id=p1]" in err


def test_extra_fields_exceptions_and_levels(capsys):
    logs.configure("INFO", "json")
    log = logging.getLogger("bridge.test")
    log.debug("not shown at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"profile_id": "abc"})
    (line,) = json_lines(capsys.readouterr().err)
    assert (line["level"], line["message"], line["profile_id"]) == ("ERROR", "failed", "abc")
    assert "ValueError: boom" in line["exc"]


def test_task_context_binds_ids_from_the_task_arguments():
    def sync_profile(profile_id: str) -> None: ...

    logs.bind_task(SimpleNamespace(run=sync_profile), "task-1", ["4eb8"], {})
    try:
        assert logs.context() == {"task_id": "task-1", "profile_id": "4eb8"}
    finally:
        logs.clear()
    assert logs.context() == {}


def test_bind_jobs_names_a_lone_job():
    logs.bind_jobs([7])
    assert logs.context() == {"job_ids": [7], "job_id": 7}
    logs.bind_jobs([7, 8])
    assert logs.context() == {"job_ids": [7, 8]}
    logs.clear()


# ---- redaction -------------------------------------------------------------------------

SECRET = "9f8e7d6c5b4a39281706"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"Authorization: Bearer {SECRET}", "Bearer [redacted]"),
        (f"authorization=bearer {SECRET}, next", "bearer [redacted]"),
        (f"client token bb_{SECRET}-_x", "bb_[redacted]"),
        (f"secret whsec_{SECRET}+/== here", "whsec_[redacted]"),
        (f"X-Slack-Signature: v0={SECRET}", "v0=[redacted]"),
        (f"webhook-signature: v1,{SECRET}AAAA+/=", "v1,[redacted]"),
        (f"GET /1/profiles.json?access_token={SECRET}&x=1", "access_token=[redacted]&x=1"),
        (f'{{"access_token": "{SECRET}"}}', '"access_token": "[redacted]"'),
        (f"POST /hooks/zapier/{SECRET} HTTP/1.1", "/hooks/zapier/[redacted] HTTP/1.1"),
        (f"/hooks/ifttt/{SECRET}?x=1", "/hooks/ifttt/[redacted]?x=1"),
        (f"GET /chat/slack?token={SECRET}", "?token=[redacted]"),
    ],
)
def test_redact_patterns(text, kept):
    redacted = logs.redact(text)
    assert SECRET not in redacted
    assert kept in redacted


def test_redact_leaves_ordinary_text_alone():
    text = "sync of 4eb854340acb04e870000010: 2 jobs, GET /v1/jobs/12 -> 200 in 0.3s"
    assert logs.redact(text) == text


def test_registered_secrets_are_redacted_raw_and_url_encoded():
    token = "1/registered-secret-42"
    logs.register_secrets([token, "short", None])
    assert logs.redact(f"token {token} and 1%2Fregistered-secret-42") == (
        "token [redacted] and [redacted]"
    )
    assert logs.redact("short stays") == "short stays"


def test_settings_secrets_are_the_buffer_tokens_and_slack_secret():
    settings = make_settings(
        BUFFER_ACCESS_TOKEN="default-token-1",
        BUFFER_ACCESS_TOKEN_OTHER="other-token-2",
        SLACK_SIGNING_SECRET="slack-secret-3",
    )
    assert sorted(logs.settings_secrets(settings)) == [
        "default-token-1",
        "other-token-2",
        "slack-secret-3",
    ]


def test_secrets_in_arguments_extras_and_tracebacks_are_redacted(capsys):
    logs.configure("INFO", "json")
    log = logging.getLogger("bridge.test")
    try:
        raise RuntimeError(f"Buffer said no to Bearer {SECRET}")
    except RuntimeError:
        log.exception("call %s failed", f"/hooks/zapier/{SECRET}", extra={"header": f"v0={SECRET}"})
    err = capsys.readouterr().err
    assert SECRET not in err
    (line,) = json_lines(err)
    assert line["message"] == "call /hooks/zapier/[redacted] failed"
    assert line["header"] == "v0=[redacted]"


class Keep(logging.Handler):
    """A bare handler (no filter, no formatter of ours) that keeps what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("name", ["bridge.test", "gunicorn.error", "werkzeug"])
def test_records_reach_any_handler_redacted(name):
    logs.install_scrubber()
    logger = logging.getLogger(name)
    keep = Keep()
    logger.addHandler(keep)
    try:
        raise RuntimeError(f"no to Bearer {SECRET}")
    except RuntimeError:
        logger.exception("token %s", f"bb_{SECRET}", extra={"url": f"/hooks/zapier/{SECRET}"})
    finally:
        logger.removeHandler(keep)
    (record,) = keep.records
    assert record.getMessage() == "token bb_[redacted]"
    assert record.url == "/hooks/zapier/[redacted]"
    assert "RuntimeError: no to Bearer [redacted]" in record.exc_text
    assert record.exc_info is None  # the exception itself never reaches a handler
    assert SECRET not in logging.Formatter().format(record)


# -- issue 20, item 5: a request path cannot forge a text log line

FORGED = "/x\r\n2026-12-05 18:00:00,000 WARNING bridge.auth: forged"


def test_a_text_line_escapes_control_characters_from_the_path(database_url, redis_url, capsys):
    from bridge.services import Services

    settings = make_settings(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_FORMAT="text")
    services = Services(settings)
    try:
        create_app(settings, services).test_client().get(FORGED.replace("\r\n", "%0D%0A"))
    finally:
        services.close()
    err = capsys.readouterr().err
    (line,) = [entry for entry in err.splitlines() if "bridge.request" in entry]
    assert "GET /x\\r\\n2026-12-05 18:00:00,000 WARNING bridge.auth: forged 404" in line
    assert not any(entry.startswith("2026-12-05 18:00:00,000") for entry in err.splitlines())


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("a\rb", "a\\rb"),
        ("a\nb", "a\\nb"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("a\x00b", "a\\x00b"),
        ("a\u2028b", "a\\u2028b"),
        ("a\u202eb", "a\\u202eb"),
        ("café ☕", "café ☕"),
    ],
)
def test_text_lines_escape_every_control_character(capsys, message, shown):
    logs.configure("INFO", "text")
    logs.bind(profile_id="p\n1")
    try:
        logging.getLogger("bridge.test").warning("said %s", message)
    finally:
        logs.clear()
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(f"bridge.test: said {shown} [profile_id=p\\n1]")


def test_a_text_traceback_is_indented_under_its_line(capsys):
    logs.configure("INFO", "text")
    try:
        raise ValueError("boom\n2026-12-05 18:00:00,000 WARNING forged \x1b[2J")
    except ValueError:
        logging.getLogger("bridge.test").exception("failed")
    first, *rest = capsys.readouterr().err.splitlines()
    assert first.endswith("bridge.test: failed") and rest
    assert all(line.startswith("  ") for line in rest)
    assert "  ValueError: boom" in rest
    assert "  2026-12-05 18:00:00,000 WARNING forged \\x1b[2J" in rest


def test_json_covers_gunicorns_own_lines(tmp_path) -> None:
    """Under `bridge serve` with LOG_FORMAT=json, every line is one JSON object, gunicorn's
    (starting, booting a worker, stopping) in the same shape as the app's."""
    import os

    import requests

    from tests.conftest import free_port, wait_until
    from tests.processes import Processes, answers

    port = free_port()
    (tmp_path / "metrics").mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "GUNICORN_WORKERS": "1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    processes = Processes(env, tmp_path)
    try:
        processes.start("web", "serve", "--port", str(port))
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30)
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        processes.stop()
    lines = json_lines((tmp_path / "web.log").read_text())
    app = [line for line in lines if line["logger"] == "bridge.request"]
    server = [line for line in lines if line["logger"].startswith("gunicorn")]
    assert app and len(server) >= 3  # started, booted a worker, stopped at least
    shape = list(app[0])[:4]
    assert shape == ["ts", "level", "logger", "message"]
    assert all(list(line)[:4] == shape for line in server)
    assert {line["level"] for line in server} <= {"DEBUG", "INFO", "WARNING", "ERROR"}
