"""Toolkits waiting for a targeted refresh: sync events add them, ``refresh_pending`` takes
them (and puts them back when the refresh fails, so nothing is lost). In Redis when it is
configured, so the replica or worker that runs the job sees what any replica received."""

from __future__ import annotations

import threading
from typing import Protocol

from lucy.capability_index.cache import fail_fast_redis
from lucy.settings import Settings

_KEY = "lucy:pending_refresh"
# take every member and empty the set in one step, so two takers never share a toolkit
_TAKE = "local m = redis.call('smembers', KEYS[1]); redis.call('del', KEYS[1]); return m"


class Pending(Protocol):
    def add(self, toolkit: str) -> None: ...

    def take(self) -> set[str]: ...

    def peek(self) -> set[str]: ...


def pending_refreshes(settings: Settings) -> Pending:
    return RedisPending(settings.redis_url) if settings.redis_url else PendingRefreshes()


class RedisPending:
    """The queue as a Redis set. Errors propagate: a sync event that cannot be queued is not
    acknowledged (the sender retries it)."""

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        self._client = fail_fast_redis(url, timeout=timeout)

    def add(self, toolkit: str) -> None:
        self._client.sadd(_KEY, toolkit)

    def take(self) -> set[str]:
        return {str(m) for m in self._client.eval(_TAKE, 1, _KEY)}

    def peek(self) -> set[str]:
        return {str(m) for m in self._client.smembers(_KEY)}


class PendingRefreshes:
    def __init__(self) -> None:
        self._toolkits: set[str] = set()
        self._lock = threading.Lock()

    def add(self, toolkit: str) -> None:
        with self._lock:
            self._toolkits.add(toolkit)

    def take(self) -> set[str]:
        with self._lock:
            taken, self._toolkits = self._toolkits, set()
        return taken

    def peek(self) -> set[str]:
        with self._lock:
            return set(self._toolkits)
