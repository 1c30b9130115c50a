"""A request reaches a thread only once it has arrived whole (issue 20, slow clients).

gunicorn's gthread worker hands a connection to a thread as soon as its first byte
arrives; the thread then reads the headers and body at the client's pace. 17 clients
sending one header line every 2 s held every thread of a 16-thread process, and /healthz
timed out. `ReadAheadWorker` reads each request (head, then body) in the worker's event
loop, with non-blocking reads that hold no thread, and gives the connection to the thread
pool only when the request is complete, with its bytes already buffered in gunicorn's
parser; gunicorn then parses and serves it exactly as before.

Limits, each answered in the bridge's JSON error shape, then the connection is closed:
- 408 when a request has not arrived whole READ_TIMEOUT (10 s) after its first byte (or
  after the connection was opened); an idle connection that never sent a byte is closed
  without an answer, after the keep-alive time on a kept-alive connection;
- 431 when the head (request line and headers) is over HEAD_LIMIT bytes;
- 413 when the body is over the app's body limit (bridge.MAX_BODY_BYTES), said by its
  Content-Length at once, or counted as a chunked body arrives.
Anything else odd about the framing (two Content-Lengths, a Transfer-Encoding not ending
in chunked, a malformed Content-Length) is handed over as it is, for gunicorn's parser to
refuse (400) without reading further.

Why by hand: gunicorn's other workers either hold a thread or process per connection
(sync, gthread) or need an async framework the app does not use (gevent, eventlet,
tornado; ASGI). A buffering proxy in front (nginx) does the same job where there is one;
docker-compose.yml and `bridge dev` have none, so the web process must do it itself.
TLS and HTTP/2 are not read ahead (gunicorn's own path serves them): the bridge runs
neither, a proxy terminates TLS in front of it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import selectors
import socket
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from bridge.web.errors import error_body

READ_TIMEOUT = 10.0  # seconds from a request's first byte until it must have arrived whole
HEAD_LIMIT = 32 * 1024  # request line and headers, in bytes
RECV_SIZE = 64 * 1024
CHUNK_LINE_LIMIT = 4096  # a chunk-size line, extensions included
LINGER = 2.0  # seconds a refused connection is drained before it is closed
STOP_LINGER = 2.0  # seconds an idle kept-alive connection stays open once stopping
SWEEP_EVERY = 0.1  # seconds between looks for connections past their deadline

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True)
class Refusal:
    """The answer to a request that will not reach the app."""

    status: int
    message: str


READY = "ready"  # the request is complete (or malformed in a way gunicorn refuses)


def error_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer, closing the connection, in the bridge's JSON error shape."""
    body = json.dumps(error_body(status, message)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class RequestReader:
    """Decides, from the bytes received so far, whether one HTTP/1.x request is complete.

    `feed()` answers None (more is needed), READY, or a Refusal. After READY, `data` holds
    the request and whatever followed it (a pipelined request), unchanged."""

    def __init__(self, body_limit: int, head_limit: int = HEAD_LIMIT) -> None:
        self.body_limit, self.head_limit = body_limit, head_limit
        self.data = bytearray()
        self.body_start = -1  # index of the body's first byte, once the head is in
        self.length: int | None = None  # Content-Length, when the body has one
        self.chunked = False
        self.position = 0  # chunked: where the next chunk-size line starts
        self.received = 0  # chunked: body bytes counted so far
        self.continue_due = False  # the client waits for "100 Continue" to send its body
        self.scanned = 0  # the head's end is not before here (each byte is looked at once)

    @property
    def started(self) -> bool:
        """True once any byte of a request has arrived."""
        return bool(self.data)

    def feed(self, data: bytes) -> str | Refusal | None:
        self.data += data
        if self.body_start < 0:
            verdict = self._head()
            if verdict is not None or self.body_start < 0:
                return verdict
        if self.chunked:
            return self._chunks()
        if len(self.data) - self.body_start >= (self.length or 0):
            return READY
        return None

    def _head(self) -> str | Refusal | None:
        # empty lines before a request line are ignored (RFC 9112 section 2.2)
        while self.data[:1] in (b"\r", b"\n") and self.data[:2] != b"\r":
            del self.data[: 2 if self.data[:2] == b"\r\n" else 1]
        found = _HEAD_END.search(self.data, self.scanned, self.head_limit + 4)
        if found is None:
            if len(self.data) > self.head_limit:
                return Refusal(431, f"the request's headers are over {self.head_limit} bytes")
            self.scanned = max(len(self.data) - 3, 0)  # an end may straddle two reads
            return None
        self.body_start = found.end()
        lengths, codings = [], []
        for line in bytes(self.data[: found.start()]).split(b"\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                codings += [c.strip().lower() for c in value.split(b",")]
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                self.continue_due = True
        if codings:
            if codings[-1] != b"chunked" or lengths:
                return READY  # gunicorn refuses it (400) from the head alone
            self.chunked, self.position = True, self.body_start
        elif lengths:
            if len(lengths) > 1 or not lengths[0].isdigit():
                return READY  # likewise
            self.length = int(lengths[0])
            if self.length > self.body_limit:
                return self._too_large()
        if not self.length and not self.chunked:
            self.continue_due = False
        return None

    def _too_large(self) -> Refusal:
        return Refusal(413, f"body too large: the limit is {self.body_limit} bytes")

    def _chunks(self) -> str | Refusal | None:
        """Walk the chunks received so far; READY once the last chunk and trailers are in."""
        data = self.data
        while True:
            end = data.find(b"\r\n", self.position)
            if end < 0:
                if len(data) - self.position > CHUNK_LINE_LIMIT:
                    return Refusal(400, "a chunk-size line of the body is too long")
                return None
            size_text = bytes(data[self.position : end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return READY  # gunicorn refuses the malformed chunk
            if size == 0:
                # trailers, if any, end with an empty line
                if data[end + 2 : end + 4] == b"\r\n":
                    return READY
                return READY if data.find(b"\r\n\r\n", end) >= 0 else None
            self.received += size
            if self.received > self.body_limit:
                return self._too_large()
            following = end + 2 + size + 2  # the chunk's data and its CRLF
            if len(data) < following:
                return None
            self.position = following


class _Reading:
    """A connection's read-ahead state in the event loop."""

    def __init__(self, reader: RequestReader, deadline: float, idle: bool) -> None:
        self.reader = reader
        self.deadline = deadline
        self.idle = idle  # kept alive and silent so far: closing it needs no answer
        self.refused = False  # answered and draining before the close


class ReadAheadWorker(ThreadWorker):
    """gunicorn's gthread worker, reading every request whole before a thread serves it."""

    body_limit = 64 * 1024  # replaced by bridge.MAX_BODY_BYTES in __init__
    read_timeout = READ_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from bridge import MAX_BODY_BYTES

        self.body_limit = MAX_BODY_BYTES
        self.reading: dict[Any, _Reading] = {}
        self.next_sweep = 0.0

    def _reads_ahead(self, conn: Any) -> bool:
        """TLS and HTTP/2 prior knowledge go gunicorn's own way."""
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(
            self.cfg, conn.client
        )

    def accept(self, listener: Any) -> None:
        """A new connection waits in the loop for its first request."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if not self._reads_ahead(conn):
            client_sock.setblocking(True)
            self.enqueue_req(conn)
            return
        self._wait_for_request(conn, b"", idle=False)

    def _wait_for_request(self, conn: Any, buffered: bytes, idle: bool) -> None:
        """Read the connection's next request in the loop; `buffered` are bytes of it
        already received (a pipelined request read along with the previous one)."""
        reader = RequestReader(self.body_limit)
        now = time.monotonic()
        if idle and not buffered:
            deadline = now + (self.cfg.keepalive if self.alive else STOP_LINGER)
        else:
            deadline, idle = now + self.read_timeout, False
        state = _Reading(reader, deadline, idle)
        self._watch(conn, state)
        if buffered and self._advance(conn, state, buffered):
            self._unwatch(conn)

    def _watch(self, conn: Any, state: _Reading) -> None:
        conn.sock.setblocking(False)
        self.reading[conn] = state
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))

    def _unwatch(self, conn: Any) -> None:
        if self.reading.pop(conn, None) is not None:
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)

    def _readable(self, conn: Any, _sock: Any) -> None:
        state = self.reading.get(conn)
        if state is None:  # left the loop earlier in this round of events
            return
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        if state.refused:
            return  # draining what the client still sends after the answer
        if state.idle:
            state.idle, state.deadline = False, time.monotonic() + self.read_timeout
        if self._advance(conn, state, data):
            self._unwatch(conn)

    def _advance(self, conn: Any, state: _Reading, data: bytes) -> bool:
        """Feed bytes to the reader; True when the connection left the loop (handed to a
        thread). A refused request is answered here and left draining in the loop."""
        verdict = state.reader.feed(data)
        if verdict is None:
            if state.reader.continue_due:
                state.reader.continue_due = False
                conn.continue_sent = True
                self._send(conn, _CONTINUE)
            return False
        if isinstance(verdict, Refusal):
            self._refuse(conn, state, verdict)
            return False
        self._dispatch(conn, bytes(state.reader.data))
        return True

    def _dispatch(self, conn: Any, data: bytes) -> None:
        """Give a connection with a whole request buffered to the thread pool (the caller
        takes it out of the loop)."""
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True
        conn.parser.unreader.unread(data)
        conn.data_ready = True
        conn.sock.setblocking(True)
        self.enqueue_req(conn)

    def _send(self, conn: Any, data: bytes) -> None:
        """Best effort, without blocking: a few hundred bytes fit any socket buffer."""
        with contextlib.suppress(OSError):
            conn.sock.send(data)

    def _refuse(self, conn: Any, state: _Reading, refusal: Refusal) -> None:
        """Answer, half-close, and drain what the client still sends for LINGER seconds, so
        the answer is read rather than lost to a reset."""
        reason = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large"}
        reason[431] = "Request Header Fields Too Large"
        log = self.log.debug if refusal.status == 408 else self.log.info
        log("refused a request from %s: %s", conn.client, refusal.message)
        from bridge import metrics  # imported once the app has set up prometheus_client

        metrics.HTTP_REFUSED.labels(str(refusal.status)).inc()
        self._send(conn, error_response(refusal.status, reason[refusal.status], refusal.message))
        self._linger(conn, state)

    def _linger(self, conn: Any, state: _Reading) -> None:
        """Half-close, then drain what the client still sends for LINGER seconds in the
        loop (gunicorn's graceful close does this in a blocking call on the loop's thread,
        which a client that never closes held for 2 s)."""
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        state.refused, state.deadline = True, time.monotonic() + LINGER

    def _close(self, conn: Any) -> None:
        self._unwatch(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_keepalived(self, force: bool = False) -> None:
        """Also: close connections whose request is late (408) or that stayed silent."""
        super().murder_keepalived(force)
        now = time.monotonic()
        if not force and now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_EVERY
        for conn, state in list(self.reading.items()):
            if not self.alive and state.idle:
                state.deadline = min(state.deadline, now + STOP_LINGER)
            if not force and state.deadline > now:
                continue
            if state.refused or not state.reader.started or force:
                self._close(conn)
            else:
                timeout = f"the request did not arrive whole within {self.read_timeout:g} s"
                self._refuse(conn, state, Refusal(408, timeout))

    def finish_request(self, conn: Any, fs: Any) -> None:
        """A served connection that stays open waits in the loop for its next request;
        bytes of it the thread already read (pipelining) are kept."""
        if not self._reads_ahead(conn) or conn.is_http2:
            super().finish_request(conn, fs)
            return
        try:
            keepalive = fs.result() if not fs.cancelled() else False
        except Exception:
            keepalive = False
        try:
            if keepalive is True:
                self._wait_for_request(conn, conn.parser.unreader.take_buffered(), idle=True)
            else:
                state = _Reading(RequestReader(self.body_limit), 0.0, idle=False)
                self._watch(conn, state)
                self._linger(conn, state)
        except (OSError, ValueError):  # the thread closed the socket already
            self._unwatch(conn)
            self.nr_conns -= 1
            conn.close()

    def handle_request(self, req: Any, conn: Any) -> bool:
        """gunicorn's, without a second "100 Continue" when the loop sent one already."""
        if getattr(conn, "continue_sent", False):
            req._expected_100_continue = False
            conn.continue_sent = False
        return bool(super().handle_request(req, conn))
