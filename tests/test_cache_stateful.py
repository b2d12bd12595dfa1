"""A read after an invalidation is never stale, whatever Redis does meanwhile: a Hypothesis
state machine over reads, writes (each invalidating), and a Redis that this test starts itself
and then stops, restarts, pauses (SIGSTOP) and resumes, while the in-process tier expires."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from lucy.capability_index.cache import InProcessCache, RedisCache, TieredCache
from lucy.capability_index.connections import CachedConnectionStore
from lucy.testing.redis_server import OwnRedis

WORKSPACES = st.sampled_from(["W1", "W2", "W3"])
USERS = st.sampled_from([None, "U1", "U2"])
TOOLKITS = st.frozensets(st.sampled_from(["github", "linear", "slack", "notion"]), max_size=3)


class Store:
    """The source of truth the cache sits in front of (the database's role): each owner's
    part, the workspace's (user None) and each user's own."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str | None], frozenset[str]] = {}

    def own_toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        return self.data.get((workspace, user), frozenset())

    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        found = self.own_toolkits(workspace)
        return found if user is None else found | self.own_toolkits(workspace, user)

    def connect(self, workspace, toolkits, user=None) -> None:
        self.data[(workspace, user)] = self.own_toolkits(workspace, user) | set(toolkits)

    def disconnect(self, workspace, toolkits, user=None) -> None:
        self.data[(workspace, user)] = self.own_toolkits(workspace, user) - set(toolkits)


@pytest.fixture(scope="module")
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


def test_a_read_after_an_invalidation_is_never_stale(own_redis: OwnRedis) -> None:
    class CacheMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            if own_redis.process is None:
                own_redis.start()
            elif own_redis.paused:
                own_redis.resume()
            redis.Redis(port=own_redis.port).flushall()
            self.store = Store()
            self.l2 = RedisCache(own_redis.url, timeout=0.05)
            self.l1 = InProcessCache(ttl=30)
            tiers = TieredCache(self.l1, self.l2, l2_ttl=30)
            self.cached = CachedConnectionStore(self.store, tiers, ttl=30)

        @rule(workspace=WORKSPACES, user=USERS, toolkits=TOOLKITS)
        def write(self, workspace: str, user: str | None, toolkits: frozenset[str]) -> None:
            self.store.data[(workspace, user)] = toolkits
            self.cached.invalidate(workspace, user)  # what connect / an auth event does

        @rule(workspace=WORKSPACES, user=USERS)
        def read(self, workspace: str, user: str | None) -> None:
            assert self.cached.toolkits(workspace, user) == self.store.toolkits(workspace, user)

        @rule()
        def in_process_tier_expires(self) -> None:
            self.l1.clear()  # its short TTL passed: the next read goes to Redis

        @precondition(lambda self: own_redis.process is not None and not own_redis.paused)
        @rule()
        def redis_pauses(self) -> None:
            own_redis.pause()

        @precondition(lambda self: own_redis.paused)
        @rule()
        def redis_resumes(self) -> None:
            own_redis.resume()

        @precondition(lambda self: own_redis.process is not None)
        @rule()
        def redis_stops(self) -> None:
            own_redis.stop()

        @precondition(lambda self: own_redis.process is None)
        @rule()
        def redis_starts(self) -> None:
            own_redis.start()

        def teardown(self) -> None:
            self.l2.close()

    CacheMachine.TestCase.settings = settings(
        max_examples=60,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    CacheMachine.TestCase().runTest()


class Partitioned:
    """An L2 that keeps its data while unreachable (a network partition, not a restart)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.reachable = True

    def get(self, namespace: str, key: str) -> str | None:
        return self.data.get(namespace, {}).get(key) if self.reachable else None

    def set(self, namespace: str, key: str, value: str, ttl: float) -> None:
        if self.reachable:
            self.data.setdefault(namespace, {})[key] = value

    def invalidate(self, namespace: str) -> bool:
        if not self.reachable:
            return False
        self.data.pop(namespace, None)
        return True


def test_an_invalidation_redis_missed_is_not_undone_when_it_comes_back() -> None:
    l1, l2, now = InProcessCache(ttl=30), Partitioned(), [0.0]
    tiers = TieredCache(l1, l2, l2_ttl=30, clock=lambda: now[0])
    tiers.set("conn:W1", "*", '["github"]', 30)
    l2.reachable = False
    assert not tiers.invalidate("conn:W1")  # the delete could not reach Redis
    l2.reachable = True
    l1.clear()  # the in-process entry expired
    assert l2.data  # Redis still holds the old entry...
    assert tiers.get("conn:W1", "*") is None  # ...which is not served: the delete is retried
    assert not l2.data
    l2.reachable = False
    tiers.invalidate("conn:W2")
    l2.reachable = True
    l2.data["conn:W2"] = {"*": '["old"]'}
    now[0] = 31.0  # past the L2 TTL: Redis would have dropped it by itself
    l2.reachable = False
    assert tiers.get("conn:W2", "*") is None and "conn:W2" not in tiers._unsynced
