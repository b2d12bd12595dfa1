"""Caches keyed by namespace: in-process TTL, Redis (failing open fast), and both in tiers.

A namespace (e.g. one workspace's connections) is invalidated as a whole.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from cachetools import TTLCache
from redis.backoff import NoBackoff
from redis.retry import Retry

from lucy.capability_index.cache_stats import CacheStats, kind_of

log = logging.getLogger(__name__)


class KeyValueCache(Protocol):
    def get(self, namespace: str, key: str) -> str | None: ...

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None: ...

    def invalidate(self, namespace: str) -> bool:
        """Forget ``namespace``; False when that could not be done (the backend is down)."""
        ...


class InProcessCache:
    """A bounded TTL cache in this process (the embedded default)."""

    def __init__(self, *, maxsize: int = 10_000, ttl: float = 30.0) -> None:
        self._data: TTLCache[str, dict[str, str]] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> str | None:
        with self._lock:
            entries = self._data.get(namespace)
            return None if entries is None else entries.get(key)

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None:
        # one TTL for the whole cache, set at construction: ``ttl`` is the L2's concern
        with self._lock:
            entries = self._data.get(namespace)
            if entries is None:
                entries = self._data[namespace] = {}
            entries[key] = value

    def invalidate(self, namespace: str) -> bool:
        with self._lock:
            self._data.pop(namespace, None)
        return True

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class NoCache:
    """The L2 of a process without Redis: holds nothing, so every invalidation succeeds."""

    def get(self, namespace: str, key: str) -> str | None:
        return None

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None:
        return None

    def invalidate(self, namespace: str) -> bool:
        return True


def fail_fast_redis(url: str, *, timeout: float) -> redis.Redis:
    """A client that gives up after ``timeout`` and never retries: redis-py's default retries
    turn a dead Redis into seconds of waiting per call."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


class RedisCache:
    """Redis hashes, one per namespace. Any Redis error reads as a miss: requests go on.

    After an error requests leave Redis alone (calls are misses and no-ops at once) until a
    background ping, every ``backoff_seconds``, finds it answering again: a dead or paused Redis
    costs one timeout per outage, not one per request or per back-off period."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.05,
        prefix: str = "lucy:",
        backoff_seconds: float = 1.0,
    ) -> None:
        self._client = fail_fast_redis(url, timeout=timeout)
        self._prefix = prefix
        self._backoff = max(backoff_seconds, 0.05)
        self._down = threading.Event()
        self._closed = threading.Event()
        self._probe_lock = threading.Lock()
        self.errors = 0
        self.skipped = 0

    @property
    def down(self) -> bool:
        """Whether requests are leaving Redis alone (an error, and no answer to a ping since)."""
        return self._down.is_set()

    def get(self, namespace: str, key: str) -> str | None:
        if not self._usable():
            return None
        try:
            value = self._client.hget(self._prefix + namespace, key)
        except redis.RedisError as exc:
            self._failed("get", exc)
            return None
        return value if isinstance(value, str) else None

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None:
        if not self._usable():
            return
        name = self._prefix + namespace
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(name, key, value)
                pipe.expire(name, max(1, int(ttl)), nx=True)
                pipe.execute()
        except redis.RedisError as exc:
            self._failed("set", exc)

    def invalidate(self, namespace: str) -> bool:
        if not self._usable():
            return False
        try:
            self._client.delete(self._prefix + namespace)
        except redis.RedisError as exc:
            self._failed("invalidate", exc)
            return False
        return True

    def get_values(self, keys: list[str]) -> list[str | None]:
        """Plain keys (each with its own expiry), in one round trip; all misses on error."""
        if not keys or not self._usable():
            return [None] * len(keys)
        try:
            values = self._client.mget([self._prefix + key for key in keys])
        except redis.RedisError as exc:
            self._failed("mget", exc)
            return [None] * len(keys)
        return [v if isinstance(v, str) else None for v in values]

    def set_values(self, values: dict[str, str], ttl: float) -> None:
        if not values or not self._usable():
            return
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for key, value in values.items():
                    pipe.set(self._prefix + key, value, ex=max(1, int(ttl)))
                pipe.execute()
        except redis.RedisError as exc:
            self._failed("set", exc)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._closed.set()
        self._client.close()

    def _usable(self) -> bool:
        if self._down.is_set():
            self.skipped += 1
            return False
        return True

    def _failed(self, op: str, exc: Exception) -> None:
        self.errors += 1
        with self._probe_lock:
            if self._down.is_set() or self._closed.is_set():
                return
            self._down.set()
            threading.Thread(target=self._probe, name="redis-probe", daemon=True).start()
        log.warning(
            "redis %s failed, serving without the shared cache until it answers: %s", op, exc
        )

    def _probe(self) -> None:
        """Ping every back-off period until Redis answers (then requests use it again) or the
        cache is closed."""
        while not self._closed.wait(self._backoff):
            if self.ping():
                self._down.clear()
                log.warning("redis answers again: the shared cache is back")
                return


class TieredCache:
    """L1 in front of L2: reads fill L1 from L2; writes and invalidations go to both.

    An invalidation L2 could not carry out (Redis down or paused) leaves the namespace marked:
    L2 is neither read nor written for it until a later delete succeeds or ``l2_ttl`` has
    passed (by then Redis dropped the stale entry itself), so a Redis that comes back never
    serves what was invalidated while it was away."""

    def __init__(
        self,
        l1: InProcessCache,
        l2: KeyValueCache,
        *,
        l2_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        stats: CacheStats | None = None,
    ) -> None:
        self._l1 = l1
        self._l2 = l2
        self.stats = stats or CacheStats()
        self._l2_ttl = l2_ttl
        self._clock = clock
        self._unsynced: dict[str, float] = {}  # namespace -> when L2 may be trusted again
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> str | None:
        value = self._l1.get(namespace, key)
        if value is not None:
            self.stats.record(kind_of(namespace), "l1")
            return value
        if self._l2_trusted(namespace):
            value = self._l2.get(namespace, key)
            if value is not None:
                self._l1.set(namespace, key, value, 0)
        self.stats.record(kind_of(namespace), "miss" if value is None else "l2")
        return value

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._l1.set(namespace, key, value, ttl)
        if self._l2_trusted(namespace):
            self._l2.set(namespace, key, value, ttl)

    def invalidate(self, namespace: str) -> bool:
        self._l1.invalidate(namespace)
        if self._l2.invalidate(namespace):
            with self._lock:
                self._unsynced.pop(namespace, None)
            return True
        with self._lock:
            self._unsynced[namespace] = self._clock() + self._l2_ttl
        return False

    def _l2_trusted(self, namespace: str) -> bool:
        """Whether L2's entries of ``namespace`` are not older than an invalidation it missed
        (retrying the missed delete first)."""
        with self._lock:
            until = self._unsynced.get(namespace)
        if until is None:
            return True
        if self._clock() >= until or self._l2.invalidate(namespace):
            with self._lock:
                self._unsynced.pop(namespace, None)
            return True
        return False

    def invalidate_local(self, namespace: str | None = None) -> None:
        """Drop ``namespace`` (None: everything) from this process's tier only: another
        replica already deleted it from Redis and said so."""
        if namespace is None:
            self._l1.clear()
        else:
            self._l1.invalidate(namespace)
