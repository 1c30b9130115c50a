"""An ambiguous commit: the database commits a change, then the connection dies before the
acknowledgement. With an Idempotency-Key the bridge finds the stored job again and answers
202 with it; without one the 503 says the change may have been stored."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from bridge import models
from bridge.errors import DatabaseUnavailable

PATH = "/v1/profiles/@skinnyoteam/schedules"
BODY = {"days": "sat", "times": ["10am"]}


def lose_the_first_acknowledgement(services: Any, monkeypatch: Any, down_after: bool = False):
    """The next session that writes a job commits, then raises as a dropped connection
    would; with `down_after`, every session after it fails too (the database stays down)."""
    real = services.db.session
    state = {"lost": False}

    @contextmanager
    def session() -> Any:
        if state["lost"] and down_after:
            raise DatabaseUnavailable("the database is unavailable")
        with real() as inner:
            yield inner
            wrote = any(isinstance(o, models.Job) for o in inner.new)
        if wrote and not state["lost"]:
            state["lost"] = True
            raise DatabaseUnavailable("the database is unavailable")

    monkeypatch.setattr(services.db, "session", session)


def jobs_stored(services: Any) -> int:
    with services.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(models.Job)).scalar() or 0)


def test_with_a_key_the_stored_job_is_the_answer(client, services, auth_headers, monkeypatch):
    client.get("/v1/profiles?refresh=1", headers=auth_headers)
    lose_the_first_acknowledgement(services, monkeypatch)
    headers = {**auth_headers, "Idempotency-Key": "ambiguous-1"}
    answer = client.patch(PATH, json=BODY, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    assert jobs_stored(services) == 1
    again = client.patch(PATH, json=BODY, headers=headers)
    assert again.get_json()["job_id"] == answer.get_json()["job_id"]
    assert jobs_stored(services) == 1


def test_without_a_key_the_503_says_it_may_be_stored(client, services, auth_headers, monkeypatch):
    client.get("/v1/profiles?refresh=1", headers=auth_headers)
    lose_the_first_acknowledgement(services, monkeypatch)
    answer = client.patch(PATH, json=BODY, headers=auth_headers)
    assert answer.status_code == 503
    assert "may have been stored" in answer.get_json()["message"]
    assert "Idempotency-Key" in answer.get_json()["message"]


def test_a_database_that_stays_down_asks_for_a_retry_with_the_key(
    client, services, auth_headers, monkeypatch
):
    client.get("/v1/profiles?refresh=1", headers=auth_headers)
    lose_the_first_acknowledgement(services, monkeypatch, down_after=True)
    answer = client.patch(PATH, json=BODY, headers={**auth_headers, "Idempotency-Key": "k2"})
    assert answer.status_code == 503
    assert "retry with the same Idempotency-Key" in answer.get_json()["message"]
