"""Authenticated API clients kept in each process, so a request with a bearer token seen
moments ago costs one Redis GET instead of a database transaction.

A kept client is trusted only while the clients' generation in Redis is the one it was
read under. Every commit that changes or deletes a client (a revocation) increments the
generation, so every process drops what it kept at its next request: a revoked token
stops working at once, as it did when each request read the database. The generation is
read before the database, so a revocation racing a lookup leaves an entry that is
already out of date.

With Redis unreachable nothing kept is used: the database answers, as before. An entry
also ends after MAX_AGE seconds, so a change whose increment could not reach Redis
(down at that moment, or made by hand in the database) holds within that time too.
Only successful lookups are kept: an unknown or revoked token always asks the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bridge import auth, models
from bridge.db import Database

log = logging.getLogger(__name__)
GENERATION_KEY = "bridge:clients:generation"
# seconds an entry lives whatever the generation says: the bound on a revocation that could
# not reach this process's Redis (a CLI run without the web's REDIS_URL, Redis down); a
# busy token is still read from the store only once per MAX_AGE per process
MAX_AGE = 2.0
MAX_ENTRIES = 1024  # tokens kept per process; the oldest goes first
_CHANGED = "bridge.clients-changed"  # session.info flag: this transaction changed a client


@dataclass(frozen=True)
class _Kept:
    client: models.ApiClient
    generation: Any  # the value Redis holds (bytes), None before the first change
    at: float


class ClientCache:
    """`authenticate(token)` as `auth.authenticate` answers it, kept per token hash."""

    def __init__(
        self,
        db: Database,
        client: redis.Redis,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.redis = client
        self.max_age = max_age
        self.clock = clock
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()
        watch_client_changes(db.sessions, self.bump)

    def authenticate(self, token: str | None) -> models.ApiClient:
        """The live client that owns `token`; Unauthorized otherwise (auth.authenticate)."""
        if not token:
            return self._from_store(token)
        digest = auth.hash_token(token)
        try:
            generation = self.redis.get(GENERATION_KEY)
        except redis.RedisError as error:
            log.debug("clients read from the store: Redis is unavailable (%s)", error)
            return self._from_store(token)
        kept = self._kept.get(digest)
        if kept and kept.generation == generation and self.clock() - kept.at < self.max_age:
            return kept.client
        client = self._from_store(token)
        self._keep(digest, _Kept(client, generation, self.clock()))
        return client

    def bump(self) -> None:
        """Make every process drop the clients it keeps (after a client changed)."""
        with self._lock:
            self._kept.clear()
        try:
            self.redis.incr(GENERATION_KEY)
        except redis.RedisError as error:
            log.warning(
                "a client changed but other processes were not told (Redis is unavailable: "
                "%s); what they keep ends within %.0f s",
                error,
                self.max_age,
            )

    def _from_store(self, token: str | None) -> models.ApiClient:
        with self.db.session() as session:
            return auth.authenticate(session, token)

    def _keep(self, digest: str, kept: _Kept) -> None:
        with self._lock:
            if digest not in self._kept and len(self._kept) >= MAX_ENTRIES:
                del self._kept[next(iter(self._kept))]  # the oldest entry
            self._kept[digest] = kept


def watch_client_changes(sessions: sessionmaker[Session], on_change: Callable[[], None]) -> None:
    """Call `on_change` after every commit of a session from `sessions` that changed or
    deleted an API client, whichever code made the change."""

    def note(session: Session, _context: Any, _instances: Any) -> None:
        touched = list(session.dirty) + list(session.deleted)
        if any(isinstance(obj, models.ApiClient) for obj in touched):
            session.info[_CHANGED] = True

    def after_commit(session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            on_change()

    def after_rollback(session: Session) -> None:
        session.info.pop(_CHANGED, None)

    event.listen(sessions, "before_flush", note)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", after_rollback)
