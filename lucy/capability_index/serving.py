"""Which index versions the replicas serve, so that a build never drops one still in use.

Each replica says which version it serves: when its idea of the live version changes, and again
every ``period`` seconds from a background thread, in Redis under ``lucy:serving:<replica>``
with an expiry (``ttl``). The version it served before a switch is named too for ``grace``
seconds, for the requests still running on it. A build keeps, besides the version it made live
and the one before, every version a replica named and whose entry has not expired; when Redis
cannot say, it keeps every version (the next build prunes). Without Redis there is one process,
and it names its own versions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from typing import Protocol

import redis

from lucy.capability_index.cache import fail_fast_redis

log = logging.getLogger(__name__)

PREFIX = "lucy:serving:"


class ServingVersions(Protocol):
    def serve(self, version: str) -> None:
        """This replica serves ``version`` from now on."""

    def in_use(self) -> set[str] | None:
        """Every version some replica serves; None when that cannot be known."""

    def close(self) -> None: ...


class _Mine:
    """This process's current version and, for ``grace`` seconds after a switch, the one
    before."""

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._current: str | None = None
        self._previous: str | None = None
        self._switched = float("-inf")
        self._lock = threading.Lock()

    def serve(self, version: str) -> bool:
        """Record ``version``; True when it is a change."""
        with self._lock:
            if version == self._current:
                return False
            self._previous, self._current = self._current, version
            self._switched = time.monotonic()
            return True

    def versions(self) -> list[str]:
        with self._lock:
            found = [self._current] if self._current else []
            if self._previous and time.monotonic() - self._switched < self._grace:
                found.append(self._previous)
            return found


class LocalServing:
    """One process: the versions it serves are the ones in use."""

    def __init__(self, *, grace: float = 10.0) -> None:
        self._mine = _Mine(grace)

    def serve(self, version: str) -> None:
        self._mine.serve(version)

    def in_use(self) -> set[str] | None:
        return set(self._mine.versions())

    def close(self) -> None:
        return None


class RedisServing:
    def __init__(
        self,
        url: str,
        *,
        ttl: float = 30.0,
        period: float = 5.0,
        grace: float = 10.0,
        prefix: str = PREFIX,
        timeout: float = 0.05,
    ) -> None:
        self._client = fail_fast_redis(url, timeout=timeout)
        self._ttl = ttl
        self._prefix = prefix
        self._key = f"{prefix}{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._mine = _Mine(grace)
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._heartbeat, args=(period,), name="lucy-serving", daemon=True
        )
        self._thread.start()

    def serve(self, version: str) -> None:
        if self._mine.serve(version):
            self._announce()

    def in_use(self) -> set[str] | None:
        try:
            keys = list(self._client.scan_iter(match=self._prefix + "*", count=1000))
            values = self._client.mget(keys) if keys else []
        except redis.RedisError as exc:
            log.warning("cannot tell which versions replicas serve (%s): keeping every one", exc)
            return None
        return {v for value in values if isinstance(value, str) for v in value.split()}

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(redis.RedisError):  # else the entry expires by itself
            self._client.delete(self._key)
        self._client.close()

    def _announce(self) -> None:
        versions = self._mine.versions()
        if not versions:
            return
        try:
            self._client.set(self._key, " ".join(versions), px=int(self._ttl * 1000))
        except redis.RedisError as exc:
            log.warning("cannot say which version this replica serves: %s", exc)

    def _heartbeat(self, period: float) -> None:
        while not self._closed.wait(period):
            self._announce()
