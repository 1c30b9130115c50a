"""The Redis rate limiter and profile lock, against a real private redis-server."""

from __future__ import annotations

import threading
import time

import redis

from bridge.config import RateLimit
from bridge.locks import ProfileLock
from bridge.ratelimit import RESERVE_MARGIN, RateLimiter, token_key


def test_limiter_hands_out_exactly_the_limit(redis_url: str) -> None:
    limiter = RateLimiter(redis.Redis.from_url(redis_url), RateLimit(5, 2.0))
    waits = [limiter.acquire("tok") for _ in range(7)]
    assert waits[:5] == [0.0] * 5
    assert 0 < waits[5] <= 2.0 + RESERVE_MARGIN and 0 < waits[6] <= 2.0 + RESERVE_MARGIN
    assert waits[5] > 2.0 - 0.5  # the slots really are held for the period
    assert limiter.acquire("other-token") == 0.0  # per token


def test_limiter_takes_several_slots_or_none(redis_url: str) -> None:
    limiter = RateLimiter(redis.Redis.from_url(redis_url), RateLimit(3, 5.0))
    assert limiter.acquire("tok", 2) == 0.0
    assert limiter.acquire("tok", 2) > 0  # only one left: nothing taken
    assert limiter.acquire("tok", 1) == 0.0


def _score_ages(client: redis.Redis, key: str) -> list[float]:
    """now - score of every slot of `key`, oldest first (negative: scored ahead of now)."""
    seconds, micros = client.time()
    now = seconds + micros / 1e6
    return [now - score for _member, score in client.zrange(key, 0, -1, withscores=True)]


def test_a_reserved_slot_is_scored_the_margin_ahead(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, RateLimit(2, 1.0))
    taken = limiter.take("tok", 2)
    assert taken.wait == 0.0 and len(taken.members) == 2
    ages = _score_ages(client, token_key("tok"))
    assert all(-RESERVE_MARGIN - 0.05 < age <= -RESERVE_MARGIN + 0.05 for age in ages)
    # held for the period plus the margin: Buffer may count the calls a little later
    assert 1.0 + RESERVE_MARGIN - 0.1 < limiter.acquire("tok") <= 1.0 + RESERVE_MARGIN


def test_a_stamped_slot_is_held_from_its_calls_end(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, RateLimit(1, 0.5))
    taken = limiter.take("tok", 1)
    time.sleep(0.1)
    taken.stamp()  # the call ended now: Buffer counted it by then, not later
    assert all(abs(age) < 0.05 for age in _score_ages(client, token_key("tok")))
    assert 0.5 - 0.1 < limiter.acquire("tok") <= 0.5 + 0.01  # no margin left to wait out
    slow = RateLimiter(client, RateLimit(1, 0.5)).take("slow", 1)
    time.sleep(0.6)  # a call longer than the reservation's margin
    slow.stamp()
    assert limiter.acquire("slow") > 0.5 - 0.1  # held a full period from its end


def test_released_slots_are_free_again_and_stamped_ones_stay(redis_url: str) -> None:
    limiter = RateLimiter(redis.Redis.from_url(redis_url), RateLimit(2, 30.0))
    taken = limiter.take("tok", 2)
    taken.stamp()  # the read was made
    taken.release()  # the write was not
    taken.stamp()  # nothing left to stamp: no effect
    assert limiter.acquire("tok") == 0.0  # the released slot
    assert limiter.acquire("tok") > 0  # the read's slot is still held


def test_a_refused_take_holds_nothing(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, RateLimit(1, 30.0))
    assert limiter.take("tok", 1).wait == 0.0
    refused = limiter.take("tok", 1)
    assert refused.wait > 0 and refused.members == []
    refused.release()
    assert client.zcard(token_key("tok")) == 1


def test_limiter_holds_across_clients_and_threads(redis_url: str) -> None:
    granted: list[float] = []

    def worker() -> None:
        limiter = RateLimiter(redis.Redis.from_url(redis_url), RateLimit(20, 10.0))
        for _ in range(10):
            granted.append(limiter.acquire("shared"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for wait in granted if wait == 0.0) == 20


def test_limiter_never_stores_the_token(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    RateLimiter(client, RateLimit(5, 1.0)).acquire("secret-token-value")
    keys = [k.decode() for k in client.keys("*")]
    assert keys == [token_key("secret-token-value")]
    assert "secret-token-value" not in keys[0]


def test_lock_is_exclusive_and_owner_checked(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first = ProfileLock(client, "p1", ttl=5)
    second = ProfileLock(client, "p1", ttl=5)
    assert first.acquire()
    assert not second.acquire()
    assert not second.release()  # not the owner: the lock stays
    assert client.exists(first.key)
    assert first.release()
    assert second.acquire()


def test_lock_expires(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    ProfileLock(client, "p2", ttl=0.05).acquire()
    import time

    time.sleep(0.1)
    assert ProfileLock(client, "p2", ttl=5).acquire()


def test_lock_owned_follows_acquire_release_and_expiry(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    lock = ProfileLock(client, "p3", ttl=0.2)
    assert not lock.owned()
    assert lock.acquire() and lock.owned()
    assert not ProfileLock(client, "p3", ttl=5).owned()  # another holder's view
    assert lock.release() and not lock.owned()
    assert lock.acquire()
    time.sleep(0.3)
    assert not lock.owned()


def test_lock_extend_keeps_it_from_now_only_while_owned(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    lock = ProfileLock(client, "p4", ttl=0.2)
    assert not lock.extend(5)  # never taken
    assert lock.acquire()
    assert lock.extend(5)
    assert 4000 < client.pttl(lock.key) <= 5000  # replaced, not added to what was left
    time.sleep(0.3)
    assert lock.owned()  # the original 0.2 s have passed
    assert lock.release()


def test_lock_lost_to_another_holder_is_neither_extended_nor_released(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first = ProfileLock(client, "p5", ttl=0.05)
    assert first.acquire()
    time.sleep(0.1)
    second = ProfileLock(client, "p5", ttl=5)
    assert second.acquire()
    assert not first.extend(5)
    assert not first.release()  # no LockNotOwnedError escapes
    assert second.owned() and client.exists(second.key)
    assert second.release()


def test_lock_key_names_the_profile(redis_url: str) -> None:
    lock = ProfileLock(redis.Redis.from_url(redis_url), "4eb8", ttl=5)
    assert lock.key == "bridge:lock:profile:4eb8"


def test_limiter_reports_every_answer_to_on_wait(redis_url: str) -> None:
    heard: list[float] = []
    limiter = RateLimiter(redis.Redis.from_url(redis_url), RateLimit(1, 5.0), on_wait=heard.append)
    answers = [limiter.acquire("tok"), limiter.acquire("tok")]
    assert heard == answers and heard[0] == 0.0 and heard[1] > 0
