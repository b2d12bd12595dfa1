"""Run retrievers side by side over a dataset: rankings and per-query latency."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from lucy.capability_index.embedder import Embedder
from lucy.errors import InvalidRequestError
from lucy.eval.corpus import index_dataset
from lucy.eval.datasets import Dataset
from lucy.eval.results import EvalRun, QueryOutcome, RetrieverRun
from lucy.eval.retrievers import EvalContext, resolve, timed_build
from lucy.settings import RetrievalWeights

Progress = Callable[[str, int, int], None]


def run_eval(
    dataset: Dataset,
    retrievers: Sequence[str],
    ks: Sequence[int],
    *,
    embedder: Embedder,
    cache_dir: Path,
    weights: RetrievalWeights | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Index the dataset (once, cached), then for each retriever rank every query.

    ``build_s`` of a retriever is its own preparation; for ``hybrid`` and ``lucy`` it includes
    the shared index build of this run (0 when the index was cached).
    """
    if not retrievers:
        raise InvalidRequestError("name at least one retriever", field="retrievers")
    if not ks or min(ks) < 1:
        raise InvalidRequestError("k values must be positive integers", field="k")
    factories = {name: resolve(name) for name in retrievers}
    store, converted, report = index_dataset(dataset, cache_dir / "indexes", embedder)
    collection = store.live()
    assert collection is not None
    ctx = EvalContext(
        dataset=dataset,
        embedder=embedder,
        store=store,
        collection=collection,
        converted=converted,
        weights=weights or RetrievalWeights(),
        cache_dir=cache_dir,
    )
    index_s = report.seconds if report else 0.0
    depth = max(ks)
    runs: list[RetrieverRun] = []
    try:
        for name, factory in factories.items():
            retriever, build_s = timed_build(factory, ctx)
            if name in ("hybrid", "lucy"):
                build_s += index_s
            clear = getattr(embedder, "clear_cache", None)
            if callable(clear):
                clear()  # every retriever starts with a cold query cache
            run = RetrieverRun(name=name, build_s=build_s)
            total = len(dataset.queries)
            for i, query in enumerate(dataset.queries, start=1):
                started = time.perf_counter()
                ranked = retriever.retrieve(query.query, depth)
                ms = (time.perf_counter() - started) * 1000
                run.outcomes.append(
                    QueryOutcome(query.id, query.query, query.relevant, tuple(ranked[:depth]), ms)
                )
                if progress and (i % 50 == 0 or i == total):
                    progress(name, i, total)
            runs.append(run)
    finally:
        store.close()
    return EvalRun(
        dataset=dataset,
        ks=sorted(set(ks)),
        runs=runs,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
