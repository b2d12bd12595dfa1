"""Payloads of a live index version, held in memory: ranking and answers read them from here."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from lucy.capability_index.cache_stats import CacheStats
from lucy.capability_index.ranking import usage_priors
from lucy.capability_index.shared_schemas import SharedSchemas
from lucy.capability_index.store import VectorStore
from lucy.errors import EmbedderMismatchError
from lucy.models import point_id


@dataclass(frozen=True)
class IndexSnapshot:
    version: str
    by_id: dict[str, dict[str, Any]]
    by_slug: dict[str, dict[str, Any]]
    toolkit_names: dict[str, str]
    """Every toolkit of the version, with its display name."""
    toolkit_providers: dict[str, str]
    """The provider that owns each toolkit (its connection state is that provider's)."""
    priors: dict[str, float]
    """Each used tool's usage prior in [0, 1], from the successful calls the usage roll-up
    wrote into its payload."""
    embedders: frozenset[str] = frozenset()
    """The models (and runtimes) the version's vectors were made with: one, normally."""

    @classmethod
    def of(cls, version: str, payloads: list[dict[str, Any]]) -> IndexSnapshot:
        successes = {p["slug"]: int(p["usage"]["successes"]) for p in payloads if "usage" in p}
        return cls(
            version=version,
            by_id={point_id(p["provider"], p["slug"]): p for p in payloads},
            by_slug={p["slug"]: p for p in payloads},
            toolkit_names={p["toolkit"]: p.get("toolkit_name", p["toolkit"]) for p in payloads},
            toolkit_providers={p["toolkit"]: p["provider"] for p in payloads},
            priors=usage_priors(successes),
            embedders=frozenset(str(p["embedder"]) for p in payloads if "embedder" in p),
        )

    def check_embedder(self, model_id: str) -> None:
        """Raise unless the version's vectors were made by ``model_id`` (the model and runtime
        that would embed the queries searching it)."""
        if self.embedders and model_id not in self.embedders:
            made = ", ".join(sorted(self.embedders))
            raise EmbedderMismatchError(
                f"index {self.version} was embedded with {made}, but this process embeds "
                f"queries with {model_id}: rebuild it (`lucy index build`) or set "
                "LUCY_EMBEDDING_MODEL and LUCY_EMBEDDING_BACKEND to what built it"
            )


class SnapshotCache:
    """One snapshot per version, loaded once (a scroll of the collection), the newest kept.

    This is the ``tools`` kind of cache, keyed by the index version: a lookup is an ``l1``
    hit (in memory), an ``l2`` hit (another replica put the version in Redis, ``shared``), or a
    ``miss`` that read the version's schemas from the vector store (and shared them). A version
    changes only when the usage roll-up writes into its payloads (``forget``)."""

    def __init__(
        self,
        store: VectorStore,
        *,
        keep: int = 2,
        stats: CacheStats | None = None,
        shared: SharedSchemas | None = None,
    ) -> None:
        self._store = store
        self.stats = stats or CacheStats()
        self._shared = shared
        self._keep = keep
        self._snapshots: dict[str, IndexSnapshot] = {}
        self._lock = threading.Lock()

    def get(self, version: str) -> IndexSnapshot:
        snapshot = self._snapshots.get(version)
        if snapshot is not None:
            self.stats.record("tools", "l1")
            return snapshot
        with self._lock:
            snapshot = self._snapshots.get(version)
            if snapshot is not None:
                self.stats.record("tools", "l1")
                return snapshot
            payloads = None if self._shared is None else self._shared.get(version)
            self.stats.record("tools", "miss" if payloads is None else "l2")
            if payloads is None:
                payloads = self._store.payloads(version)
                if self._shared is not None:
                    self._shared.put(version, payloads)
            snapshot = IndexSnapshot.of(version, payloads)
            self._snapshots[version] = snapshot
            for old in list(self._snapshots)[: -self._keep]:
                del self._snapshots[old]
        return snapshot

    def forget(self, version: str | None = None, *, shared: bool = False) -> None:
        """Drop ``version`` (None: every version) from memory, and with ``shared`` from Redis:
        its payloads changed (a usage roll-up), so the next lookup reads them again."""
        with self._lock:
            if version is None:
                self._snapshots.clear()
            else:
                self._snapshots.pop(version, None)
                if shared and self._shared is not None:
                    self._shared.drop(version)
