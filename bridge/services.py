"""The wiring one process needs: settings, the store, Redis, the rate limiter, the queue,
and a Buffer client per account. Built once by create_app() or the Celery worker."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import redis

from bridge import metrics
from bridge.buffer.backend import AccountBackend, GraphQLBackend, HybridBackend, V1Backend
from bridge.buffer.client import BufferClient
from bridge.buffer.graphql import GraphQLClient
from bridge.buffer.http import OnCall
from bridge.client_cache import ClientCache
from bridge.config import RateLimit, Settings, key_var, token_var
from bridge.db import Database
from bridge.errors import ConfigError
from bridge.queue import DELIVER_EVENT, Queue
from bridge.ratelimit import RateLimiter

# the most database connections one process holds at once (SQLAlchemy's default, 5 + 10)
DB_CONNECTIONS_PER_PROCESS = 15


GRAPHQL_WRITE_RESERVE = 20  # of Buffer's 100 per 15 minutes; a fifth of smaller budgets


def graphql_reserve(limits: Sequence[RateLimit]) -> int:
    """Slots of every GraphQL window kept for posts placed and moved (reads wait first)."""
    return min(GRAPHQL_WRITE_RESERVE, min(int(w.limit) for w in limits) // 5)


class Services:
    """Everything a request handler or a task needs, built from one Settings.

    Metrics are wired here, not imported by the pieces: the Buffer clients report
    calls to `on_buffer_call` and the rate limiter reports its waits, both to
    bridge.metrics by default."""

    def __init__(self, settings: Settings, on_buffer_call: OnCall | None = None) -> None:
        self.settings = settings
        # keep a pooled connection per web thread, up to the same 15 per process as
        # SQLAlchemy's default (5 kept + 10 opened and closed on demand): with only 5
        # kept, threads 6 to 16 opened a new connection (a new PostgreSQL backend) per
        # session under load. A pool opens connections only when asked, so a worker
        # process keeps its one or two
        kept = min(settings.web_threads, DB_CONNECTIONS_PER_PROCESS)
        self.db = Database(
            settings.database_url,
            pool_size=kept,
            max_overflow=DB_CONNECTIONS_PER_PROCESS - kept,
        )
        self.redis = redis.Redis.from_url(
            settings.redis_url, socket_timeout=3, socket_connect_timeout=2
        )
        self.limiter = RateLimiter(
            self.redis,
            settings.rate_limits("v1"),
            on_wait=metrics.observe_rate_limit_wait,
            reserve=settings.buffer_write_reserve,
        )
        graphql_limits = settings.rate_limits("graphql")
        self.graphql_limiter = RateLimiter(
            self.redis,
            graphql_limits,
            on_wait=metrics.observe_rate_limit_wait,
            # listings of posts someone asked to see leave this many slots to placements
            reserve=graphql_reserve(graphql_limits),
        )
        # requests per API client (bridge.web.limits): the same window, other keys
        self.client_limiter = RateLimiter(
            self.redis, settings.client_rate_limit, prefix="bridge:client-rate"
        )
        # test pings per API client (bridge.web.limits): far tighter, each is a POST out
        self.ping_limiter = RateLimiter(
            self.redis, settings.ping_rate_limit, prefix="bridge:ping-rate"
        )
        self.queue = Queue(settings, self.redis)
        self.clients = ClientCache(self.db, self.redis)
        self.db.after_commit = self._send_deliveries
        self.on_buffer_call = on_buffer_call or metrics.observe_buffer_call
        self._clients: dict[tuple[str, bool], BufferClient] = {}
        self._graphql_clients: dict[tuple[str, bool], GraphQLClient] = {}
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

    def buffer_api_key(self, account: str) -> str:
        """The GraphQL API key of `account` (never stored). Raises ConfigError when the
        account has none or it is empty."""
        key = self.settings.buffer_api_key(account)
        if not key:
            raise ConfigError(f"{key_var(account)} is empty")
        return key

    def graphql(self, account: str, for_request: bool = False) -> GraphQLClient:
        """`account`'s GraphQL client, made on first use and shared like `buffer`; with
        `for_request`, the one with the short BUFFER_REQUEST_TIMEOUT."""
        with self._lock:
            client = self._graphql_clients.get((account, for_request))
            if client is None:
                client = GraphQLClient(
                    self.buffer_api_key(account),
                    url=self.settings.buffer_graphql_url,
                    timeout=self.settings.buffer_request_timeout
                    if for_request
                    else self.settings.buffer_timeout,
                    on_call=self.on_buffer_call,
                )
                self._graphql_clients[(account, for_request)] = client
            return client

    def backend(self, account: str, for_request: bool = False) -> AccountBackend:
        """`account` through the API(s) it is configured for (v1, GraphQL or both); with
        `for_request`, its calls use the short BUFFER_REQUEST_TIMEOUT (a caller waits).

        Raises ConfigError for an account named by neither BUFFER_ACCESS_TOKEN_<NAME>
        nor BUFFER_API_KEY_<NAME>."""
        api = self.settings.account_api(account)
        sunset = self.settings.buffer_v1_sunset
        v1 = V1Backend(
            account,
            lambda: self._buffer(account, for_request),
            lambda: self.buffer_token(account),
            self.limiter,
            sunset,
        )
        graphql = GraphQLBackend(
            account,
            lambda: self.graphql(account, for_request),
            lambda: self.buffer_api_key(account),
            self.graphql_limiter,
            self.redis,
            sunset,
        )
        if api == "v1":
            return v1
        if api == "graphql":
            return graphql
        return HybridBackend(v1, graphql)

    def _send_deliveries(self, delivery_ids: list[int]) -> None:
        """Wake a sender for each outbox row just committed (lost ones: the reconciler)."""
        for delivery_id in delivery_ids:
            self.queue.send(DELIVER_EVENT, delivery_id)

    def close(self) -> None:
        """Release connections (tests, shutdown)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for graphql in self._graphql_clients.values():
            graphql.close()
        self._graphql_clients.clear()
        self.db.dispose()
        self.redis.close()
