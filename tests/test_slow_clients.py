"""Issue 20: slow clients cannot take the web tier's threads. A request reaches a thread
only once it has arrived whole (bridge/read_ahead.py); a late one is answered 408, an
oversized head 431, an oversized body 413, all in the bridge's error shape; ordinary
keep-alive, pipelined, chunked and `Expect: 100-continue` requests are served as before.

The server tests run real gunicorn processes (`bridge serve`, and the command of
docker-compose.yml's web service) on free ports, with 4 threads and a 2 s read deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bridge import MAX_BODY_BYTES
from bridge.read_ahead import HEAD_LIMIT, READY, Refusal, RequestReader
from tests.conftest import free_port, wait_until
from tests.processes import Processes, answers

THREADS = 4
READ_TIMEOUT = 2

# ---- the reader, on bytes --------------------------------------------------------------

GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def feed(*pieces: bytes, limit: int = 100) -> list[object]:
    reader = RequestReader(body_limit=limit)
    return [reader.feed(piece) for piece in pieces]


@pytest.mark.parametrize(
    ("pieces", "verdicts"),
    [
        ([GET], [READY]),
        ([GET[:10], GET[10:30], GET[30:]], [None, None, READY]),
        ([GET[i : i + 1] for i in range(len(GET))], [None] * (len(GET) - 1) + [READY]),
        ([b"\r\n" + GET], [READY]),  # an empty line before the request line is ignored
        ([b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", b"cde"], [None, READY]),
        ([b"POST / HTTP/1.1\r\ncontent-length:  5 \r\n\r\nabcde"], [READY]),
        (
            [b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", b"0\r\n\r\n"],
            [None, READY],
        ),
        (  # chunk extensions and trailers
            [
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2;x=y\r\nab\r\n0\r\nT: 1\r\n",
                b"\r\n",
            ],
            [None, READY],
        ),
        # framing gunicorn refuses from the head alone is handed over as it is
        ([b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"], [READY]),
        ([b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"], [READY]),
        ([b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"], [READY]),
    ],
)
def test_the_reader_says_when_a_request_is_whole(
    pieces: list[bytes], verdicts: list[object]
) -> None:
    assert feed(*pieces) == verdicts


def test_the_reader_refuses_oversized_heads_and_bodies() -> None:
    head = b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"a" * HEAD_LIMIT
    assert feed(head)[0] == Refusal(431, f"the request's headers are over {HEAD_LIMIT} bytes")
    too_long = b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"
    assert feed(too_long) == [Refusal(413, "body too large: the limit is 100 bytes")]
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    verdicts = feed(chunked, b"40\r\n" + b"a" * 64 + b"\r\n", b"40\r\n")
    assert verdicts[:2] == [None, None] and isinstance(verdicts[2], Refusal)
    assert verdicts[2].status == 413


def test_pipelined_bytes_stay_with_the_request() -> None:
    reader = RequestReader(body_limit=100)
    assert reader.feed(GET + GET[:5]) == READY
    assert bytes(reader.data) == GET + GET[:5]


# ---- real servers ------------------------------------------------------------------------


@pytest.fixture(params=["serve", "compose"])
def server(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[int]:
    """A gunicorn web process of one worker and 4 threads on a free port, started as
    `bridge serve` or as docker-compose.yml's web service starts it; yields the port."""
    port = free_port()
    env = web_env(tmp_path, redis_url, port)
    processes = Processes(env, tmp_path)
    try:
        if request.param == "serve":
            processes.start("web", "serve", "--port", str(port))
        else:
            log = open(tmp_path / "web.log", "ab")  # noqa: SIM115 (the child holds it)
            command = [sys.executable, "-m", "gunicorn", "-c", "python:bridge.gunicorn_conf"]
            child = subprocess.Popen([*command, "bridge.wsgi:app"], env=env, stdout=log, stderr=log)
            processes.children.append(child)
            processes.names[child.pid] = "web"
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30)
        yield port
    finally:
        processes.stop()


def web_env(tmp_path: Path, redis_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": str(THREADS),
        "WAIT_MAX_CONCURRENT": "2",
        "GUNICORN_READ_TIMEOUT": str(READ_TIMEOUT),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }


class Conn:
    """A client connection that reads whole responses, one at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.stream = self.sock.makefile("rb")

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """The next response (status, headers, body); a 100 has no body."""
        status_line = self.stream.readline()
        assert status_line, "closed without an answer"
        status = int(status_line.split()[1])
        headers = {}
        while (line := self.stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if status == 100 else int(headers.get("content-length", "0"))
        return status, headers, self.stream.read(length)

    def closed(self) -> bool:
        return self.stream.read(1) == b""


def ask(port: int, raw: bytes) -> tuple[int, dict[str, object]]:
    """Send `raw` on a new connection; the status and JSON body of the answer."""
    with Conn(port) as conn:
        with contextlib.suppress(OSError):  # refused before all was sent: the answer waits
            conn.send(raw)
        status, _, body = conn.response()
    return status, json.loads(body)


def healthz_times(port: int, seconds: float) -> list[float]:
    """Seconds each /healthz took, asked every 0.1 s for `seconds` (10 s timeout each)."""
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            ok = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        except requests.RequestException:
            ok = False
        times.append(time.monotonic() - started if ok else 99.0)
        time.sleep(0.1)
    return times


class Slow:
    """Connections that send `head`, then `drip` every `every` seconds until stopped."""

    def __init__(self, port: int, count: int, head: bytes, drip: bytes, every: float) -> None:
        self.conns = [Conn(port) for _ in range(count)]
        self.drip, self.every = drip, every
        self.stop = threading.Event()
        for conn in self.conns:
            conn.send(head)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.send(self.drip)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for conn in self.conns:
            conn.close()


def test_slow_headers_leave_healthz_fast(server: int) -> None:
    """5 times as many slowloris connections as threads: /healthz answers at once."""
    attack = Slow(server, THREADS * 5, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-a: b\r\n", 0.3)
    try:
        time.sleep(0.5)
        times = healthz_times(server, 1.5)
    finally:
        attack.close()
    assert max(times) < 1.0, times


def test_slow_bodies_leave_healthz_fast_and_are_served_once_whole(server: int) -> None:
    head = b"POST /hooks/zapier HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    body = b'{"action": "set"}'
    attack = Slow(server, THREADS * 2, head + b"Content-Length: %d\r\n\r\n" % len(body), b"", 0.3)
    try:
        time.sleep(0.5)
        times = healthz_times(server, 1.0)
        for conn in attack.conns:  # the bodies arrive at last: each is served
            conn.send(body)
        statuses = [conn.response()[0] for conn in attack.conns]
    finally:
        attack.close()
    assert max(times) < 1.0, times
    assert statuses == [401] * len(attack.conns)  # no token: the app read and answered it


def test_a_request_not_whole_within_the_deadline_is_answered_408(server: int) -> None:
    with Conn(server) as conn:
        conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        status, headers, body = conn.response()
        waited = time.monotonic() - started
        assert conn.closed()
    assert status == 408 and headers["connection"] == "close"
    assert (
        json.loads(body)["message"] == f"the request did not arrive whole within {READ_TIMEOUT} s"
    )
    assert READ_TIMEOUT - 0.5 < waited < READ_TIMEOUT + 2


def test_a_slow_body_is_cut_at_the_deadline_too(server: int) -> None:
    head = b"POST /hooks/zapier HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    attack = Slow(server, 1, head, b"a", 0.2)  # 5 bytes a second: 20 s for the body
    try:
        status, _, body = attack.conns[0].response()
    finally:
        attack.close()
    assert status == 408 and json.loads(body)["code"] == 408


def test_an_oversized_head_is_answered_431(server: int) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    head += b"X-Pad: " + b"a" * HEAD_LIMIT + b"\r\n\r\n"
    status, body = ask(server, head)
    assert status == 431
    assert body["message"] == f"the request's headers are over {HEAD_LIMIT} bytes"
    scraped = requests.get(f"http://127.0.0.1:{server}/metrics", timeout=10).text
    assert 'bridge_http_refused_total{status="431"} 1.0' in scraped


def test_an_oversized_body_is_answered_413_before_it_is_sent(server: int) -> None:
    length = MAX_BODY_BYTES + 1
    raw = b"POST /hooks/zapier HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length
    status, body = ask(server, raw)
    assert status == 413
    assert body["message"] == f"body too large: the limit is {MAX_BODY_BYTES} bytes"
    chunk = b"a" * 4096
    chunked = b"POST /hooks/zapier HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += (b"1000\r\n" + chunk + b"\r\n") * (MAX_BODY_BYTES // 4096 + 1)
    status, body = ask(server, chunked)
    assert status == 413 and body["code"] == 413


def test_keep_alive_pipelining_chunked_and_continue_still_work(server: int) -> None:
    with Conn(server) as conn:
        for _ in range(3):  # keep-alive: one connection, one request after another
            conn.send(GET)
            assert conn.response()[0] == 200
        conn.send(GET * 3)  # pipelined
        assert [conn.response()[0] for _ in range(3)] == [200, 200, 200]
        # chunked, and a pipelined request right behind it, split anywhere
        chunked = (
            b"POST /hooks/zapier HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Transfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n'
        )
        both = chunked + GET
        for cut in (10, len(chunked) - 3, len(chunked) + 5):
            conn.send(both[:cut])
            time.sleep(0.05)
            conn.send(both[cut:])
            assert [conn.response()[0] for _ in range(2)] == [401, 200]
        # Expect: 100-continue: one interim answer, then the body, then the answer
        body = b'{"action": "set"}'
        conn.send(
            b"POST /hooks/zapier HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert conn.response()[0] == 100
        conn.send(body + GET)
        assert [conn.response()[0] for _ in range(2)] == [401, 200]
        # Connection: close is answered, then the connection is closed
        conn.send(GET.replace(b"Host: x", b"Host: x\r\nConnection: close"))
        status, headers, _ = conn.response()
        assert status == 200 and headers["connection"] == "close"
        assert conn.closed()


def test_slow_connections_hold_a_stop_no_longer_than_the_read_deadline(
    tmp_path: Path, redis_url: str
) -> None:
    """A stopping worker waits for requests on their way in, up to their deadline (and
    answers 408), and closes idle kept-alive connections at once: never the 30 s of the
    graceful timeout."""
    port = free_port()
    processes = Processes(web_env(tmp_path, redis_url, port), tmp_path)
    try:
        web = processes.start("web", "serve", "--port", str(port))
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30)
        idle = Conn(port)
        idle.send(GET)
        assert idle.response()[0] == 200  # kept alive, then silent
        attack = Slow(port, THREADS * 2, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X: y\r\n", 0.3)
        time.sleep(0.5)
        started = time.monotonic()
        web.terminate()
        web.wait(30)
        stopped = time.monotonic() - started
        statuses = {conn.response()[0] for conn in attack.conns}
        attack.close()
        assert idle.closed()
    finally:
        processes.stop()
    assert statuses == {408}
    assert stopped < READ_TIMEOUT + 4, stopped
