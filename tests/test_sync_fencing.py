"""Issue 9, item 2: a slowly dribbled Buffer answer must not let two syncs write one profile.

A small proxy in front of the sandbox plays a Buffer that dribbles its answer a few
bytes at a time: every read finishes well inside requests' read timeout, so only a
total deadline per call stops it, and only a renewed, fenced lock keeps a second sync
from writing meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests

from bridge import models, schedules, sync
from bridge.buffer.client import BufferClient
from bridge.errors import BufferUnavailable
from bridge.locks import ProfileLock
from bridge.services import Services
from tests.conftest import DOCS_PROFILE, SANDBOX_TOKEN, LocalServer, make_settings
from tests.conftest import job_row as job
from tests.conftest import submit_operation as submit


class DribblingBuffer(LocalServer):
    """A proxy to the sandbox that dribbles the next `slow_reads` schedule reads over
    `seconds` each (a few bytes at a time, each well within any read timeout)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.slow_reads = 0
        self.seconds = 4.0
        self.writes: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "content-type", "accept")
                }
                answer = requests.request(
                    method, proxy.upstream + self.path, data=body, headers=headers, timeout=10
                )
                slow = method == "GET" and "/schedules.json" in self.path and proxy.slow_reads
                if slow:
                    proxy.slow_reads -= 1
                if method == "POST":
                    proxy.writes.append(self.path)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", ""))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                if not slow:
                    self.wfile.write(answer.content)
                    return
                step = max(1, len(answer.content) // 40)
                pieces = [answer.content[i : i + step] for i in range(0, len(answer.content), step)]
                for piece in pieces:
                    try:
                        self.wfile.write(piece)
                        self.wfile.flush()
                    except OSError:  # the client gave up: what a deadline does
                        return
                    time.sleep(proxy.seconds / len(pieces))

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def log_message(self, *args: Any) -> None:
                return None

        self.url = f"http://127.0.0.1:{self.serve(Handler).server_port}/1/"


@pytest.fixture
def dribbling(buffer_sandbox: Any) -> Iterator[DribblingBuffer]:
    with DribblingBuffer(buffer_sandbox.root_url) as proxy:
        yield proxy


@pytest.fixture
def slow_services(
    settings: Any, dribbling: DribblingBuffer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """Services whose Buffer is the dribbling proxy, with BUFFER_TIMEOUT=0.5,0.5 and no
    lock margin: the lock lives 2 s, so a 4 s dribble outlives it unless it is renewed."""
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "BUFFER_API_URL": dribbling.url,
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "BUFFER_TIMEOUT": "0.5,0.5",
        "SYNC_SETTLE": "0",
    }
    monkeypatch.setattr(sync, "lock_ttl", lambda _services: 2.0)  # no margin
    built = Services(make_settings(**env))
    yield built
    built.close()


def test_a_dribbled_read_stops_at_the_deadline(dribbling):
    dribbling.slow_reads = 1
    started = time.monotonic()
    with (
        BufferClient(SANDBOX_TOKEN, base_url=dribbling.url, timeout=(0.5, 0.5)) as client,
        pytest.raises(BufferUnavailable) as caught,
    ):
        client.schedules(DOCS_PROFILE)
    assert time.monotonic() - started < 2.0  # the dribble lasts 4 s
    assert caught.value.retryable and "deadline" in caught.value.message


def test_two_syncs_never_lose_a_change_to_a_dribbled_answer(slow_services, dribbling):
    """The review's case: sync A's read of Buffer is dribbled past its lock's life; B takes
    the profile meanwhile and writes. Buffer must end as the succeeded jobs say."""
    services = slow_services
    first = submit(services, schedules.Operation.set("mon", "09:00"))
    dribbling.slow_reads = 1
    a = threading.Thread(target=sync.sync_profile, args=(services, DOCS_PROFILE))
    a.start()
    time.sleep(0.3)
    second = submit(services, schedules.Operation.set("mon", "10:00"))
    time.sleep(2.2)  # past the 2 s life an unrenewed lock would have had
    sync.sync_profile(services, DOCS_PROFILE)
    a.join(10)
    for _ in range(5):  # let any retry run out
        if sync.sync_profile(services, DOCS_PROFILE).state == "idle":
            break
    done = [job(services, first), job(services, second)]
    assert [j.status for j in done] == ["succeeded", "succeeded"]
    held = schedules.from_buffer(
        e.to_json() for e in services.buffer("default").schedules(DOCS_PROFILE)
    )
    for succeeded in done:  # what every succeeded job says Buffer holds, it holds
        assert schedules.from_buffer(succeeded.result["buffer"]["after"]) == held
    assert held["mon"] == ("10:00",)  # the newer change is the one Buffer holds


def test_the_renewer_keeps_the_lock_past_its_ttl(services):
    from bridge.locks import Renewer

    lock = ProfileLock(services.redis, DOCS_PROFILE, ttl=0.6)
    assert lock.acquire()
    with Renewer(lock, 0.6) as guard:
        time.sleep(1.5)
        assert guard.held()
        other = ProfileLock(services.redis, DOCS_PROFILE, ttl=5)
        assert not other.acquire()
    lock.release()


def test_a_sync_that_lost_its_lock_writes_and_records_nothing(services, buffer_sandbox):
    job_id = submit(services, schedules.Operation.set("mon", "09:00"))
    client = services.buffer("default")
    real = client.schedules
    thief = ProfileLock(services.redis, DOCS_PROFILE, ttl=30)

    def stolen(profile_id: str) -> Any:
        answer = real(profile_id)
        services.redis.delete(thief.key)  # our lock expired ...
        assert thief.acquire()  # ... and another sync took the profile
        return answer

    client.schedules = stolen  # type: ignore[method-assign]
    buffer_sandbox.sandbox.clear_requests()
    try:
        outcome = sync.sync_profile(services, DOCS_PROFILE)
    finally:
        del client.schedules
    assert outcome.state == "lost_lock" and outcome.retry_in == sync.BUSY_RETRY
    assert [r.method for r in buffer_sandbox.sandbox.recorded()] == ["GET"]  # no write
    assert job(services, job_id).status == models.RUNNING  # nothing recorded as done
    assert thief.owned()  # the new holder's lock is left alone
    thief.release()
    assert sync.sync_profile(services, DOCS_PROFILE).state == "succeeded"
