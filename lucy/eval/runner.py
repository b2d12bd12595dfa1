"""Run retrievers side by side over a dataset: rankings and per-query latency.

Each retriever gets two passes. The latency pass times an evenly spaced sample of queries one
at a time, with a cold query-embedding cache, the way a live request runs. The ranking pass
ranks every query with the query vectors precomputed in batches and shared between
retrievers (``PrecomputedQueries``), which changes no ranking but makes a 10,000-query run
minutes instead of tens of minutes on a 2-core machine. ``latency_queries=0`` skips the
sampling and times every query of the ranking pass cold instead, as one pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from threadpoolctl import ThreadpoolController

from lucy.capability_index.documents import document_format
from lucy.capability_index.embedder import Embedder
from lucy.capability_index.intents import embedded_texts, model_inputs, split_intents
from lucy.errors import InvalidRequestError
from lucy.eval.corpus import index_dataset
from lucy.eval.datasets import Dataset, EvalQuery
from lucy.eval.query_vectors import PrecomputedQueries
from lucy.eval.results import EvalRun, QueryOutcome, RetrieverRun
from lucy.eval.retrievers import EvalContext, EvalRetriever, resolve, timed_build
from lucy.eval.setup import run_setup
from lucy.settings import ALL_VIEWS, RetrievalWeights, View

Progress = Callable[[str, int, int], None]

LATENCY_QUERIES = 500
"""Queries timed cold per retriever by default."""

EMBED_TASK = "query vectors"
"""The progress name of precomputing the query vectors."""


def run_eval(
    dataset: Dataset,
    retrievers: Sequence[str],
    ks: Sequence[int],
    *,
    embedder: Embedder,
    cache_dir: Path,
    weights: RetrievalWeights | None = None,
    progress: Progress | None = None,
    latency_queries: int = LATENCY_QUERIES,
    views: Sequence[View] = ALL_VIEWS,
) -> EvalRun:
    """Index the dataset (once, cached), then for each retriever time a sample of queries
    and rank every query (see the module's docstring).

    ``build_s`` of a retriever is its own preparation; for ``hybrid`` and ``lucy`` it includes
    the shared index build of this run (0 when the index was cached).
    """
    if not retrievers:
        raise InvalidRequestError("name at least one retriever", field="retrievers")
    if not ks or min(ks) < 1:
        raise InvalidRequestError("k values must be positive integers", field="k")
    if latency_queries < 0:
        raise InvalidRequestError("latency_queries must be 0 or more", field="latency_queries")
    factories = {name: resolve(name) for name in retrievers}
    store, converted, report = index_dataset(dataset, cache_dir / "indexes", embedder, views)
    collection = store.live()
    assert collection is not None
    weights = weights or RetrievalWeights()
    shared = PrecomputedQueries(embedder) if latency_queries else None
    ctx = EvalContext(
        dataset=dataset,
        embedder=embedder if shared is None else shared,
        store=store,
        collection=collection,
        converted=converted,
        weights=weights,
        cache_dir=cache_dir,
    )
    index_s = report.seconds if report else 0.0
    depth = max(ks)
    runs: list[RetrieverRun] = []
    # numpy's BLAS threads spin after each call and take the cores torch's threads are
    # waiting for: the dense baseline's Seal-Tools p50 was 158.04 ms at 57e273b and 44.86 ms
    # with BLAS in the calling thread (1433ecd), on a 2-core machine (docs/eval.md)
    blas = ThreadpoolController().limit(limits=1, user_api="blas")
    try:
        for name, factory in factories.items():
            retriever, build_s = timed_build(factory, ctx)
            if name in ("hybrid", "lucy"):
                build_s += index_s
            run = RetrieverRun(name=name, build_s=build_s)
            clear = getattr(embedder, "clear_cache", None)
            if callable(clear):
                clear()  # every retriever's timed queries start with a cold query cache
            if shared is not None:
                shared.active, shared.passed_through = False, 0
                run.latency_ms = [
                    _timed(retriever, q, depth)[1]
                    for q in latency_sample(dataset.queries, latency_queries)
                ]
                shared.active = True
                if shared.passed_through:
                    shared.precompute(
                        _query_texts(dataset.queries, weights),
                        None if progress is None else partial(progress, EMBED_TASK),
                    )
            total = len(dataset.queries)
            for i, query in enumerate(dataset.queries, start=1):
                ranked, ms = _timed(retriever, query, depth)
                run.outcomes.append(
                    QueryOutcome(query.id, query.query, query.relevant, tuple(ranked[:depth]), ms)
                )
                if progress and (i % 50 == 0 or i == total):
                    progress(name, i, total)
            runs.append(run)
    finally:
        blas.restore_original_limits()
        store.close()
    return EvalRun(
        dataset=dataset,
        ks=sorted(set(ks)),
        runs=runs,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        setup=run_setup(embedder.model_id, weights, document_format(views)),
    )


def _timed(retriever: EvalRetriever, query: EvalQuery, depth: int) -> tuple[list[str], float]:
    started = time.perf_counter()
    ranked = retriever.retrieve(query.query, depth)
    return ranked, (time.perf_counter() - started) * 1000


def latency_sample(queries: Sequence[EvalQuery], n: int) -> list[EvalQuery]:
    """``n`` queries evenly spaced through the list (all of them when there are fewer)."""
    if n >= len(queries):
        return list(queries)
    return [queries[i * len(queries) // n] for i in range(n)]


def _query_texts(queries: Sequence[EvalQuery], weights: RetrievalWeights) -> list[str]:
    """Every text a retriever may embed for these queries: each query, its parts as the Lucy
    retriever splits it, and the query set in the query template (``model_inputs``)."""
    return [
        text
        for query in queries
        for text in model_inputs(
            embedded_texts(query.query, split_intents(query.query, weights.max_intents)),
            weights.query_template,
        )
    ]
