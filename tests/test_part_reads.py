"""One owner's connections behind the cache: the last value served while a read refreshes it,
and a read that began before an invalidation never cached (its answer may predate the
change)."""

from __future__ import annotations

import threading
import time

from lucy.capability_index.cache import InProcessCache
from lucy.capability_index.connections import CachedConnectionStore, LocalConnectionStore
from lucy.capability_index.part_reads import PartReads


def test_a_read_under_way_when_the_owner_changed_is_returned_but_never_kept() -> None:
    state = {"value": frozenset({"github"})}
    started, gate = threading.Event(), threading.Event()
    stored: list[frozenset[str]] = []

    def read(key: tuple[str, str | None]) -> frozenset[str]:
        value = state["value"]  # what the source said before the change
        started.set()
        gate.wait(5)
        return value

    parts = PartReads("t", read, lambda key, found: stored.append(found))
    try:
        future = parts.behind(("W", None))
        assert started.wait(5)
        state["value"] = frozenset({"slack"})  # the change, and its invalidation
        parts.forget("W", None)
        gate.set()
        assert future.result(5) == {"github"}  # whoever waited gets the answer
        assert stored == [] and parts.last(("W", None)) is None  # but it is not kept
        started.clear()
        assert parts.now(("W", None)) == {"slack"}
        assert stored == [frozenset({"slack"})] and parts.servable(("W", None)) == {"slack"}
    finally:
        gate.set()
        parts.close()


def test_past_its_ttl_the_local_part_is_served_at_once_and_read_again_behind(tmp_path) -> None:
    inner = LocalConnectionStore(tmp_path / "c.json")
    inner.connect("W1", ["github"])
    store = CachedConnectionStore(inner, InProcessCache(ttl=0.05), ttl=0.05)
    try:
        assert store.toolkits("W1") == {"github"}
        inner.connect("W1", ["slack"])  # behind the cache's back (no invalidation)
        time.sleep(0.06)  # the cached entry expires (the TTL, not a timing assertion)
        assert store.toolkits("W1") == {"github"}  # the last value, while the store is read
        deadline = time.monotonic() + 5
        while store.toolkits("W1") != {"github", "slack"}:
            assert time.monotonic() < deadline, "the read behind never landed"
            time.sleep(0.01)
        store.connect("W1", ["linear"], user="U1")  # through the cache: the next read waits
        assert store.toolkits("W1", "U1") == {"github", "slack", "linear"}
    finally:
        store.close()
