"""The query template: the templated text ranks, the text as written gives the similarity."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from qdrant_client import QdrantClient

from lucy.capability_index.build import build_index
from lucy.capability_index.catalog import Catalog
from lucy.capability_index.edge_store import EdgeStore
from lucy.capability_index.intents import model_inputs
from lucy.capability_index.retriever import RetrievalScope, Retriever
from lucy.capability_index.server_store import ServerStore
from lucy.capability_index.snapshot import SnapshotCache
from lucy.capability_index.sparse import SparseEncoder
from lucy.capability_index.store import ToolkitFilter, VectorStore
from lucy.capability_index.tags import IntentOverrides
from lucy.settings import RetrievalWeights

QUERY = "open a bug in linear for the login crash"


class RecordingEmbedder:
    """The real model; remembers what each ``encode_queries`` call was given."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.calls: list[list[str]] = []

    @property
    def model_id(self) -> str:
        return str(self._inner.model_id)

    @property
    def dimension(self) -> int:
        return int(self._inner.dimension)

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return list(self._inner.encode_documents(texts))

    def encode_query(self, text: str) -> list[float]:
        return list(self._inner.encode_query(text))

    def encode_queries(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return list(self._inner.encode_queries(texts))


def test_template_must_name_the_request_once() -> None:
    assert RetrievalWeights().query_template == "{request} Which tool?"
    assert RetrievalWeights(query_template="").query_template == ""
    assert RetrievalWeights(query_template="query: {request}").query_template
    for bad in ("Which tool?", "{request} or {request}", "{query} Which tool?"):
        with pytest.raises(ValidationError, match="exactly once"):
            RetrievalWeights(query_template=bad)


def test_model_inputs_are_the_texts_then_the_templated_request() -> None:
    texts = ["file a bug {x} and ping #eng", "file a bug {x}", "ping #eng"]
    assert model_inputs(texts, "") == texts
    assert model_inputs(texts, "{request} Which tool?") == [
        *texts,
        "file a bug {x} and ping #eng Which tool?",
    ]


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory, embedder, small_catalog: Catalog
) -> dict[str, VectorStore]:
    edge = EdgeStore(Path(tmp_path_factory.mktemp("edge")))
    server = ServerStore(QdrantClient(":memory:"), prefix="lucy_tools")
    for store in (edge, server):
        build_index(store, embedder, small_catalog, prefix="lucy_tools")
    yield {"edge": edge, "server": server}
    edge.close()
    server.close()


@pytest.mark.parametrize("name", ["edge", "server"])
def test_search_scores_the_dense_hits_by_the_similarity_vector(stores, embedder, name) -> None:
    store = stores[name]
    live = store.live()
    ranking = embedder.encode_query(f"{QUERY} Which tool?")
    written = embedder.encode_query(QUERY)
    sparse = SparseEncoder().encode_query(QUERY)
    plain = store.search(live, ranking, sparse, ToolkitFilter(), 10)
    hits = store.search(live, ranking, sparse, ToolkitFilter(), 10, similarity=written)
    assert plain.similarity is None
    for mine, theirs in ((hits.dense, plain.dense), (hits.sparse, plain.sparse)):
        assert [h.id for h in mine] == [h.id for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-6)
    assert hits.similarity is not None and set(hits.similarity) == {h.id for h in hits.dense}
    stored = {p.id: np.asarray(p.dense) for p in store.fetch(live, list(hits.similarity))}
    for pid, score in hits.similarity.items():
        assert score == pytest.approx(float(stored[pid] @ np.asarray(written)), abs=1e-4)
    # the templated vector scores the same tools differently: the two are not the same query
    assert any(abs(h.score - hits.similarity[h.id]) > 0.01 for h in hits.dense)
    nothing = ToolkitFilter(include=frozenset())
    assert store.search(live, ranking, sparse, nothing, 10, similarity=written).similarity == {}


def _retriever(store: VectorStore, embedder, template: str) -> Retriever:
    return Retriever(
        store,
        embedder,
        live_collection=lambda: store.live() or "",
        snapshots=SnapshotCache(store),
        weights=RetrievalWeights(query_template=template),
        overrides=IntentOverrides(),
        toolkit_names={},
    )


@pytest.mark.parametrize("template", ["{request} Which tool?", ""])
def test_retriever_ranks_by_the_template_and_reports_the_written_similarity(
    stores, embedder, small_catalog: Catalog, template: str
) -> None:
    store = stores["edge"]
    recording = RecordingEmbedder(embedder)
    result = _retriever(store, recording, template).retrieve(
        QUERY, RetrievalScope(connected=None), 5
    )
    assert recording.calls == [model_inputs([QUERY], template)]
    assert result.candidates[0].slug == "LINEAR_CREATE_ISSUE"
    written = np.asarray(embedder.encode_query(QUERY))
    point_of = {t.slug: t.point_id for t in small_catalog.tools}
    ids = [point_of[c.slug] for c in result.candidates]
    stored = {p.id: np.asarray(p.dense) for p in store.fetch(store.live(), ids)}
    for candidate, pid in zip(result.candidates, ids, strict=True):
        if candidate.similarity:  # 0.0: found by BM25 alone, outside the dense hits
            assert candidate.similarity == pytest.approx(float(stored[pid] @ written), abs=1e-3)


def test_split_request_embeds_its_parts_as_written_and_the_whole_templated(
    stores, embedder
) -> None:
    recording = RecordingEmbedder(embedder)
    result = _retriever(stores["edge"], recording, "{request} Which tool?").retrieve(
        "file a bug in Linear and ping #eng", RetrievalScope(connected=None), 5
    )
    texts = ["file a bug in Linear and ping #eng", *result.intents]
    assert len(result.intents) == 2
    assert recording.calls == [[*texts, f"{texts[0]} Which tool?"]]
