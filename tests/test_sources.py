"""Several tool sources in one index: merging listings, and connection state read from the
provider that owns a toolkit, through the cache, without waiting on it once known."""

from __future__ import annotations

import threading
import time

import pytest

from lucy.capability_index.cache import InProcessCache
from lucy.capability_index.connections import CachedConnectionStore, LocalConnectionStore
from lucy.capability_index.provider_connections import CachedReader, RoutedConnections
from lucy.capability_index.sources import merge_listings
from lucy.errors import CatalogError, InvalidRequestError
from lucy.models import IntentTags, SourceListing, ToolkitInfo, ToolSpec


def listing(provider: str, toolkit: str, *slugs: str) -> SourceListing:
    return SourceListing(
        provider=provider,
        toolkits=(ToolkitInfo(toolkit=toolkit, name=toolkit.title()),),
        tools=tuple(
            ToolSpec(slug=s, toolkit=toolkit, provider=provider, name=s.title(), description="")
            for s in slugs
        ),
    )


def test_listings_merge_and_every_tool_gets_derived_tags() -> None:
    catalog = merge_listings(
        [
            listing("demo", "linear", "LINEAR_CREATE_ISSUE"),
            listing("mcp", "time", "TIME_GET_CURRENT_TIME"),
        ]
    )
    assert [t.slug for t in catalog.tools] == ["LINEAR_CREATE_ISSUE", "TIME_GET_CURRENT_TIME"]
    assert set(catalog.toolkits) == {"linear", "time"}
    create = catalog.by_slug()["LINEAR_CREATE_ISSUE"]
    assert create.tags != IntentTags() and "create" in create.tags.verbs


def test_a_slug_offered_twice_names_both_sources() -> None:
    with pytest.raises(CatalogError) as info:
        merge_listings(
            [listing("demo", "github", "GITHUB_STAR"), listing("composio", "gh2", "GITHUB_STAR")]
        )
    message = str(info.value)
    assert "'demo'" in message and "'composio'" in message and "GITHUB_STAR" in message


def test_a_toolkit_offered_twice_names_both_sources() -> None:
    with pytest.raises(CatalogError, match="both 'demo' and 'composio'"):
        merge_listings(
            [listing("demo", "github", "GITHUB_A"), listing("composio", "github", "GITHUB_B")]
        )


def test_a_tool_outside_its_sources_toolkits_is_refused() -> None:
    bad = SourceListing(
        provider="mcp",
        toolkits=(),
        tools=(ToolSpec(slug="X_Y", toolkit="x", provider="mcp", name="y", description=""),),
    )
    with pytest.raises(CatalogError, match="not among 'mcp'"):
        merge_listings([bad])


class CountingReader:
    """A provider's connection reader: answers from ``state``; can fail or block."""

    name = "remote"

    def __init__(self) -> None:
        self.state: dict[str, frozenset[str]] = {}
        self.calls = 0
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        return self.own_toolkits(workspace_id, None)

    def own_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        self.calls += 1
        self.gate.wait(5)
        if self.fail:
            raise ConnectionError("provider down")
        return self.state.get(
            workspace_id if user_id is None else f"{workspace_id}/{user_id}", frozenset()
        )

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None:
        return f"https://connect.example/{workspace_id}/{toolkit}"


def routed(
    tmp_path, reader: CountingReader, ttl: float = 0.05, cold_wait: float = 5.0
) -> RoutedConnections:
    cache = InProcessCache(ttl=ttl)
    local = CachedConnectionStore(LocalConnectionStore(tmp_path / "c.json"), cache, ttl=ttl)
    owners = {"github": "remote", "notion": "demo"}
    cached = CachedReader(reader, cache, ttl=ttl, cold_wait=cold_wait)
    return RoutedConnections(local, [cached], lambda: owners)


def test_a_providers_toolkits_come_from_it_and_local_ones_from_the_store(tmp_path) -> None:
    reader = CountingReader()
    reader.state["W1"] = frozenset({"github"})
    conns = routed(tmp_path, reader)
    conns.connect("W1", ["notion"])
    assert conns.toolkits("W1") == {"github", "notion"}
    with pytest.raises(InvalidRequestError, match="github \\(remote\\)"):
        conns.connect("W1", ["github"])
    # a local record of a provider's toolkit does not count: the provider decides
    conns.local.connect("W2", ["github"])
    assert conns.toolkits("W2") == frozenset()


def test_a_known_workspace_is_served_at_once_and_refreshed_behind(tmp_path) -> None:
    reader = CountingReader()
    reader.state["W1"] = frozenset({"github"})
    conns = routed(tmp_path, reader, ttl=0.05)
    assert conns.toolkits("W1") == {"github"}
    assert reader.calls == 1
    assert conns.toolkits("W1") == {"github"} and reader.calls == 1  # fresh: from the cache
    time.sleep(0.06)  # the cached entry expires (the TTL, not a timing assertion)
    reader.gate.clear()  # the provider now hangs
    reader.state["W1"] = frozenset()
    assert conns.toolkits("W1") == {"github"}  # the last value, not a wait on the provider
    reader.gate.set()
    deadline = time.monotonic() + 5
    while conns.toolkits("W1") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert conns.toolkits("W1") == frozenset()  # the background read landed
    conns.close()


def test_a_cold_read_waits_at_most_cold_wait_then_lands_behind(tmp_path) -> None:
    reader = CountingReader()
    reader.state["W1"] = frozenset({"github"})
    reader.gate.clear()  # the provider hangs
    conns = routed(tmp_path, reader, ttl=30, cold_wait=0.05)
    assert conns.toolkits("W1") == frozenset()  # went on without the provider
    assert conns.toolkits("W1") == frozenset() and reader.calls == 1  # one read in flight
    reader.gate.set()
    deadline = time.monotonic() + 5
    while not conns.toolkits("W1") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert conns.toolkits("W1") == {"github"} and reader.calls == 1
    conns.close()


def test_with_no_cold_wait_a_hanging_provider_is_never_waited_on(tmp_path) -> None:
    reader = CountingReader()
    reader.state["W1"] = frozenset({"github"})
    reader.gate.clear()  # hangs until the test ends: a wait would block the test 5 s
    conns = routed(tmp_path, reader, ttl=30, cold_wait=0)
    assert conns.toolkits("W1") == frozenset()
    reader.gate.set()
    conns.close()


def test_a_provider_that_fails_reads_as_nothing_connected_and_is_asked_again(tmp_path) -> None:
    reader = CountingReader()
    reader.state["W1"] = frozenset({"github"})
    reader.fail = True
    conns = routed(tmp_path, reader)
    assert conns.toolkits("W1") == frozenset()
    reader.fail = False
    assert conns.toolkits("W1") == {"github"}  # the failure was not cached
    assert reader.calls == 2


def test_invalidation_forgets_the_last_known_value(tmp_path) -> None:
    reader = CountingReader()
    reader.state["W1"] = frozenset({"github"})
    conns = routed(tmp_path, reader, ttl=30)
    assert conns.toolkits("W1") == {"github"}
    reader.state["W1"] = frozenset()
    assert conns.toolkits("W1") == {"github"}
    conns.invalidate("W1")
    assert conns.toolkits("W1") == frozenset()


def test_the_owner_gives_the_connect_link(tmp_path) -> None:
    conns = routed(tmp_path, CountingReader())
    owner = conns.owner("github")
    assert owner is not None
    assert owner.reader.connect_link("github", "W1", None) == "https://connect.example/W1/github"
    assert conns.owner("notion") is None


def test_each_owners_part_is_cached_and_dropped_on_its_own(tmp_path) -> None:
    """A user's toolkits are the workspace's plus their own; dropping the workspace's part
    leaves every user's own part cached, and the other way round."""
    reader = CountingReader()
    reader.state["W1"] = frozenset({"github"})
    reader.state["W1/U1"] = frozenset({"linear"})
    conns = routed(tmp_path, reader, ttl=30)
    assert conns.toolkits("W1", "U1") == {"github", "linear"}
    assert conns.toolkits("W1", "U2") == {"github"}
    assert reader.calls == 3  # W1's part, U1's, U2's
    reader.state["W1"] = frozenset({"slack"})
    conns.invalidate("W1")  # the workspace's part only
    assert conns.toolkits("W1", "U1") == {"slack", "linear"}
    assert conns.toolkits("W1", "U2") == {"slack"}
    assert reader.calls == 4  # the workspace's part again; both users' parts were cached
    reader.state["W1/U1"] = frozenset()
    conns.invalidate("W1", "U1")
    assert conns.toolkits("W1", "U1") == {"slack"}
    assert reader.calls == 5
    conns.close()
