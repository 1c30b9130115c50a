"""The friction a new user met (issue 20 §5): answers and start-up. The Kubernetes items
are in tests/test_deploy_files.py; the CLI beside `bridge dev` and `events listen
--secret` in tests/test_issue20.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bridge import models
from tests.conftest import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
PROFILE_ID = "4eb854340acb04e870000010"  # @skinnyoteam in the sandbox
WEEKDAYS = {"days": "weekdays", "times": ["9am", "12:30", "5pm"]}


def job_done(client: Any, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body = client.get(f"/v1/jobs/{job_id}", headers=headers).get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_until(finished, timeout=20)


# -- answers: a JSON body not sent as JSON


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", None],
    ids=["form (curl -d)", "text", "none"],
)
def test_a_json_body_not_sent_as_json_is_told_so(client, auth_headers, content_type) -> None:
    headers = {**auth_headers, **({"Content-Type": content_type} if content_type else {})}
    answer = client.patch(
        "/v1/profiles/@skinnyoteam/schedules", data=json.dumps(WEEKDAYS), headers=headers
    )
    assert answer.status_code == 415, answer.get_json()
    body = answer.get_json()
    assert body["code"] == 415
    assert "the body must be JSON" in body["message"]
    assert "Content-Type: application/json" in body["message"]
    assert "days" not in json.dumps(body)  # not "days: Missing data for required field"


def test_a_post_without_a_body_needs_no_content_type(client, auth_headers) -> None:
    answer = client.post("/v1/snapshots", headers=auth_headers)
    assert answer.status_code == 202, answer.get_json()


def test_webhooks_still_take_forms(client, auth_headers) -> None:
    form = {"profile": "@skinnyoteam", "days": "weekdays", "times": "9am, 5pm"}
    answer = client.post("/hooks/zapier", data=form, headers=auth_headers)
    assert answer.status_code == 202, answer.get_json()
    answer = client.post("/hooks/ifttt", data=form, headers=auth_headers)
    assert answer.status_code == 202, answer.get_json()


# -- answers: a webhook's `action` error offers only what works


def test_an_unknown_webhook_action_offers_only_actions_that_work(client, auth_headers) -> None:
    body = {"action": "frobnicate", "profile": "@skinnyoteam", **WEEKDAYS}
    answer = client.post("/hooks/zapier", json=body, headers=auth_headers)
    assert answer.status_code == 422
    said = " ".join(answer.get_json()["errors"]["action"])
    assert "unknown action; one of: replace, set, add, remove, clear" in said
    for refused in ("pause", "resume", "unpause", "set_days"):
        assert refused not in said
    # pause is still answered with its reason, not as an unknown action
    pause = client.post("/hooks/zapier", json={**body, "action": "pause"}, headers=auth_headers)
    assert pause.status_code == 422
    assert "unknown action" not in json.dumps(pause.get_json())


# -- answers: profiles named by label


def test_job_events_name_the_profile_by_label(client, auth_headers, services, celery_worker):
    answer = client.patch(
        "/v1/profiles/@skinnyoteam/schedules", json=WEEKDAYS, headers=auth_headers
    )
    job_id = answer.get_json()["job_id"]
    assert job_done(client, auth_headers, job_id)["status"] == "succeeded"
    with services.db.session() as session:
        events = session.query(models.Event).filter_by(type="job.succeeded").all()
        (message,) = [
            e.payload["data"]["message"] for e in events if e.payload["data"]["job_id"] == job_id
        ]
    assert message.startswith(f"Done, job {job_id} (twitter:skinnyoteam): ")
    assert PROFILE_ID not in message


def test_clients_create_names_its_profiles_by_label(runner, settings) -> None:
    from bridge.cli import main

    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "BUFFER_API_URL": settings.buffer_api_url,
        "BUFFER_ACCESS_TOKEN": "sandbox-token",
    }
    result = runner.invoke(
        main, ["clients", "create", "zap", "--profiles", "@skinnyoteam"], env=env
    )
    assert result.exit_code == 0, result.output
    assert f"profiles=twitter:skinnyoteam ({PROFILE_ID}) read_only=False" in result.output
    listed = runner.invoke(main, ["clients", "list"], env=env)
    assert f"twitter:skinnyoteam ({PROFILE_ID})" in listed.output


# -- answers: ?refresh=1 says when the data was read


def test_a_refresh_answered_from_the_window_says_when_it_was_read(client, auth_headers) -> None:
    before = dt.datetime.now(dt.UTC)
    first = client.get("/v1/profiles?refresh=1", headers=auth_headers).get_json()
    read_at = dt.datetime.fromisoformat(first["refreshed_at"])
    assert before <= read_at <= dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    again = client.get("/v1/profiles?refresh=1", headers=auth_headers).get_json()
    assert again["stale"] is False
    # within 30 s of the first: not read again, and it says when it was
    assert dt.datetime.fromisoformat(again["refreshed_at"]) == read_at


# -- start-up: SECRET_KEY


def _web_start_warnings(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    import runpy

    for name in ("SECRET_KEY", "SECRET_KEY_FILE", "BUFFER_ACCESS_TOKEN", "BUFFER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    conf = runpy.run_module("bridge.gunicorn_conf")  # what gunicorn and `bridge serve` load
    said: list[str] = []
    conf["on_starting"](SimpleNamespace(log=SimpleNamespace(warning=said.append)))
    return said


@pytest.mark.parametrize("env", [{}, {"SECRET_KEY": ""}], ids=["unset", "empty"])
def test_the_web_warns_at_start_without_a_secret_key(monkeypatch, env) -> None:
    said = _web_start_warnings(monkeypatch, **env)
    (line,) = [line for line in said if "SECRET_KEY" in line]
    assert line.startswith("SECRET_KEY is empty or not set: the dashboard (/ui) is off")


def test_the_web_says_nothing_of_a_secret_key_it_has(monkeypatch) -> None:
    said = _web_start_warnings(monkeypatch, SECRET_KEY="k" * 48)
    assert not [line for line in said if "SECRET_KEY" in line]


def test_bridge_dev_says_an_empty_secret_key_is_replaced(monkeypatch, tmp_path, capsys) -> None:
    from bridge.devserver import DevSupervisor

    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    supervisor = DevSupervisor(8000, tmp_path)
    supervisor.secret_key()
    out = capsys.readouterr().out
    assert "warning: SECRET_KEY is set but empty; bridge dev uses its own" in out
    assert supervisor.env["SECRET_KEY_FILE"] == str((tmp_path / "secret_key").resolve())


# -- start-up: bridge dev's banner comes last


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")
def test_bridge_devs_banner_comes_after_the_childrens(tmp_path) -> None:
    """The sign-in link, token and curl were printed before the workers' and beat's own
    banners, and scrolled away under them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BUFFER_", "REDIS_", "DATABASE_", "SECRET_KEY"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    port = free_port()
    dev = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "dev", "--port", str(port), "--data-dir", "var"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert dev.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = dev.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "Ctrl-C stops everything" in line:
                break
        time.sleep(3)  # anything a child still had to say
    finally:
        os.killpg(dev.pid, signal.SIGINT)
        rest, _ = dev.communicate(timeout=60)
    lines += rest.splitlines()
    text = "\n".join(lines)
    token_at = next(i for i, line in enumerate(lines) if "client token:" in line)
    children = [
        i
        for i, line in enumerate(lines)
        if re.search(r"celery beat v\S+ .*is starting|^ -{14} \S+@\S+ v|^\[tasks\]", line)
    ]
    assert len(children) >= 5, text  # beat's, and each worker's banner and task list
    assert max(children) < token_at, text
    sign_in = next(i for i, line in enumerate(lines) if "sign in:" in line)
    assert max(children) < sign_in, text


# -- start-up: docs/zapier.md's worked example follows the README's curl


def _readme_curl() -> tuple[str, dict[str, Any]]:
    readme = (ROOT / "README.md").read_text()
    trying = readme[readme.index("## Trying it") :]
    match = re.search(
        r"curl -X PATCH \S+/v1/profiles/(\S+)/schedules.*?-d '(\{.*?\})'", trying, re.S
    )
    assert match, "README's curl"
    return match.group(1), json.loads(match.group(2))


def _zapier_example() -> tuple[dict[str, str], str]:
    doc = (ROOT / "docs" / "zapier.md").read_text()
    example = doc[doc.index("## Worked example") :]
    example = example[: example.index("\n## ", 5)]
    fields = dict(re.findall(r"--data-urlencode '([^=]+)=([^']*)'", example))
    outcome = re.search(r'"outcome": "([^"]+)"', example)
    assert fields and outcome, "docs/zapier.md's worked example"
    return fields, outcome.group(1)


def test_the_zapier_worked_example_follows_the_readmes_curl(
    client, auth_headers, api_token, celery_worker
) -> None:
    profile, body = _readme_curl()
    first = client.patch(f"/v1/profiles/{profile}/schedules", json=body, headers=auth_headers)
    assert job_done(client, auth_headers, first.get_json()["job_id"])["status"] == "succeeded"
    fields, outcome = _zapier_example()
    assert fields["schedule__profile"] == profile
    answer = client.post(f"/hooks/zapier/{api_token}?wait=20", data=fields)
    said = answer.get_json()
    assert said["status"] == "succeeded", said
    assert said["outcome"] == outcome
