"""Hits and misses per kind of cached value, and query embeddings shared through Redis (the real
one on 127.0.0.1:6379, under a prefix of the test's own)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lucy.api import create_app
from lucy.capability_index.cache import InProcessCache, NoCache, RedisCache, TieredCache
from lucy.capability_index.cache_stats import CacheStats, KindCounts
from lucy.capability_index.embedder import SentenceTransformerEmbedder
from lucy.capability_index.shared_vectors import SharedQueryVectors
from lucy.capability_index.snapshot import SnapshotCache
from lucy.capability_index.store import VectorStore
from lucy.settings import Settings
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_cache() -> RedisCache:
    return RedisCache(REDIS_URL, prefix=f"lucy-test-{uuid.uuid4().hex[:8]}:")


def test_the_tiered_cache_counts_each_lookup_where_it_was_answered(
    redis_cache: RedisCache,
) -> None:
    stats = CacheStats()
    a = TieredCache(InProcessCache(ttl=60), redis_cache, stats=stats)
    b = TieredCache(InProcessCache(ttl=60), redis_cache, stats=stats)
    assert a.get("conn:W", "*") is None  # miss
    a.set("conn:W", "*", "[]", 30)
    assert a.get("conn:W", "*") == "[]"  # a's own tier
    assert b.get("conn:W", "*") == "[]"  # from Redis, filling b's tier
    assert b.get("conn:W", "*") == "[]"  # b's own tier now
    assert b.get("conn:provider:W", "U1") is None  # another namespace of the same kind
    assert stats.counts() == {"conn": KindCounts(l1=2, l2=1, misses=2)}
    assert stats.counts()["conn"].hit_ratio == pytest.approx(3 / 5)


def test_without_redis_every_l1_miss_is_a_miss() -> None:
    stats = CacheStats()
    cache = TieredCache(InProcessCache(ttl=60), NoCache(), stats=stats)
    cache.set("conn:W", "*", "[]", 30)
    assert cache.get("conn:W", "*") == "[]"
    assert cache.invalidate("conn:W")
    assert cache.get("conn:W", "*") is None
    assert stats.counts()["conn"] == KindCounts(l1=1, l2=0, misses=1)
    assert KindCounts().hit_ratio is None


def test_a_versions_schemas_are_read_once_then_served_from_memory(
    stores: dict[str, VectorStore],
) -> None:
    store = stores["edge"]
    live = store.live()
    assert live is not None
    stats = CacheStats()
    snapshots = SnapshotCache(store, stats=stats)
    first = snapshots.get(live)
    assert snapshots.get(live) is first
    assert stats.counts()["tools"] == KindCounts(l1=1, l2=0, misses=1)


def test_query_vectors_round_trip_exactly_and_expire(redis_cache: RedisCache) -> None:
    shared = SharedQueryVectors(redis_cache, "model-a", ttl=60)
    vector = [0.1, -0.25, 1 / 3, 1e-8]
    as_float32 = [float(x) for x in np.asarray(vector, dtype="float32")]
    shared.put_many({"hello": as_float32})
    assert shared.get_many(["hello", "other"]) == {"hello": as_float32}
    # a different model never sees another model's vectors
    assert SharedQueryVectors(redis_cache, "model-b", ttl=60).get_many(["hello"]) == {}
    key = next(iter(redis_cache._client.scan_iter(match=redis_cache._prefix + "qvec:*")))
    assert 0 < redis_cache._client.ttl(key) <= 60


def test_a_query_one_replica_embedded_is_not_embedded_again_on_another(
    redis_cache: RedisCache, embedder: SentenceTransformerEmbedder
) -> None:
    """Two embedders (two replicas' LRUs) over one Redis: the second reads the vector."""
    text = f"list my open pull requests {uuid.uuid4().hex}"
    expected = embedder.encode_query(text)  # the model's own answer, no cache
    embedder.clear_cache()
    stats_a, stats_b = CacheStats(), CacheStats()
    replica_a = _sharing(embedder, SharedQueryVectors(redis_cache, "m", ttl=60), stats_a)
    replica_b = _sharing(embedder, SharedQueryVectors(redis_cache, "m", ttl=60), stats_b)
    assert replica_a.encode_query(text) == expected
    assert stats_a.counts()["qvec"] == KindCounts(l1=0, l2=0, misses=1)
    assert replica_b.encode_query(text) == expected
    assert stats_b.counts()["qvec"] == KindCounts(l1=0, l2=1, misses=0)
    assert replica_b.encode_query(text) == expected  # now in b's LRU
    assert stats_b.counts()["qvec"] == KindCounts(l1=1, l2=1, misses=0)


def test_a_dead_redis_costs_the_embedder_nothing_but_a_miss(
    embedder: SentenceTransformerEmbedder,
) -> None:
    dead = RedisCache("redis://127.0.0.1:1/0", timeout=0.05)
    stats = CacheStats()
    replica = _sharing(embedder, SharedQueryVectors(dead, "m", ttl=60), stats)
    text = f"what is on my calendar {uuid.uuid4().hex}"
    assert replica.encode_query(text) == embedder.encode_query(text)
    assert stats.counts()["qvec"].misses == 1
    assert dead.errors == 1  # tried once, then left alone (the put was skipped)


def _sharing(
    loaded: SentenceTransformerEmbedder, shared: SharedQueryVectors, stats: CacheStats
) -> SentenceTransformerEmbedder:
    """A replica's embedder: the same model, its own LRU and counters."""
    del loaded  # loaded once per session already: a second load is quick
    settings = Settings(data_dir=Path(tempfile.gettempdir()) / "lucy-replica")
    return SentenceTransformerEmbedder.from_settings(settings, shared=shared, stats=stats)


def test_readyz_reports_hits_and_misses_per_kind(tmp_path: Path, demo_index) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings, index=demo_index)
    with TestClient(app) as client:
        body = {"query": "create a github issue", "workspace_id": "demo"}
        for _ in range(3):
            assert client.post("/v1/retrieve", json=body).status_code == 200
        cache = client.get("/readyz").json()["cache"]
    assert cache["tools"]["l1_hits"] >= 3
    assert cache["conn"]["l1_hits"] + cache["conn"]["misses"] >= 3
    assert set(cache["conn"]) == {"l1_hits", "l2_hits", "misses", "hit_ratio"}


class CountingStore:
    """A vector store that counts full reads of a version's payloads."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner
        self.scrolls = 0

    def payloads(self, name: str):
        self.scrolls += 1
        return self.inner.payloads(name)


def test_a_versions_schemas_are_read_from_the_store_once_for_every_replica(
    stores: dict[str, VectorStore], redis_cache: RedisCache
) -> None:
    from lucy.capability_index.shared_schemas import SharedSchemas

    store = CountingStore(stores["edge"])
    live = stores["edge"].live()
    assert live is not None
    stats_a, stats_b = CacheStats(), CacheStats()
    a = SnapshotCache(store, stats=stats_a, shared=SharedSchemas(redis_cache, ttl=60))
    b = SnapshotCache(store, stats=stats_b, shared=SharedSchemas(redis_cache, ttl=60))
    first = a.get(live)
    second = b.get(live)  # another replica: from Redis
    assert store.scrolls == 1
    assert second.by_id == first.by_id and second.toolkit_names == first.toolkit_names
    assert stats_a.counts()["tools"] == KindCounts(l1=0, l2=0, misses=1)
    assert stats_b.counts()["tools"] == KindCounts(l1=0, l2=1, misses=0)
    a.forget(live, shared=True)  # the roll-up changed the payloads: gone from Redis too
    b.forget(live)
    b.get(live)
    assert store.scrolls == 2
