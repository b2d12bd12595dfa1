"""Job locks: one holder per job, larger fencing tokens for later holders, and a holder whose
lock expired or was taken over cannot commit (real Redis on 127.0.0.1:6379)."""

from __future__ import annotations

import time
import uuid

import pytest

from lucy.jobs.lock import LocalLocks, LockLost, RedisLocks

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def job() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def test_one_holder_at_a_time_and_tokens_grow(job: str) -> None:
    locks = RedisLocks(REDIS_URL, ttl_seconds=30)
    first = locks.acquire(job)
    assert first is not None and locks.acquire(job) is None
    first.check()
    first.release()
    second = locks.acquire(job)
    assert second is not None and second.token > first.token
    second.release()
    locks.close()


def test_an_expired_holder_cannot_commit_nor_release_the_new_one(job: str) -> None:
    locks = RedisLocks(REDIS_URL, ttl_seconds=0.05)
    stale = locks.acquire(job)
    assert stale is not None
    time.sleep(0.1)  # the expiry passes (a stalled runner)
    current = locks.acquire(job)
    assert current is not None and current.token > stale.token
    with pytest.raises(LockLost):
        stale.check()
    with pytest.raises(LockLost):
        stale.extend()
    stale.release()  # must not delete the current holder's lock
    current.check()
    current.release()
    locks.close()


def test_local_locks_behave_the_same() -> None:
    locks = LocalLocks(ttl=30)
    first = locks.acquire("refresh")
    assert first is not None and locks.acquire("refresh") is None
    first.release()
    second = locks.acquire("refresh")
    assert second is not None and second.token > first.token
    with pytest.raises(LockLost):
        first.check()
