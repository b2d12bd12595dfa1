"""A read after an invalidation is never stale, whatever Redis does meanwhile: a Hypothesis
state machine over reads, writes (each invalidating), and a Redis that this test starts itself
and then stops, restarts, pauses (SIGSTOP) and resumes, while the in-process tier expires."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from lucy.capability_index.cache import InProcessCache, RedisCache, TieredCache
from lucy.capability_index.connections import CachedConnectionStore

WORKSPACES = st.sampled_from(["W1", "W2", "W3"])
TOOLKITS = st.frozensets(st.sampled_from(["github", "linear", "slack", "notion"]), max_size=3)


class OwnRedis:
    """A redis-server of this test's own on a free port (never the shared one on 6379)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: this test runs a Redis of its own")
        self.binary = binary
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            if self.paused:
                self.resume()
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False


class Store:
    """The source of truth the cache sits in front of (the database's role)."""

    def __init__(self) -> None:
        self.data: dict[str, frozenset[str]] = {}

    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        return self.data.get(workspace, frozenset())

    def connect(self, workspace, toolkits, user=None) -> None:
        self.data[workspace] = frozenset(toolkits)

    def disconnect(self, workspace, toolkits, user=None) -> None:
        self.data[workspace] = self.data.get(workspace, frozenset()) - set(toolkits)


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

        @rule(workspace=WORKSPACES, toolkits=TOOLKITS)
        def write(self, workspace: str, toolkits: frozenset[str]) -> None:
            self.store.data[workspace] = toolkits
            self.cached.invalidate(workspace)  # what connect / an auth event does

        @rule(workspace=WORKSPACES)
        def read(self, workspace: str) -> None:
            assert self.cached.toolkits(workspace) == self.store.toolkits(workspace)

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
