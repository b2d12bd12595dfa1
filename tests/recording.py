"""A test embedder that records what it is asked to embed."""

from __future__ import annotations

from collections.abc import Sequence


class Recording:
    """An embedder that records every query text it is asked for; vectors come from
    ``inner`` when given (a real model), else they are made up."""

    model_id = "recording"
    dimension = 2

    def __init__(self, inner=None) -> None:
        self.inner = inner
        self.asked: list[list[str]] = []
        if inner is not None:
            self.model_id, self.dimension = inner.model_id, inner.dimension

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self.inner is not None:
            return self.inner.encode_documents(texts)
        return [[float(len(t)), 1.0] for t in texts]

    def encode_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> list[list[float]]:
        self.asked.append(list(texts))
        if self.inner is not None:
            return self.inner.encode_queries(texts)
        return [[float(len(t)), 0.0] for t in texts]
