"""Slow clients against the web tier (issue 20): /healthz latency while N connections
each send one header line every 2 s and never finish their request (slowloris).

    python -m bench.slow_clients --target serve --connections 200 --seconds 30
    python -m bench.slow_clients --target compose --connections 200 --seconds 30
    python -m bench.slow_clients --target dev --connections 17 --seconds 30

Targets: `serve` is `bridge serve --workers 5` (the issue's case); `compose` is the
command docker-compose.yml's web service runs (`gunicorn -c python:bridge.gunicorn_conf
bridge.wsgi:app`, nothing in front of it) with GUNICORN_WORKERS=5; `dev` is `bridge dev`
(one gunicorn process of 16 threads, plus its worker, beat, Redis and the sandbox).

A connection the server closes (a 408 after the read deadline) is opened again at once,
so the attack keeps N connections for the whole run. A probe asks /healthz every 0.1 s
with a 5 s timeout; a probe that times out counts as 5,000 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from bench.harness import HOST, Figure, free_port, percentile, print_table, wait_until

PROBE_TIMEOUT = 5.0
PROBE_EVERY = 0.1
LINE_EVERY = 2.0


def _command(target: str, port: int, workers: int, data_dir: Path) -> list[str]:
    bridge = [sys.executable, "-m", "bridge.cli"]
    if target == "serve":
        return [*bridge, "serve", "--port", str(port), "--workers", str(workers)]
    if target == "dev":
        return [*bridge, "dev", "--port", str(port), "--data-dir", str(data_dir)]
    gunicorn = [sys.executable, "-m", "gunicorn"]
    return [*gunicorn, "-c", "python:bridge.gunicorn_conf", "bridge.wsgi:app"]


@contextlib.contextmanager
def server(target: str, workers: int) -> Iterator[str]:
    """The target running on a free port; yields its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp:
        env = {
            **os.environ,
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_BIND": f"{HOST}:{port}",
            "GUNICORN_WORKERS": str(workers),
        }
        if target != "dev":
            env.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bridge.db")
            env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
        log = open(Path(tmp) / "server.log", "ab")  # noqa: SIM115 (the child holds it)
        child = subprocess.Popen(
            _command(target, port, workers, Path(tmp) / "dev"),
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        base = f"http://{HOST}:{port}"
        try:
            wait_until(lambda: _answers(f"{base}/healthz"), timeout=90, what=target)
            yield base
        finally:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
            log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class Slowloris:
    """N connections that each send a request line, then one header line every 2 s; in a
    process of its own, so its work does not slow the probe's measurements."""

    def __init__(self, port: int, connections: int) -> None:
        self.port, self.connections = port, connections
        self.stop = multiprocessing.Event()
        self.opened = multiprocessing.Value("i", 0)
        self.cut = multiprocessing.Value("i", 0)
        self.process = multiprocessing.Process(target=self.run, daemon=True)

    def open(self, selector: selectors.BaseSelector) -> None:
        sock = socket.create_connection((HOST, self.port), timeout=5)
        sock.sendall(b"POST /v1/snapshots HTTP/1.1\r\nHost: bench\r\n")
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        with self.opened.get_lock():
            self.opened.value += 1

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        for _ in range(self.connections):
            self.open(selector)
        next_line = time.monotonic() + LINE_EVERY
        while not self.stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                with contextlib.suppress(OSError):
                    if sock.recv(65536):
                        continue
                selector.unregister(sock)  # answered (408) and closed: open another
                sock.close()
                with self.cut.get_lock():
                    self.cut.value += 1
                with contextlib.suppress(OSError):
                    self.open(selector)
            if time.monotonic() >= next_line:
                next_line += LINE_EVERY
                for key in list(selector.get_map().values()):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    with contextlib.suppress(OSError):
                        sock.send(b"X-Slow: %d\r\n" % int(time.monotonic()))
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]


def probe(base: str, seconds: float, slow: list[float] | None = None) -> tuple[list[float], int]:
    """/healthz every PROBE_EVERY for `seconds`: latencies in ms, and how many failed; the
    second (from the start) of each probe over 100 ms is added to `slow`."""
    latencies: list[float] = []
    failed = 0
    begun = time.monotonic()
    deadline = begun + seconds
    while time.monotonic() < deadline:
        at = time.monotonic() - begun
        started = time.perf_counter()
        try:
            ok = requests.get(f"{base}/healthz", timeout=PROBE_TIMEOUT).status_code == 200
        except requests.RequestException:
            ok = False
        elapsed = (time.perf_counter() - started) * 1000
        if not ok:
            failed += 1
            elapsed = max(elapsed, PROBE_TIMEOUT * 1000)
        latencies.append(elapsed)
        if slow is not None and elapsed > 100:
            slow.append(at)
        time.sleep(max(PROBE_EVERY - elapsed / 1000, 0))
    return latencies, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("serve", "compose", "dev"), default="serve")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn processes (not dev)")
    parser.add_argument("--quiet-seconds", type=float, default=10.0, help="probing before it")
    args = parser.parse_args()
    workers = 1 if args.target == "dev" else args.workers
    with server(args.target, workers) as base:
        quiet, _ = probe(base, args.quiet_seconds)
        attack = Slowloris(int(base.rsplit(":", 1)[1]), args.connections)
        attack.process.start()
        time.sleep(LINE_EVERY + 1)  # every connection has sent a line or two
        slow: list[float] = []
        latencies, failed = probe(base, args.seconds, slow)
        attack.stop.set()
        attack.process.join(10)
        opened, cut = attack.opened.value, attack.cut.value
    p99 = percentile(latencies, 99)
    title = (
        f"slow clients: {args.target}, {workers} process(es), "
        f"{args.connections} connections, {args.seconds:.0f} s"
    )
    print_table(
        title,
        [
            Figure(
                "/healthz p50 / p99, no attack",
                f"{percentile(quiet, 50):.1f} / {percentile(quiet, 99):.1f} ms",
            ),
            Figure("/healthz p50 under attack", f"{percentile(latencies, 50):.1f} ms"),
            Figure("/healthz p99 under attack", f"{p99:.1f} ms", "< 100 ms", p99 < 100),
            Figure("/healthz max under attack", f"{max(latencies):.1f} ms"),
            Figure("probes / failed or timed out", f"{len(latencies)} / {failed}", "0 failed"),
            Figure("attack connections opened / cut (408)", f"{opened} / {cut}"),
        ],
    )
    print("probes over 100 ms, seconds into the attack:", " ".join(f"{s:.1f}" for s in slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
