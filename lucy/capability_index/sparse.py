"""Sparse lexical vectors: Qdrant's own BM25 tokenizer and term weights (from qdrant-edge).

Documents carry BM25 term-frequency weights (k1, b, average length); the IDF half is applied by
the collection's IDF modifier at search time, so it stays right as the catalog changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import qdrant_edge as E

from lucy.capability_index.store import SparseVec


class SparseEncoder:
    def __init__(self, *, avg_len: float = 64.0, k: float = 1.2, b: float = 0.75) -> None:
        self._model = E.Bm25(E.Bm25Config(avg_len=avg_len, k=k, b=b))

    @classmethod
    def for_corpus(cls, texts: Sequence[str]) -> SparseEncoder:
        """An encoder whose length normalisation fits this corpus."""
        lengths = [len(t.split()) for t in texts] or [1]
        return cls(avg_len=max(1.0, sum(lengths) / len(lengths)))

    def encode_document(self, text: str) -> SparseVec:
        return _vec(self._model.embed_document(text))

    def encode_query(self, text: str) -> SparseVec:
        return _vec(self._model.embed_query(text))


def _vec(raw: E.SparseVector) -> SparseVec:
    return SparseVec(tuple(int(i) for i in raw.indices), tuple(float(v) for v in raw.values))
