"""openloop: a small open-loop (constant-rate) HTTP/1.1 load generator, stdlib asyncio.

Request k is *due* at start + k / rate, whatever happened to the ones before it; its
latency is measured from that due time to the last byte of its answer. A slow server
therefore cannot slow the generator down and hide its own slowness (coordinated
omission, the flaw of closed-loop tools such as wrk at a fixed rate): a request that
had to wait for a free connection counts its wait.

Requests go over a fixed pool of keep-alive connections; a request whose connection
the server had closed while idle (keep-alive timeout, a gunicorn worker recycled after
`max_requests`) is sent again on a new connection, from its original due time, and
counted as `resent`. Anything else that fails is an error.

    python bench/openloop.py --host 127.0.0.1 --port 8000 --rate 200 --duration 15 \\
        --requests requests.json        # [{"method", "path", "headers", "body"}, ...]

prints one JSON object: sent, statuses, errors, resent, achieved rate, latency
percentiles in ms. Used by bench/intake.py; runs alone too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (50, 90, 99, 99.9)


@dataclass(frozen=True)
class Spec:
    """One request to send (cycled through in order)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        """The request's bytes on the wire."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Result:
    """What a run measured."""

    latencies: list[float] = field(default_factory=list)  # seconds, due -> answered
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    resent: int = 0
    wall: float = 0.0
    late_starts: int = 0  # requests the scheduler itself put on the queue > 1 ms late

    def summary(self, expected_status: int) -> dict[str, Any]:
        """A JSON-ready summary; `errors` counts every answer other than `expected_status`
        and every request that got no answer."""
        ordered = sorted(self.latencies)
        answered = sum(self.statuses.values())
        wrong = answered - self.statuses.get(expected_status, 0)
        return {
            "sent": answered + sum(self.errors.values()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": dict(self.errors),
            "errors": wrong + sum(self.errors.values()),
            "resent": self.resent,
            "late_starts": self.late_starts,
            "wall_s": round(self.wall, 3),
            "rate": round(answered / self.wall, 1) if self.wall else 0.0,
            "latency_ms": {f"p{p:g}": round(_percentile(ordered, p) * 1000, 2) for p in PERCENTILES}
            | {"max": round(ordered[-1] * 1000, 2) if ordered else 0.0},
        }


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), int(pct / 100 * len(ordered) + 0.999999)))
    return ordered[rank - 1]


class StaleConnection(Exception):
    """The server closed a kept-alive connection before answering anything on it."""


class Connection:
    """One keep-alive HTTP/1.1 connection, opened on first use and again after a close."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0  # requests answered since it was opened

    async def request(self, raw: bytes) -> int:
        """Send `raw`, read the whole answer; its status. StaleConnection when a reused
        connection turns out closed before any byte came back."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
            self.used = 0
        assert self.reader is not None
        try:
            self.writer.write(raw)
            await self.writer.drain()
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), self.timeout)
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            reused = self.used > 0
            partial = isinstance(error, asyncio.IncompleteReadError) and error.partial
            self.close()
            if reused and not partial:
                raise StaleConnection() from error
            raise
        status, length, close = _parse_head(head)
        await asyncio.wait_for(self.reader.readexactly(length), self.timeout)
        self.used += 1
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, content length, server will close) from a response head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection":
            close = value.strip().lower() == "close"
        elif name == "transfer-encoding":
            raise ValueError("chunked answers are not supported by this generator")
    return status, length, close


async def run(
    host: str,
    port: int,
    specs: list[Spec],
    rate: float,
    duration: float,
    connections: int = 32,
    timeout: float = 10.0,
) -> Result:
    """Send rate x duration requests, open loop, over `connections` keep-alive connections."""
    total = int(rate * duration)
    raws = [spec.encode(f"{host}:{port}") for spec in specs]
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    result = Result()

    async def sender() -> None:
        conn = Connection(host, port, timeout)
        while (item := await queue.get()) is not None:
            number, due = item
            raw = raws[number % len(raws)]
            for _attempt in range(3):
                try:
                    status = await conn.request(raw)
                except StaleConnection:
                    result.resent += 1
                    continue
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
                    conn.close()
                    result.errors[type(error).__name__] += 1
                    break
                result.statuses[status] += 1
                result.latencies.append(time.perf_counter() - due)
                break
            else:
                result.errors["stale connections"] += 1
        conn.close()

    workers = [asyncio.create_task(sender()) for _ in range(connections)]
    started = time.perf_counter()
    for number in range(total):
        due = started + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001:
            result.late_starts += 1
        queue.put_nowait((number, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.wall = time.perf_counter() - started
    return result


def load_specs(path: str) -> list[Spec]:
    """Request specs from a JSON file: [{"method", "path", "headers", "body"}, ...]."""
    with open(path, encoding="utf-8") as handle:
        items = json.load(handle)
    return [
        Spec(i["method"], i["path"], dict(i.get("headers", {})), i.get("body", "").encode())
        for i in items
    ]


def main() -> int:
    """Entry point: run, print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--expect", type=int, default=200, help="the status that is a success")
    parser.add_argument("--requests", required=True, help="JSON file of request specs")
    args = parser.parse_args()
    specs = load_specs(args.requests)
    if not specs:
        print("no requests in the file", file=sys.stderr)
        return 2
    result = asyncio.run(
        run(args.host, args.port, specs, args.rate, args.duration, args.connections)
    )
    print(json.dumps(result.summary(args.expect)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
