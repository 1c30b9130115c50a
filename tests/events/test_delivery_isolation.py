"""Issue 20: a receiver that holds every request must not hold up syncs.

The reviewer's load, over real sockets and real processes as deployed (web, a `bridge`
worker, a `bridge-deliveries` worker, the sandbox as Buffer): a read-only client
subscribes a receiver that holds each request 10 s and answers 500, and sends pings;
meanwhile a schedule change must still reach Buffer in under a second."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge import schedules
from bridge.config import DELIVERY_QUEUE
from tests.conftest import RedisServer, serving, wait_until
from tests.processes import Stack

pytestmark = pytest.mark.integration
HOLD = 10.0  # seconds the receiver keeps each request before answering 500
WITHIN = 1.0  # a change reaches Buffer within this, whatever the receiver does


class SlowReceiver:
    """Holds every POST HOLD seconds (or until released), then answers 500; counts the
    requests it holds at once, per path (one path per subscription)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.holding: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.posts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.posts += 1
                    receiver.holding[self.path] += 1
                    receiver.most[self.path] = max(
                        receiver.most[self.path], receiver.holding[self.path]
                    )
                receiver.release.wait(HOLD)
                with receiver.lock:
                    receiver.holding[self.path] -= 1
                self.send_response(500)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def held(self) -> int:
        with self.lock:
            return sum(self.holding.values())


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    running = SlowReceiver()
    with serving(running.server):
        try:
            yield running
        finally:
            running.release.set()  # the held requests end before the server stops


@pytest.fixture
def stack(tmp_path: Path, redis_server: RedisServer, redis_url: str) -> Iterator[Stack]:
    """Sandbox, one web, a worker and a deliveries worker, as every deployment runs them."""
    built = Stack(
        tmp_path,
        redis_server,
        f"sqlite:///{tmp_path / 'bridge.db'}",
        OUTBOUND_ALLOW_PRIVATE="true",
    )
    try:
        built.start_sandbox(profiles=3)
        built.writer = built.prepare()  # type: ignore[attr-defined]
        reader = built.run("clients", "create", "reviewer", "--read-only")
        built.reader = reader.strip().splitlines()[-1]  # type: ignore[attr-defined]
        built.start_web()
        built.start_worker()
        shared = built.env
        built.env = {**shared, "WORKER_QUEUE": DELIVERY_QUEUE}
        built.start("deliveries", "worker")
        built.env = shared
        yield built
    finally:
        built.stop()


def _change_reaches_buffer(stack: Stack, headers: dict[str, str], profile: str) -> float:
    """Seconds from a change's 202 until the sandbox holds it (polled by the observer)."""
    wanted = schedules.make_week({"tue": ["06:15", "21:45"]}, "schedules")
    started = time.monotonic()
    answer = requests.put(
        f"{stack.bases[0]}/v1/profiles/{profile}/schedules",
        json={"schedules": [{"days": "tue", "times": ["06:15", "21:45"]}]},
        headers=headers,
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    wait_until(lambda: stack.week(profile) == wanted, timeout=60, interval=0.05)
    return time.monotonic() - started


def test_a_slow_receiver_does_not_hold_up_a_change(
    stack: Stack, slow_receiver: SlowReceiver
) -> None:
    base = stack.bases[0]
    reader = {"Authorization": f"Bearer {stack.reader}"}  # type: ignore[attr-defined]
    writer = {"Authorization": f"Bearer {stack.writer}"}  # type: ignore[attr-defined]
    stack.snapshot(stack.writer)  # type: ignore[attr-defined]
    made = [
        requests.post(
            f"{base}/v1/subscriptions",
            json={"url": f"{slow_receiver.url}/s{n}", "events": ["*"]},
            headers=reader,
            timeout=10,
        )
        for n in range(3)
    ]
    assert all(m.status_code == 201 for m in made), [m.text for m in made]
    ids = [m.json()["id"] for m in made]
    pings = [
        requests.post(f"{base}/v1/subscriptions/{i}/test", headers=reader, timeout=10)
        for i in (*ids, ids[0])
    ]
    assert [p.status_code for p in pings] == [202, 202, 202, 429]
    wait_until(lambda: slow_receiver.held() >= 3, timeout=30)

    profiles = stack.profile_ids(2)
    took = [_change_reaches_buffer(stack, writer, profile) for profile in profiles]
    # the first change's events now wait on the receiver too; the second went through
    print(f"changes reached Buffer in {took} s, receiver holding {slow_receiver.held()}")
    assert max(took) < WITHIN, f"changes took {took} with the receiver holding"
    assert slow_receiver.held() >= 3  # it was holding deliveries all along
    assert set(slow_receiver.most.values()) == {1}, slow_receiver.most  # one per subscription
