"""Caches keyed by namespace: in-process TTL, Redis (failing open fast), and both in tiers.

A namespace (e.g. one workspace's connections) is invalidated as a whole.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import redis
from cachetools import TTLCache
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


class KeyValueCache(Protocol):
    def get(self, namespace: str, key: str) -> str | None: ...

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None: ...

    def invalidate(self, namespace: str) -> None: ...


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

    def invalidate(self, namespace: str) -> None:
        with self._lock:
            self._data.pop(namespace, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


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
    """Redis hashes, one per namespace. Any Redis error reads as a miss: requests go on."""

    def __init__(self, url: str, *, timeout: float = 0.05, prefix: str = "lucy:") -> None:
        self._client = fail_fast_redis(url, timeout=timeout)
        self._prefix = prefix
        self.errors = 0

    def get(self, namespace: str, key: str) -> str | None:
        try:
            value = self._client.hget(self._prefix + namespace, key)
        except redis.RedisError as exc:
            self._failed("get", exc)
            return None
        return value if isinstance(value, str) else None

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None:
        name = self._prefix + namespace
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(name, key, value)
                pipe.expire(name, max(1, int(ttl)), nx=True)
                pipe.execute()
        except redis.RedisError as exc:
            self._failed("set", exc)

    def invalidate(self, namespace: str) -> None:
        try:
            self._client.delete(self._prefix + namespace)
        except redis.RedisError as exc:
            self._failed("invalidate", exc)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def _failed(self, op: str, exc: Exception) -> None:
        self.errors += 1
        log.warning("redis %s failed, serving without the shared cache: %s", op, exc)


class TieredCache:
    """L1 in front of L2: reads fill L1 from L2; writes and invalidations go to both."""

    def __init__(self, l1: InProcessCache, l2: KeyValueCache) -> None:
        self._l1 = l1
        self._l2 = l2

    def get(self, namespace: str, key: str) -> str | None:
        value = self._l1.get(namespace, key)
        if value is None:
            value = self._l2.get(namespace, key)
            if value is not None:
                self._l1.set(namespace, key, value, 0)
        return value

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._l1.set(namespace, key, value, ttl)
        self._l2.set(namespace, key, value, ttl)

    def invalidate(self, namespace: str) -> None:
        self._l1.invalidate(namespace)
        self._l2.invalidate(namespace)

    def invalidate_local(self, namespace: str | None = None) -> None:
        """Drop ``namespace`` (None: everything) from this process's tier only: another
        replica already deleted it from Redis and said so."""
        if namespace is None:
            self._l1.clear()
        else:
            self._l1.invalidate(namespace)
