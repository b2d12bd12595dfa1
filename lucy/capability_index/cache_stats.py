"""Hits and misses per kind of cached value, counted where each lookup is answered.

A kind is a namespace's first part: ``tools`` (a version's tool schemas), ``conn`` (a
workspace's connected toolkits), ``qvec`` (query embeddings). ``l1`` is this process's tier,
``l2`` the shared one (Redis), ``miss`` went to the source (the vector store, the database or a
provider, the model).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["l1", "l2", "miss"]


def kind_of(namespace: str) -> str:
    return namespace.split(":", 1)[0]


@dataclass(frozen=True)
class KindCounts:
    l1: int = 0
    l2: int = 0
    misses: int = 0

    @property
    def lookups(self) -> int:
        return self.l1 + self.l2 + self.misses

    @property
    def hit_ratio(self) -> float | None:
        """Hits over lookups; None before the first lookup."""
        return (self.l1 + self.l2) / self.lookups if self.lookups else None

    def __sub__(self, other: KindCounts) -> KindCounts:
        return KindCounts(self.l1 - other.l1, self.l2 - other.l2, self.misses - other.misses)

    def __add__(self, other: KindCounts) -> KindCounts:
        return KindCounts(self.l1 + other.l1, self.l2 + other.l2, self.misses + other.misses)


class CacheStats:
    """Thread-safe counters, one set per kind."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, Outcome]] = Counter()
        self._lock = threading.Lock()

    def record(self, kind: str, outcome: Outcome, n: int = 1) -> None:
        with self._lock:
            self._counts[(kind, outcome)] += n

    def counts(self) -> dict[str, KindCounts]:
        with self._lock:
            items = list(self._counts.items())
        kinds = sorted({kind for (kind, _), _n in items})
        by = dict(items)
        return {
            kind: KindCounts(
                by.get((kind, "l1"), 0), by.get((kind, "l2"), 0), by.get((kind, "miss"), 0)
            )
            for kind in kinds
        }
