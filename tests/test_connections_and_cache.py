"""Connections (file store, cached wrapper) and the caches, with the real Redis."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from lucy.capability_index.cache import InProcessCache, RedisCache, TieredCache
from lucy.capability_index.connections import CachedConnectionStore, LocalConnectionStore
from lucy.errors import InvalidRequestError
from lucy.testing.redis_server import OwnRedis

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_local_store_semantics(tmp_path: Path) -> None:
    store = LocalConnectionStore(tmp_path / "c.json", demo_toolkits=["github", "linear"])
    assert store.toolkits("demo") == {"github", "linear"}
    assert store.toolkits("T123") == frozenset()
    store.connect("T123", ["github", "slack"])
    store.connect("T123", ["notion"], user="U1")
    assert store.toolkits("T123") == {"github", "slack"}
    assert store.toolkits("T123", "U1") == {"github", "slack", "notion"}
    assert store.toolkits("T123", "U2") == {"github", "slack"}
    store.disconnect("T123", ["slack"])
    assert store.toolkits("T123", "U1") == {"github", "notion"}
    store.disconnect("demo", ["linear"])
    assert store.toolkits("demo") == {"github"}
    again = LocalConnectionStore(tmp_path / "c.json", demo_toolkits=["github", "linear"])
    assert again.toolkits("T123", "U1") == {"github", "notion"}  # persisted


@pytest.mark.parametrize("bad", ["", " ", "a b", "../etc", "x" * 65, "-lead"])
def test_bad_ids_are_refused(tmp_path: Path, bad: str) -> None:
    store = LocalConnectionStore(tmp_path / "c.json")
    with pytest.raises(InvalidRequestError, match="workspace_id"):
        store.toolkits(bad)


def test_cached_store_invalidates_on_change(tmp_path: Path) -> None:
    inner = LocalConnectionStore(tmp_path / "c.json")
    cached = CachedConnectionStore(inner, InProcessCache(ttl=60), ttl=60)
    assert cached.toolkits("W1") == frozenset()
    inner.connect("W1", ["github"])  # behind the cache's back: the cache still answers
    assert cached.toolkits("W1") == frozenset()
    cached.connect("W1", ["slack"])  # through the wrapper: invalidated
    assert cached.toolkits("W1") == {"github", "slack"}


@pytest.fixture
def redis_cache() -> RedisCache:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    return RedisCache(REDIS_URL, prefix=f"lucy-test-{uuid.uuid4().hex[:8]}:")


def test_redis_cache_roundtrip(redis_cache: RedisCache) -> None:
    assert redis_cache.get("ns", "k") is None
    redis_cache.set("ns", "k", "v", ttl=30)
    assert redis_cache.get("ns", "k") == "v"
    redis_cache.invalidate("ns")
    assert redis_cache.get("ns", "k") is None
    assert redis_cache.errors == 0


def test_tiered_cache_invalidation_reaches_other_replicas_l2(redis_cache: RedisCache) -> None:
    a = TieredCache(InProcessCache(ttl=60), redis_cache)
    b_l1 = InProcessCache(ttl=60)
    b = TieredCache(b_l1, redis_cache)
    a.set("conn:W", "*", '["github"]', 30)
    assert b.get("conn:W", "*") == '["github"]'  # filled from the shared L2
    a.invalidate("conn:W")
    assert redis_cache.get("conn:W", "*") is None
    assert b_l1.get("conn:W", "*") == '["github"]'  # L1 is bounded by its TTL only (for now)


def test_redis_down_fails_open_and_is_left_alone_until_it_answers() -> None:
    """Every call against a dead Redis is a miss or a no-op, never an exception; after the
    first error requests do not try Redis again (a background ping does)."""
    dead = RedisCache("redis://127.0.0.1:1/0", timeout=0.05, backoff_seconds=0.05)
    try:
        for _ in range(20):
            assert dead.get("ns", "k") is None
            dead.set("ns", "k", "v", 10)
            assert not dead.invalidate("ns")
            assert dead.get_values(["a", "b"]) == [None, None]
            time.sleep(0.01)  # the probe pings meanwhile, and fails
        assert (dead.errors, dead.skipped) == (1, 79)
        assert dead.down
    finally:
        dead.close()


def test_a_redis_that_comes_back_is_used_again_without_a_request_paying_for_the_probe() -> None:
    with OwnRedis() as server:
        cache = RedisCache(server.url, timeout=0.05, backoff_seconds=0.1)
        try:
            cache.set("ns", "k", "v", 30)
            server.pause()  # a hung Redis: the first call times out, later ones skip it
            assert cache.get("ns", "k") is None
            assert cache.get("ns", "k") is None
            assert cache.errors == 1 and cache.skipped == 1
            server.resume()
            deadline = time.monotonic() + 5
            while cache.down and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not cache.down
            assert cache.get("ns", "k") == "v"
            assert cache.errors == 1
        finally:
            cache.close()
