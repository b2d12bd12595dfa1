"""The query template: the templated text ranks, the text as written gives the similarity."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from lucy.capability_index.catalog import Catalog
from lucy.capability_index.intents import model_inputs
from lucy.capability_index.retriever import RetrievalScope, Retriever
from lucy.capability_index.snapshot import SnapshotCache
from lucy.capability_index.sparse import SparseEncoder
from lucy.capability_index.store import ToolkitFilter, VectorStore
from lucy.capability_index.tags import IntentOverrides
from lucy.settings import RetrievalWeights
from tests.recording import Recording

QUERY = "open a bug in linear for the login crash"


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
    )


@pytest.mark.parametrize("template", ["{request} Which tool?", ""])
def test_retriever_ranks_by_the_template_and_reports_the_written_similarity(
    stores, embedder, small_catalog: Catalog, template: str
) -> None:
    store = stores["edge"]
    recording = Recording(embedder)
    result = _retriever(store, recording, template).retrieve(
        QUERY, RetrievalScope(connected=None), 5
    )
    assert recording.asked == [model_inputs([QUERY], template)]
    assert result.candidates[0].slug == "LINEAR_CREATE_ISSUE"
    assert result.candidates[0].similarity > 0  # so the loop below checks at least one
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
    recording = Recording(embedder)
    result = _retriever(stores["edge"], recording, "{request} Which tool?").retrieve(
        "file a bug in Linear and ping #eng", RetrievalScope(connected=None), 5
    )
    texts = ["file a bug in Linear and ping #eng", *result.intents]
    assert len(result.intents) == 2
    assert recording.asked == [[*texts, f"{texts[0]} Which tool?"]]
