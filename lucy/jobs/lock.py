"""One runner per job across replicas: a Redis lock with an expiry and a fencing token.

``JobLock.acquire(job)`` sets ``lucy:lock:<job>`` to a fresh token only if nobody holds it
(``SET NX PX``); the token is the next value of ``lucy:fence:<job>`` (``INCR``), so a later
holder always has a larger token than an earlier one. A holder that stalled past the expiry
has lost the lock: ``Lease.check()`` (compare in Lua) raises ``LockLost`` before it commits,
and anything it records carries its token, so a stale writer can be told from the current one.
Without Redis (one embedded process) ``LocalLocks`` gives the same interface in-process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import redis

from lucy.capability_index.cache import fail_fast_redis
from lucy.errors import LucyError
from lucy.settings import Settings

_CHECK = "return redis.call('get', KEYS[1]) == ARGV[1] and 1 or 0"
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)


class LockLost(LucyError):
    """This process no longer holds the job's lock: another may be running it; stop."""


class Lease(Protocol):
    job: str
    token: int

    def check(self) -> None:
        """Raise ``LockLost`` unless the lock is still this lease's."""
        ...

    def extend(self) -> None:
        """Push the expiry out again (a long job calls it between steps)."""
        ...

    def release(self) -> None: ...


class Locks(Protocol):
    def acquire(self, job: str) -> Lease | None:
        """The lease, or None when another runner holds the job."""
        ...


@dataclass
class RedisLease:
    client: redis.Redis
    job: str
    token: int
    ttl_ms: int

    @property
    def key(self) -> str:
        return f"lucy:lock:{self.job}"

    def check(self) -> None:
        if not self.client.eval(_CHECK, 1, self.key, str(self.token)):
            raise LockLost(f"lost the lock of job {self.job!r} (token {self.token})")

    def extend(self) -> None:
        if not self.client.eval(_EXTEND, 1, self.key, str(self.token), str(self.ttl_ms)):
            raise LockLost(f"lost the lock of job {self.job!r} (token {self.token})")

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, str(self.token))


class RedisLocks:
    """Job locks in Redis, shared by every replica. Errors propagate: a job that cannot tell
    whether it holds its lock does not run."""

    def __init__(self, url: str, *, ttl_seconds: float = 600.0, timeout: float = 1.0) -> None:
        self._client = fail_fast_redis(url, timeout=timeout)
        self._ttl_ms = int(ttl_seconds * 1000)

    def acquire(self, job: str) -> RedisLease | None:
        token = int(self._client.incr(f"lucy:fence:{job}"))
        if not self._client.set(f"lucy:lock:{job}", str(token), nx=True, px=self._ttl_ms):
            return None
        return RedisLease(self._client, job, token, self._ttl_ms)

    def close(self) -> None:
        self._client.close()


@dataclass
class LocalLease:
    owner: LocalLocks
    job: str
    token: int
    expires: float

    def check(self) -> None:
        if not self.owner.holds(self):
            raise LockLost(f"lost the lock of job {self.job!r} (token {self.token})")

    def extend(self) -> None:
        self.check()
        self.expires = time.monotonic() + self.owner.ttl

    def release(self) -> None:
        self.owner.drop(self)


@dataclass
class LocalLocks:
    """The same locks for one process (no Redis): a job runs once at a time here."""

    ttl: float = 600.0
    _held: dict[str, LocalLease] = field(default_factory=dict)
    _tokens: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, job: str) -> LocalLease | None:
        with self._lock:
            token = self._tokens[job] = self._tokens.get(job, 0) + 1
            held = self._held.get(job)
            if held is not None and held.expires > time.monotonic():
                return None
            lease = self._held[job] = LocalLease(self, job, token, time.monotonic() + self.ttl)
            return lease

    def holds(self, lease: LocalLease) -> bool:
        with self._lock:
            return self._held.get(lease.job) is lease and lease.expires > time.monotonic()

    def drop(self, lease: LocalLease) -> None:
        with self._lock:
            if self._held.get(lease.job) is lease:
                del self._held[lease.job]


def job_locks(settings: Settings) -> RedisLocks | LocalLocks:
    """Redis locks when ``LUCY_REDIS_URL`` is set (shared by replicas), else in-process ones."""
    ttl = settings.jobs.lock_ttl_seconds
    if settings.redis_url:
        return RedisLocks(settings.redis_url, ttl_seconds=ttl)
    return LocalLocks(ttl=ttl)
