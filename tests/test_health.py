"""/healthz and /readyz: liveness, and readiness naming what is down."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from bridge import create_app
from bridge import db as db_module
from bridge.db import POOL_TIMEOUT, Database
from bridge.errors import ServiceUnavailable
from bridge.services import Services
from tests.conftest import free_port, make_settings


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.fixture
def app_with() -> Iterator[Any]:
    """Build an app from settings overrides; closes its services afterwards."""
    built: list[Services] = []

    def make(**overrides: str) -> Any:
        settings = make_settings(**overrides)
        services = Services(settings)
        built.append(services)
        return create_app(settings, services)

    yield make
    for services in built:
        services.close()


def test_readyz_names_redis_when_it_is_down(app_with, database_url):
    app = app_with(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["checks"] == {"database": "ok", "redis": "unavailable"}
    assert "redis" in body["message"] and "database" not in body["message"]


def test_readyz_names_the_database_when_it_is_down(app_with, redis_url):
    unreachable = f"postgresql+psycopg://bridge@127.0.0.1:{free_port()}/bridge"
    app = app_with(DATABASE_URL=unreachable, REDIS_URL=redis_url)
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["checks"] == {"database": "unavailable", "redis": "ok"}
    assert "database" in body["message"] and "redis" not in body["message"]


def test_readyz_names_both_when_both_are_down(app_with):
    app = app_with(
        DATABASE_URL=f"postgresql+psycopg://bridge@127.0.0.1:{free_port()}/bridge",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["message"] == "unavailable: database, redis"


def test_database_outage_503_does_not_show_the_driver_message(app_with, redis_url, caplog):
    """Issue 9 item 10: the 503 says "database unavailable"; host and port go to the log."""
    port = free_port()
    app = app_with(
        DATABASE_URL=f"postgresql+psycopg://bridge@127.0.0.1:{port}/bridge", REDIS_URL=redis_url
    )
    response = app.test_client().get("/v1/me", headers={"Authorization": "Bearer bb_x"})
    assert response.status_code == 503
    message = response.get_json()["message"]
    assert message == "the database is unavailable"
    assert str(port) not in response.get_data(as_text=True)
    assert "127.0.0.1" not in response.get_data(as_text=True)
    assert str(port) in caplog.text  # the detail is logged for the operator


def test_no_free_pooled_connection_is_a_503_in_seconds(database_url):
    """Every pooled connection busy (a swamped or half-down PostgreSQL): the request gets
    the 503 after the pool timeout, not a 500 (SQLAlchemy's own TimeoutError)."""
    db = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    held = db.engine.connect()
    try:
        started = time.monotonic()
        unavailable = pytest.raises(ServiceUnavailable, match="the database is unavailable")
        with unavailable, db.session() as session:
            session.execute(text("SELECT 1"))
        assert time.monotonic() - started < 2
    finally:
        held.close()
        db.dispose()
    with Database(database_url).session() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_a_postgres_that_never_answers_is_a_503_in_seconds(monkeypatch):
    """A server that takes the connection and then says nothing (a hung or half-dead
    host) costs a request CONNECT_TIMEOUT, not a thread for ever; pooled connections
    are pinged before use, so one a restart dropped is replaced rather than failed on."""
    assert db_module.CONNECT_TIMEOUT <= 5 and POOL_TIMEOUT <= 5
    monkeypatch.setattr(db_module, "CONNECT_TIMEOUT", 2)  # libpq's smallest
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever answers
        db = Database(f"postgresql+psycopg://bridge@127.0.0.1:{silent.getsockname()[1]}/b")
        assert db.engine.pool.timeout() == POOL_TIMEOUT and db.engine.pool._pre_ping
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            db.ping()
        assert time.monotonic() - started < 4.5
        db.dispose()
