"""Retrievers compared by ``lucy eval``: one small protocol; built-ins and ``module:factory``.

A retriever answers ``retrieve(query, k) -> [tool name, ...]`` in the dataset's own names. A
new one (a fine-tuned model, a reranker) is a factory ``(EvalContext) -> EvalRetriever``, named
on the command line as ``package.module:factory``; the runner needs no change.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lucy.capability_index.edge_store import EdgeStore
from lucy.capability_index.embedder import Embedder
from lucy.capability_index.ranking import fuse
from lucy.capability_index.retriever import RetrievalScope, Retriever
from lucy.capability_index.snapshot import SnapshotCache
from lucy.capability_index.sparse import SparseEncoder
from lucy.capability_index.store import ToolkitFilter
from lucy.capability_index.tags import IntentOverrides
from lucy.errors import InvalidRequestError
from lucy.eval.corpus import DatasetCatalog, tool_text
from lucy.eval.datasets import Dataset
from lucy.settings import RetrievalWeights


class EvalRetriever(Protocol):
    """Top-k tool names for a query."""

    def retrieve(self, query: str, k: int) -> list[str]: ...


@dataclass
class EvalContext:
    """Everything a retriever may use; the index is the dataset's, built once per run."""

    dataset: Dataset
    embedder: Embedder
    store: EdgeStore
    collection: str
    converted: DatasetCatalog
    weights: RetrievalWeights
    cache_dir: Path

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.dataset.tools]


Factory = Callable[[EvalContext], EvalRetriever]


class Bm25Baseline:
    """BM25 (bm25s, Lucene variant) over the tool text; English stop words removed. With
    ``stem`` (the ``bm25-stem`` retriever) tokens are Snowball-stemmed (PyStemmer)."""

    def __init__(self, ctx: EvalContext, *, stem: bool = False) -> None:
        import bm25s

        self._bm25s = bm25s
        self._names = ctx.names
        self._stemmer = _english_stemmer() if stem else None
        corpus = [tool_text(t) for t in ctx.dataset.tools]
        self._model = bm25s.BM25()
        self._model.index(self._tokenize(corpus), show_progress=False)

    def _tokenize(self, texts: list[str]) -> Any:
        return self._bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, show_progress=False
        )

    def retrieve(self, query: str, k: int) -> list[str]:
        tokens = self._tokenize([query])
        if not tokens.vocab:
            return []
        k = min(k, len(self._names))
        ids, _ = self._model.retrieve(tokens, k=k, show_progress=False)
        return [self._names[int(i)] for i in ids[0]]


def _english_stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def stemmed_bm25(ctx: EvalContext) -> Bm25Baseline:
    return Bm25Baseline(ctx, stem=True)


class DenseBaseline:
    """Plain cosine over MiniLM embeddings of the tool text (exact, numpy); embeddings are
    cached on disk by the text and model."""

    def __init__(self, ctx: EvalContext) -> None:
        self._embedder = ctx.embedder
        self._names = ctx.names
        texts = [tool_text(t) for t in ctx.dataset.tools]
        path = ctx.cache_dir / f"dense-{ctx.dataset.content_hash}.npy"
        meta = path.with_suffix(".json")
        if path.exists() and json.loads(meta.read_text()).get("model") == ctx.embedder.model_id:
            self._matrix = np.load(path)
        else:
            self._matrix = np.asarray(ctx.embedder.encode_documents(texts), dtype=np.float32)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, self._matrix)
            meta.write_text(json.dumps({"model": ctx.embedder.model_id}))

    def retrieve(self, query: str, k: int) -> list[str]:
        scores = self._matrix @ np.asarray(self._embedder.encode_query(query), dtype=np.float32)
        k = min(k, len(self._names))
        top = np.argpartition(-scores, k - 1)[:k]
        return [self._names[int(i)] for i in top[np.argsort(-scores[top])]]


class HybridBaseline:
    """Lucy's index (dense + BM25 sparse) fused as Lucy fuses, without re-scoring or splitting."""

    def __init__(self, ctx: EvalContext) -> None:
        self._ctx = ctx
        self._sparse = SparseEncoder()
        self._payloads = SnapshotCache(ctx.store).get(ctx.collection).by_id

    def retrieve(self, query: str, k: int) -> list[str]:
        ctx = self._ctx
        hits = ctx.store.search(
            ctx.collection,
            ctx.embedder.encode_query(query),
            self._sparse.encode_query(query),
            ToolkitFilter(),
            max(k, ctx.weights.prefetch_limit),
        )
        fused = fuse(hits.dense, hits.sparse, ctx.weights, self._payloads)
        return [ctx.converted.slug_to_name[s.payload["slug"]] for s in fused[:k]]


class LucyPipeline:
    """The production retriever, the code ``/v1/retrieve`` runs, with no connection filter."""

    def __init__(self, ctx: EvalContext) -> None:
        self._ctx = ctx
        self._retriever = Retriever(
            ctx.store,
            ctx.embedder,
            live_collection=lambda: ctx.collection,
            snapshots=SnapshotCache(ctx.store),
            weights=ctx.weights,
            overrides=IntentOverrides(),
        )

    def retrieve(self, query: str, k: int) -> list[str]:
        result = self._retriever.retrieve(query, RetrievalScope(connected=None), k)
        return [self._ctx.converted.slug_to_name[c.slug] for c in result.candidates]


BUILTIN: dict[str, Factory] = {
    "bm25": Bm25Baseline,
    "bm25-stem": stemmed_bm25,
    "dense": DenseBaseline,
    "hybrid": HybridBaseline,
    "lucy": LucyPipeline,
}


def resolve(spec: str) -> Factory:
    """A built-in name, or ``package.module:factory``."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise InvalidRequestError(
            f"unknown retriever {spec!r}: use one of {sorted(BUILTIN)} or package.module:factory",
            field="retrievers",
        )
    try:
        factory: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidRequestError(
            f"cannot load retriever {spec!r}: {exc}", field="retrievers"
        ) from exc
    if not callable(factory):
        raise InvalidRequestError(f"retriever {spec!r} is not callable", field="retrievers")
    built: Factory = factory
    return built


def timed_build(factory: Factory, ctx: EvalContext) -> tuple[EvalRetriever, float]:
    started = time.perf_counter()
    retriever = factory(ctx)
    return retriever, time.perf_counter() - started
