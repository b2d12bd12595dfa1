"""Query embeddings computed once, in batches, and shared by every retriever of a run.

Embedding one query at a time is what a live request pays, and what the latency figures must
show; for the quality figures it is waste: on a 2-core machine a single MiniLM query costs
tens of milliseconds, a batched one a fraction of that, and without sharing each retriever
embeds all 10,353 ToolE queries again. ``PrecomputedQueries`` wraps the run's embedder: while
``active`` it answers the texts it holds from memory and passes anything else (and every
document) to the model, so a retriever that embeds other texts stays correct, only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from lucy.capability_index.embedder import Embedder

BATCH = 256
"""Texts per call to the model while precomputing (also the progress step)."""


class PrecomputedQueries:
    """An ``Embedder`` that serves precomputed query vectors while ``active``."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._vectors: dict[str, list[float]] = {}
        self.active = True
        self.passed_through = 0
        """Calls that reached the model while not ``active`` (did a retriever embed?)."""

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def held(self) -> int:
        """How many query texts it holds vectors for."""
        return len(self._vectors)

    def precompute(
        self, texts: Iterable[str], progress: Callable[[int, int], None] | None = None
    ) -> None:
        """Embed every distinct text not held yet, ``BATCH`` at a time."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            self._vectors.update(zip(chunk, self._inner.encode_queries(chunk), strict=True))
            if progress is not None:
                progress(start + len(chunk), len(todo))

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._inner.encode_documents(texts)

    def encode_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> list[list[float]]:
        if not self.active:
            self.passed_through += 1
            return self._inner.encode_queries(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        fresh = (
            dict(zip(missing, self._inner.encode_queries(missing), strict=True)) if missing else {}
        )
        return [self._vectors[t] if t in self._vectors else fresh[t] for t in texts]
