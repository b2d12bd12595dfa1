"""The embedded store (qdrant-edge) and the server store (qdrant-client) answer alike."""

from __future__ import annotations

import pytest

from lucy.capability_index.catalog import Catalog
from lucy.capability_index.sparse import SparseEncoder
from lucy.capability_index.store import ToolkitFilter, VectorStore

QUERIES = [
    "open a bug in linear for the login crash",
    "send an email to the finance team",
    "what's on my calendar this week",
    "post a message in #eng",
    "search notion for the onboarding doc",
]


def _tie_groups(hits) -> list[frozenset[str]]:
    """Ids grouped by (rounded) score: engines may order equal scores differently, and the
    last group may be cut at the limit differently, so it is left out."""
    groups: dict[float, set[str]] = {}
    for hit in hits:
        groups.setdefault(round(hit.score, 3), set()).add(hit.id)
    return [frozenset(g) for _, g in sorted(groups.items(), reverse=True)][:-1]


def _search(store: VectorStore, embedder, query: str, flt: ToolkitFilter):
    live = store.live()
    assert live is not None
    return store.search(
        live, embedder.encode_query(query), SparseEncoder().encode_query(query), flt, 10
    )


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(
    "flt",
    [
        ToolkitFilter(),
        ToolkitFilter(include=frozenset({"github", "slack"})),
        ToolkitFilter(exclude=frozenset({"linear", "gmail"})),
    ],
    ids=["all", "include", "exclude"],
)
def test_same_rankings(
    stores, embedder, small_catalog: Catalog, query: str, flt: ToolkitFilter
) -> None:
    edge = _search(stores["edge"], embedder, query, flt)
    server = _search(stores["server"], embedder, query, flt)
    for mine, theirs in ((edge.dense, server.dense), (edge.sparse, server.sparse)):
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], rel=1e-3)
        assert _tie_groups(mine) == _tie_groups(theirs)
    toolkit_of = {t.point_id: t.toolkit for t in small_catalog.tools}
    for hit in edge.dense + edge.sparse + server.dense + server.sparse:
        assert flt.include is None or toolkit_of[hit.id] in flt.include
        assert toolkit_of[hit.id] not in flt.exclude


def test_empty_include_matches_nothing(stores, embedder) -> None:
    for store in stores.values():
        hits = _search(store, embedder, "anything", ToolkitFilter(include=frozenset()))
        assert hits.dense == [] and hits.sparse == []


def test_same_versions_fetch_and_payloads(stores, small_catalog: Catalog) -> None:
    ids = [t.point_id for t in small_catalog.tools[:5]] + ["00000000-0000-0000-0000-000000000000"]
    fetched = {name: store.fetch(store.live() or "", ids) for name, store in stores.items()}
    assert len(fetched["edge"]) == len(fetched["server"]) == 5
    by_id = {p.id: p for p in fetched["server"]}
    for point in fetched["edge"]:
        other = by_id[point.id]
        assert point.payload == other.payload
        assert point.sparse == other.sparse
        assert point.dense == pytest.approx(other.dense, abs=1e-6)
    for store in stores.values():
        assert len(store.payloads(store.live() or "")) == len(small_catalog.tools)
        assert store.collections() == [store.live()]


def test_set_payload_adds_fields_and_skips_unknown_ids(
    tmp_path, embedder, small_catalog: Catalog
) -> None:
    """Both stores: the named fields change, the rest of the payload and the vectors do not."""
    from qdrant_client import QdrantClient

    from lucy.capability_index.build import build_index
    from lucy.capability_index.edge_store import EdgeStore
    from lucy.capability_index.server_store import ServerStore

    tools = small_catalog.tools[:3]
    tiny = Catalog(tools=tools, toolkits=small_catalog.toolkits)
    for store in (EdgeStore(tmp_path / "edge"), ServerStore(QdrantClient(":memory:"), prefix="t")):
        build_index(store, embedder, tiny, prefix="t")
        live = store.live()
        first, second = tools[0].point_id, tools[1].point_id
        before = {p.id: p for p in store.fetch(live, [first, second])}
        unknown = "00000000-0000-0000-0000-000000000000"
        store.set_payload(live, {first: {"usage": {"calls": 3, "successes": 2}}, unknown: {"x": 1}})
        after = {p.id: p for p in store.fetch(live, [first, second])}
        assert after[first].payload == {
            **before[first].payload,
            "usage": {"calls": 3, "successes": 2},
        }
        assert after[first].dense == before[first].dense
        assert after[second].payload == before[second].payload
        assert store.fetch(live, [unknown]) == []
        store.close()
