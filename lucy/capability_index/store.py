"""The vector-store seam: one protocol, an embedded (qdrant-edge) and a server implementation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

DENSE = "dense"
SPARSE = "bm25"
INDEXED_FIELDS = ("toolkit", "provider")


@dataclass(frozen=True)
class SparseVec:
    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class IndexPoint:
    """One tool as stored: id = uuid5(provider, slug), both vectors, the payload."""

    id: str
    dense: Sequence[float]
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    id: str
    score: float


@dataclass(frozen=True)
class ToolkitFilter:
    """Search only ``include`` (None = every toolkit), never ``exclude``."""

    include: frozenset[str] | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)

    @property
    def matches_nothing(self) -> bool:
        return self.include is not None and not (self.include - self.exclude)


@dataclass(frozen=True)
class SearchHits:
    """The dense and the sparse ranking; ``similarity``: each dense hit's cosine to the
    similarity vector, when the search was given one (else the dense scores are it)."""

    dense: list[Hit]
    sparse: list[Hit]
    similarity: dict[str, float] | None = None


def search_hits(results: list[list[Hit]], *, with_similarity: bool) -> SearchHits:
    """A search's batch results, in the order both stores send them: dense, then the dense
    hits by similarity when asked for, then sparse when the query had any terms."""
    dense, rest = results[0], results[1:]
    similarity = None
    if with_similarity:
        similarity, rest = {hit.id: hit.score for hit in rest[0]}, rest[1:]
    return SearchHits(dense, rest[0] if rest else [], similarity)


class VectorStore(Protocol):
    """Versioned collections of tools and a live pointer that swaps atomically."""

    def create_collection(self, name: str, dense_size: int) -> None:
        """Create an empty collection (fails if it exists)."""

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None: ...

    def seal(self, name: str) -> None:
        """Make a finished build durable and fast (flush, build indexes)."""

    def fetch(self, name: str, ids: Sequence[str]) -> list[IndexPoint]:
        """Points with vectors and payload; unknown ids are left out."""

    def payloads(self, name: str) -> list[dict[str, Any]]:
        """Every point's payload."""

    def set_payload(self, name: str, updates: Mapping[str, dict[str, Any]]) -> None:
        """Set these fields on these points (by id), leaving their other fields and their
        vectors as they are; unknown ids are skipped."""

    def search(
        self,
        name: str,
        dense: Sequence[float],
        sparse: SparseVec,
        toolkits: ToolkitFilter,
        limit: int,
        *,
        similarity: Sequence[float] | None = None,
    ) -> SearchHits:
        """The dense and the sparse ranking, each up to ``limit`` hits, filtered by toolkit.
        Hits carry ids and scores only: reading payloads costs more than the search itself,
        so callers keep them in memory per version (``snapshot.py``). With ``similarity``,
        the dense hits are also scored by their cosine to that vector (one more query in the
        same batch, over the dense hits only)."""

    def live(self) -> str | None:
        """The collection the live pointer names, or None before the first build."""

    def set_live(self, name: str) -> None:
        """Point the live pointer at ``name`` in one atomic step."""

    def collections(self) -> list[str]: ...

    def drop_collection(self, name: str) -> None: ...

    def close(self) -> None: ...
