"""The wiring one process needs: settings, the store, Redis, the rate limiter, the queue,
and a Buffer client per account. Built once by create_app() or the Celery worker."""

from __future__ import annotations

import threading

import redis

from bridge import metrics
from bridge.buffer.client import BufferClient, OnCall
from bridge.config import Settings, token_var
from bridge.db import Database
from bridge.errors import ConfigError
from bridge.queue import Queue
from bridge.ratelimit import RateLimiter


class Services:
    """Everything a request handler or a task needs, built from one Settings.

    Metrics are wired here, not imported by the pieces: the Buffer clients report
    calls to `on_buffer_call` and the rate limiter reports its waits, both to
    bridge.metrics by default."""

    def __init__(self, settings: Settings, on_buffer_call: OnCall | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.redis = redis.Redis.from_url(
            settings.redis_url, socket_timeout=3, socket_connect_timeout=2
        )
        self.limiter = RateLimiter(
            self.redis,
            settings.buffer_rate_limit,
            on_wait=metrics.observe_rate_limit_wait,
            reserve=settings.buffer_write_reserve,
        )
        # requests per API client (bridge.web.limits): the same window, other keys
        self.client_limiter = RateLimiter(
            self.redis, settings.client_rate_limit, prefix="bridge:client-rate"
        )
        self.queue = Queue(settings, self.redis)
        self.on_buffer_call = on_buffer_call or metrics.observe_buffer_call
        self._clients: dict[tuple[str, bool], BufferClient] = {}
        self._lock = threading.Lock()

    def buffer_token(self, account: str) -> str:
        """The access token of `account`, read from the environment (never stored).

        Raises ConfigError when the account is unknown or its token is empty."""
        token = self.settings.buffer_token(account)
        if not token:
            raise ConfigError(f"{token_var(account)} is empty")
        return token

    def buffer(self, account: str) -> BufferClient:
        """`account`'s Buffer client, made on first use and shared by every thread of this
        process (one connection pool per account). Raises ConfigError as buffer_token."""
        return self._buffer(account, for_request=False)

    def buffer_for_request(self, account: str) -> BufferClient:
        """`account`'s Buffer client for calls a caller waits on (a web request): the short
        BUFFER_REQUEST_TIMEOUT, so a slow Buffer holds a web thread seconds, not half a
        minute. Raises ConfigError as buffer_token."""
        return self._buffer(account, for_request=True)

    def _buffer(self, account: str, for_request: bool) -> BufferClient:
        with self._lock:
            client = self._clients.get((account, for_request))
            if client is None:
                settings = self.settings
                client = BufferClient(
                    self.buffer_token(account),
                    base_url=settings.buffer_api_url,
                    timeout=settings.buffer_request_timeout
                    if for_request
                    else settings.buffer_timeout,
                    on_call=self.on_buffer_call,
                )
                self._clients[(account, for_request)] = client
            return client

    def close(self) -> None:
        """Release connections (tests, shutdown)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self.db.dispose()
        self.redis.close()
