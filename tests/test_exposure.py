"""Issue 9 item 14 (the parts read from the code): what the web port and a worker expose.
/metrics may ask for a bearer token, a worker's metrics server listens on loopback unless
told otherwise, /docs and /redoc load pinned copies served by the app (no CDN), and
answered signed webhooks are pruned after WEBHOOK_DELIVERY_RETENTION."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge import auth, metrics, models, replays
from bridge.services import Services
from tasks.celery_app import beat_schedule
from tests.conftest import make_settings

STATIC = Path(__file__).resolve().parent.parent / "bridge" / "static" / "docs"


@pytest.mark.parametrize("extra_settings", [{"METRICS_TOKEN": "m3trics-s3cret"}])
def test_metrics_token_guards_metrics(client) -> None:
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer m3trics-s3cret"})
    assert right.status_code == 200 and b"bridge_" in right.data
    assert client.get("/healthz").status_code == 200  # health stays open


def test_without_a_metrics_token_metrics_stay_open(client) -> None:
    assert client.get("/metrics").status_code == 200


def test_worker_metrics_listen_on_loopback_by_default(monkeypatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        metrics, "start_http_server", lambda port, addr, registry: seen.update(addr=addr)
    )
    metrics.serve_worker_metrics(make_settings())
    assert seen["addr"] == "127.0.0.1"
    metrics.serve_worker_metrics(make_settings(WORKER_METRICS_HOST="0.0.0.0"))
    assert seen["addr"] == "0.0.0.0"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_no_third_party_script(client, page) -> None:
    html = client.get(page).get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert source.startswith("/static/docs/"), source  # served by the app itself
        asset = client.get(source)
        assert asset.status_code == 200, source
        relative = source.removeprefix("/static/docs/")
        assert asset.data == (STATIC / relative).read_bytes()


def test_vendored_docs_assets_match_their_pinned_hashes() -> None:
    lines = (STATIC / "VERSIONS").read_text().splitlines()
    assert any(line.startswith("swagger-ui-dist ") for line in lines)
    hashed = [line.split() for line in lines if re.match(r"^[0-9a-f]{64}  ", line)]
    assert len(hashed) >= 4
    for digest, name in hashed:
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name


def test_old_webhook_answers_are_pruned(services: Services) -> None:
    with services.db.session() as session:
        client, _token = auth.create_client(session, "signed", signing_secret=True)
        client_id = client.id
    replays.remember(services, client_id, "msg_old", 202, {"job_id": 1})
    replays.remember(services, client_id, "msg_new", 202, {"job_id": 2})
    with services.db.session() as session:
        old = session.scalars(
            select(models.WebhookDelivery).where(models.WebhookDelivery.webhook_id == "msg_old")
        ).one()
        old.created_at = models.utcnow() - dt.timedelta(days=8)
    assert replays.prune(services) == 1
    assert replays.seen(services, client_id, "msg_old") is None
    assert replays.seen(services, client_id, "msg_new") is not None
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(models.WebhookDelivery)) == 1


def test_beat_prunes_webhook_answers() -> None:
    timers = beat_schedule(make_settings())
    assert any(t["task"] == "tasks.deliveries.prune" for t in timers.values())
    from tasks import replays as task

    assert task.prune.name == "tasks.deliveries.prune"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_cannot_be_framed(client, page) -> None:
    """People paste tokens on these pages: no other site may frame them (issue 20)."""
    answer = client.get(page)
    assert answer.status_code == 200
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
