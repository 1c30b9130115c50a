"""No secret ever reaches a log line or a job result.

Known values are set for every kind of secret (Buffer tokens, a client token, a
Standard Webhooks signing secret, the Slack signing secret, a Mattermost command
token); then every route of the app's url_map is driven (so routes added later are
covered without touching this file), with those secrets in headers, paths, query
strings and bodies, on success and error paths, plus a change the real worker
applies and one whose Buffer call fails. Everything logged (any logger, at DEBUG,
and anything written to the process's stdout/stderr) and every job is then searched.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from bridge import auth, logs, models
from bridge import sandbox as sim
from tests.conftest import wait_until

BUFFER_TOKEN = "1/bufsecret0a1b2c3d4e5f60718293a4b5c6d7e8f9"
REVOKED_TOKEN = "1/revokedsecret9f8e7d6c5b4a39281706f5e4d3c"
SLACK_SECRET = "slacksecret8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3"
SECRET_KEY = "uisessionkey1f2e3d4c5b6a7980a1b2c3d4e5f6a7b8"
MATTERMOST_TOKEN = "mmsecret5s4r3q2p1o0n9m8l7k6j"
PROFILE = "@skinnyoteam"
CHANGE = {"days": "weekdays", "times": ["9am", "5pm"]}
SKIP_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def buffer_sandbox() -> Iterator[sim.RunningSandbox]:
    """The sandbox accepting only our secret Buffer token (REVOKED_TOKEN gets a 401)."""
    running = sim.start(
        sim.SandboxConfig(
            seed=7, profiles=5, rate_limit=(600, 60.0), tokens={BUFFER_TOKEN: "default"}
        )
    )
    yield running
    running.stop()


@pytest.fixture
def extra_settings() -> dict[str, str]:
    """Settings holding every kind of configured secret."""
    return {
        "BUFFER_ACCESS_TOKEN": BUFFER_TOKEN,
        "BUFFER_ACCESS_TOKEN_REVOKED": REVOKED_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SECRET_KEY": SECRET_KEY,
        "SYNC_MAX_ATTEMPTS": "1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
    }


class Secrets:
    """The secret values of one test run."""

    def __init__(self, client_token: str, signing_secret: str) -> None:
        self.client_token = client_token
        self.signing_secret = signing_secret

    def values(self) -> list[str]:
        """Every secret, with the URL-encoded form of those a URL could carry."""
        raw = [
            BUFFER_TOKEN,
            REVOKED_TOKEN,
            SLACK_SECRET,
            SECRET_KEY,
            MATTERMOST_TOKEN,
            self.client_token,
            self.signing_secret,
            self.signing_secret.removeprefix("whsec_"),
        ]
        return raw + [quote(value, safe="") for value in raw if quote(value, safe="") != value]


@pytest.fixture
def secrets(services: Any) -> Secrets:
    """A client allowed everything, with a signing secret, Slack team and Mattermost token."""
    with services.db.session() as session:
        client, token = auth.create_client(
            session,
            "secret-test",
            signing_secret=True,
            slack_team="T0001",
            mattermost_token=MATTERMOST_TOKEN,
        )
        signing_secret = client.signing_secret
    assert signing_secret is not None
    return Secrets(token, signing_secret)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything any logger emits at DEBUG, formatted as in production; nothing on the
    handler redacts, so this also proves the record factory alone keeps secrets out."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    watched = [root, logging.getLogger("werkzeug"), logging.getLogger("celery")]
    for logger in watched:
        logger.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    for logger in watched:
        logger.removeHandler(handler)
    root.setLevel(level)


# ---- requests ----------------------------------------------------------------------------


def url_for_rule(rule: Any, secrets: Secrets, job_id: int, snapshot_id: int) -> str:
    """A concrete URL for `rule`: secrets where tokens go, real ids elsewhere."""
    values: dict[str, Any] = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if name == "token":
            values[name] = secrets.client_token
        elif kind == "IntegerConverter":
            values[name] = snapshot_id if "snapshot" in name else job_id
        elif kind == "PathConverter":
            values[name] = "x.js"
        else:
            values[name] = PROFILE
    url = rule.rule
    for name, converter_value in values.items():
        for pattern in (f"<{name}>", *(f"<{c}:{name}>" for c in ("int", "path", "string"))):
            url = url.replace(pattern, quote(str(converter_value), safe="@"))
    return url


def slack_headers(body: str) -> dict[str, str]:
    """Headers of a correctly signed Slack request."""
    stamp = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def signed_headers(secret: str, body: str) -> dict[str, str]:
    """Headers of a correctly signed Standard Webhooks request."""
    from standardwebhooks import Webhook

    msg_id, now = "msg_secret_test", datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        "Content-Type": "application/json",
    }


def variants(secrets: Secrets) -> list[dict[str, Any]]:
    """Request variants: anonymous, authorised, wrong token, malformed, signed, chat."""
    bearer = {"Authorization": f"Bearer {secrets.client_token}"}
    body = {**CHANGE, "profile": PROFILE, "text": f"set {PROFILE} weekdays 9am"}
    json_body = json.dumps(body)
    slack_form = f"token={MATTERMOST_TOKEN}&team_id=T0001&command=%2Fbuffer&text=help"
    return [
        {},
        {"headers": bearer, "json": body},
        {"headers": bearer, "json": {"unexpected": secrets.client_token}},
        {"headers": {"Authorization": "Bearer bb_wrongtoken0123456789abcdef"}, "json": body},
        {"headers": {"X-Bridge-Token": secrets.client_token}, "json": body},
        {"headers": {**bearer, "Content-Type": "application/json"}, "data": "{not json"},
        {"query_string": {"token": secrets.client_token, "access_token": BUFFER_TOKEN}},
        {"data": json_body, "headers": signed_headers(secrets.signing_secret, json_body)},
        {"data": json_body, "headers": signed_headers("whsec_" + "A" * 44, json_body)},
        {"data": slack_form, "headers": slack_headers(slack_form)},
        {
            "data": slack_form,
            "headers": {**slack_headers(slack_form), "X-Slack-Signature": "v0=00"},
        },
        {
            "data": f"token={MATTERMOST_TOKEN}&text=show%20{PROFILE}",
            "headers": {
                "Authorization": f"Token {MATTERMOST_TOKEN}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        },
    ]


def drive_every_route(app: Any, client: Any, secrets: Secrets) -> list[str]:
    """Send every variant to every method of every route; the response texts."""
    job_id, snapshot_id = known_ids(app)
    texts: list[str] = []
    rules = list(app.url_map.iter_rules())
    assert {"/healthz", "/readyz", "/metrics", "/v1/jobs"} <= {r.rule for r in rules}
    for rule in rules:
        url = url_for_rule(rule, secrets, job_id, snapshot_id)
        for method in sorted((rule.methods or set()) - SKIP_METHODS):
            for variant in variants(secrets):
                response = client.open(url, method=method, **variant)
                assert response.status_code < 500 or rule.rule == "/readyz", (
                    method,
                    url,
                    response.status_code,
                    response.get_data(as_text=True)[:300],
                )
                texts.append(f"{response.headers}\n{response.get_data(as_text=True)}")
    return texts


def known_ids(app: Any) -> tuple[int, int]:
    """An existing job id and snapshot id (made if there are none)."""
    with app.extensions["bridge"].db.session() as session:
        job = session.scalars(select(models.Job.id)).first()
        snapshot = session.scalars(select(models.Snapshot.id)).first()
    return job or 1, snapshot or 1


def finished_jobs(app: Any) -> list[models.Job]:
    """Every job, once none is queued, running or retrying."""
    db = app.extensions["bridge"].db

    def settled() -> list[models.Job] | None:
        with db.session() as session:
            rows = list(session.scalars(select(models.Job)))
        return rows if all(r.status not in models.PENDING_STATUSES for r in rows) else None

    return wait_until(settled, timeout=30, interval=0.2)


def job_texts(app: Any, client: Any, secrets: Secrets, rows: list[models.Job]) -> list[str]:
    """Each job as the API shows it and as the database stores it."""
    bearer = {"Authorization": f"Bearer {secrets.client_token}"}
    texts = []
    for row in rows:
        shown = client.get(f"/v1/jobs/{row.id}", headers=bearer).get_data(as_text=True)
        stored = json.dumps(
            [row.params, row.result, row.error_message, row.notify, row.client], default=str
        )
        texts += [shown, stored]
    return texts


def change(client: Any, secrets: Secrets) -> dict[str, Any]:
    """One schedule change through the REST API, waited for."""
    bearer = {"Authorization": f"Bearer {secrets.client_token}"}
    response = client.patch(f"/v1/profiles/{PROFILE}/schedules", json=CHANGE, headers=bearer)
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["job_id"]

    def done() -> dict[str, Any] | None:
        body = client.get(f"/v1/jobs/{job_id}", headers=bearer).get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_until(done, timeout=30)


# ---- the test ----------------------------------------------------------------------------


def test_no_secret_in_any_log_line_or_job_result(
    app, client, secrets, celery_worker, buffer_sandbox, captured_logs, capfd
):
    applied = change(client, secrets)
    assert applied["status"] == "succeeded", applied

    responses = drive_every_route(app, client, secrets)

    buffer_sandbox.sandbox.set_faults(error_rate=1.0)
    other = {"days": "weekends", "times": ["10:00"]}
    bearer = {"Authorization": f"Bearer {secrets.client_token}"}
    failing = client.patch(f"/v1/profiles/{PROFILE}/schedules", json=other, headers=bearer)
    assert failing.status_code == 202
    rows = finished_jobs(app)
    buffer_sandbox.sandbox.set_faults(error_rate=0.0)
    failed = [r for r in rows if r.id == failing.get_json()["job_id"]]
    assert failed[0].status == "failed" and failed[0].error_status == 500

    output = captured_logs.getvalue()
    out, err = capfd.readouterr()
    assert '"logger": "bridge.request"' in output  # the capture did see the request log
    places = {
        "log lines": output,
        "stdout": out,
        "stderr": err,
        "job results": "\n".join(job_texts(app, client, secrets, rows)),
        "responses": "\n".join(responses),
    }
    leaks = [
        (where, secret[:12])
        for where, text in places.items()
        for secret in secrets.values()
        if secret in text
    ]
    assert leaks == []
