"""An index version is kept until no replica serves it: each replica names the versions it
serves in Redis (the shared one on 6379, under prefixes of the test's own), and a build
prunes only what no replica names."""

from __future__ import annotations

import uuid

from lucy.capability_index.build import build_index
from lucy.capability_index.service import CapabilityIndex
from lucy.capability_index.serving import LocalServing, RedisServing
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_replicas_name_what_they_serve_and_the_one_before_for_a_grace_period() -> None:
    prefix = f"lucy-test-{uuid.uuid4().hex[:8]}:serving:"
    a = RedisServing(REDIS_URL, prefix=prefix, grace=3600)
    b = RedisServing(REDIS_URL, prefix=prefix, grace=0)
    try:
        assert a.in_use() == set()
        a.serve("v1")
        b.serve("v1")
        assert a.in_use() == {"v1"}
        a.serve("v2")  # a switched: v1 may still run requests on a for a while
        b.serve("v2")  # b, with no grace, names v2 only
        assert b.in_use() == {"v1", "v2"}
        a.close()  # a stopped serving: its entry is gone
        assert b.in_use() == {"v2"}
    finally:
        b.close()


def test_without_redis_one_process_names_its_own_and_a_dead_redis_keeps_everything() -> None:
    local = LocalServing(grace=0)
    local.serve("v1")
    local.serve("v2")
    assert local.in_use() == {"v2"}
    dead = RedisServing("redis://127.0.0.1:1/0", period=3600)
    try:
        dead.serve("v1")  # fails open: logged, not raised
        assert dead.in_use() is None
    finally:
        dead.close()


def test_a_build_that_cannot_tell_what_is_served_prunes_nothing(
    tmp_path, embedder, small_catalog
) -> None:
    from lucy.capability_index.edge_store import EdgeStore

    store = EdgeStore(tmp_path / "edge")
    try:
        first = build_index(store, embedder, small_catalog, prefix="t")
        second = build_index(store, embedder, small_catalog, prefix="t", in_use=lambda: None)
        third = build_index(store, embedder, small_catalog, prefix="t", in_use=lambda: None)
        assert {first.collection, second.collection, third.collection} <= set(store.collections())
        fourth = build_index(store, embedder, small_catalog, prefix="t", in_use=set)
        assert set(store.collections()) == {third.collection, fourth.collection}
    finally:
        store.close()


def test_a_version_a_replica_still_serves_survives_later_builds(
    tmp_path, embedder, small_catalog
) -> None:
    settings = make_settings(tmp_path, redis_url=REDIS_URL)
    builder = CapabilityIndex(settings, embedder=embedder, catalog=small_catalog)
    behind = CapabilityIndex(
        settings, embedder=embedder, catalog=small_catalog, store=builder.store
    )
    try:
        v1 = builder.build().collection
        assert behind.live_version() == v1  # named in Redis at once
        v2 = builder.build().collection
        v3 = builder.build().collection
        # `behind` has not looked at the live pointer again: it may still answer from v1
        assert {v1, v2, v3} <= set(builder.store.collections())
        behind.serving.close()  # that replica stops
        v4 = builder.build().collection
        assert v1 not in builder.store.collections()
        assert {v3, v4} <= set(builder.store.collections())
    finally:
        behind.close()
        builder.close()
