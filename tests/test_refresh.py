"""The schema refresh: a crash at any step (or a lost lock) leaves the last complete version
live, and a rerun ends identical to a clean run; two refreshes at once end with one writer; a
targeted refresh lists only the provider that owns the toolkit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from lucy.capability_index.catalog import Catalog
from lucy.capability_index.edge_store import EdgeStore
from lucy.capability_index.service import CapabilityIndex
from lucy.capability_index.store import IndexPoint
from lucy.jobs.lock import LocalLocks, LockLost
from lucy.jobs.refresh import refresh_index
from lucy.models import SourceListing, ToolSpec, point_id
from tests.conftest import make_settings


class Crash(Exception):
    """The process died here."""


class CrashingStore(EdgeStore):
    """The embedded store, dying once at the named step of the next build."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.crash_at: str | None = None

    def _maybe_crash(self, step: str) -> None:
        if self.crash_at == step:
            self.crash_at = None
            raise Crash(step)

    def create_collection(self, name: str, dense_size: int) -> None:
        self._maybe_crash("create_collection")
        super().create_collection(name, dense_size)

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        self._maybe_crash("upsert")
        super().upsert(name, points)

    def seal(self, name: str) -> None:
        self._maybe_crash("seal")
        super().seal(name)

    def set_live(self, name: str) -> None:
        self._maybe_crash("set_live")
        super().set_live(name)


class Source:
    """A provider whose listing the test changes between refreshes."""

    def __init__(self, name: str, listing: SourceListing) -> None:
        self.name = name
        self.listing = listing
        self.listed = 0

    async def list_tools(self) -> SourceListing:
        self.listed += 1
        return self.listing


def listing_of(catalog: Catalog, provider: str, toolkits: set[str]) -> SourceListing:
    return SourceListing(
        provider=provider,
        toolkits=tuple(info for tk, info in catalog.toolkits.items() if tk in toolkits),
        tools=tuple(
            t.model_copy(update={"provider": provider})
            for t in catalog.tools
            if t.toolkit in toolkits
        ),
    )


def changed(listing: SourceListing) -> SourceListing:
    """The next version of a provider's tools: one removed, one described anew."""
    tools: list[ToolSpec] = list(listing.tools[1:])
    tools[0] = tools[0].model_copy(update={"description": tools[0].description + " (v2)"})
    return listing.model_copy(update={"tools": tuple(tools)})


def state(index: CapabilityIndex) -> dict[str, tuple[str, tuple[float, ...]]]:
    """Everything a reader sees of the live version: each point's payload and vector."""
    live = index.store.live()
    assert live is not None
    payloads = {point_id(p["provider"], p["slug"]): p for p in index.store.payloads(live)}
    points = index.store.fetch(live, list(payloads))
    return {
        p.id: (json.dumps(payloads[p.id], sort_keys=True), tuple(round(x, 6) for x in p.dense))
        for p in points
    }


@pytest.fixture
def sources(small_catalog: Catalog) -> list[Source]:
    return [
        Source("remote", listing_of(small_catalog, "remote", {"github", "linear"})),
        Source("other", listing_of(small_catalog, "other", {"slack"})),
    ]


def open_index(path: Path, embedder, store: EdgeStore | None = None) -> CapabilityIndex:
    settings = make_settings(path, demo_catalog=False)
    return CapabilityIndex(settings, embedder=embedder, store=store)


def refresh(index: CapabilityIndex, sources: list[Source], **kw: Any) -> Any:
    lease = LocalLocks().acquire("refresh")
    assert lease is not None
    return asyncio.run(refresh_index(index, sources, lease, **kw))


def test_a_clean_refresh_picks_up_changes_and_reuses_embeddings(
    tmp_path, embedder, sources
) -> None:
    index = open_index(tmp_path, embedder)
    first = refresh(index, sources)
    assert first.build.reused == 0
    sources[0].listing = changed(sources[0].listing)
    second = refresh(index, sources)
    assert second.build.embedded == 1  # only the tool whose description changed
    assert second.build.tools == first.build.tools - 1
    index.close()


def fresh_sources(catalog: Catalog) -> list[Source]:
    return [
        Source("remote", listing_of(catalog, "remote", {"github", "linear"})),
        Source("other", listing_of(catalog, "other", {"slack"})),
    ]


@pytest.fixture(scope="module")
def clean_state(tmp_path_factory, embedder, small_catalog) -> dict[str, Any]:
    """What a clean run ends with: the first listing built, then the changed one."""
    clean_sources = fresh_sources(small_catalog)
    clean = open_index(tmp_path_factory.mktemp("clean"), embedder)
    refresh(clean, clean_sources)
    clean_sources[0].listing = changed(clean_sources[0].listing)
    refresh(clean, clean_sources)
    expected = state(clean)
    clean.close()
    return expected


@pytest.mark.parametrize("step", ["create_collection", "upsert", "seal", "set_live", "lock"])
def test_a_crash_at_any_step_keeps_the_last_version_and_a_rerun_converges(
    tmp_path, embedder, small_catalog, clean_state, step
) -> None:
    store = CrashingStore(tmp_path / "crashy" / "index" / "edge")
    crashy = open_index(tmp_path / "crashy", embedder, store)
    crash_sources = fresh_sources(small_catalog)
    refresh(crashy, crash_sources)
    before, live_before = state(crashy), store.live()
    crash_sources[0].listing = changed(crash_sources[0].listing)
    if step == "lock":
        lease = LocalLocks().acquire("refresh")
        assert lease is not None
        lease.release()  # another runner took over while this one was embedding
        with pytest.raises(Exception) as died:
            asyncio.run(refresh_index(crashy, crash_sources, lease))
        assert isinstance(died.value, LockLost) or isinstance(died.value.__cause__, LockLost)
    else:
        store.crash_at = step
        with pytest.raises(Exception) as died:
            refresh(crashy, crash_sources)
        assert isinstance(died.value.__cause__ or died.value, Crash)
    assert store.live() == live_before and state(crashy) == before
    assert set(store.collections()) == {live_before}  # the half-built version is gone
    refresh(crashy, crash_sources)  # the rerun
    assert state(crashy) == clean_state
    crashy.close()


def test_two_refreshes_at_once_end_with_one_writer(tmp_path, embedder, sources) -> None:
    index = open_index(tmp_path, embedder)
    locks = LocalLocks()
    first, second = locks.acquire("refresh"), locks.acquire("refresh")
    assert first is not None and second is None  # the second runner skips
    asyncio.run(refresh_index(index, sources, first))
    first.release()
    assert len(index.store.collections()) == 1
    index.close()


def test_a_targeted_refresh_lists_only_the_owning_provider(tmp_path, embedder, sources) -> None:
    index = open_index(tmp_path, embedder)
    refresh(index, sources)
    remote, other = sources
    listed = (remote.listed, other.listed)
    remote.listing = changed(remote.listing)
    report = refresh(index, sources, toolkits={"linear"})
    assert report.listed == ("remote",) and report.kept == ("other",)
    assert (remote.listed, other.listed) == (listed[0] + 1, listed[1])
    assert report.build.embedded == 1 and report.build.reused == report.build.tools - 1
    assert {"github", "linear", "slack"} <= set(index.toolkit_owners())
    index.close()
