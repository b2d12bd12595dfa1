"""Connection state from the provider that owns each toolkit, served without waiting on it.

``RoutedConnections`` answers "which toolkits may this caller use" from the local store for the
toolkits no provider owns, and from each provider's ``ConnectionReader`` for its own.
``CachedReader`` puts a provider behind the cache: a fresh entry is served as it is; past its
TTL the last value read is served at once and re-read in the background, so a retrieval waits
on a provider only the first time a workspace is seen (a cold miss). A provider that fails is
read as "nothing connected" (never as everything), and the failure is not cached.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from cachetools import LRUCache

from lucy.capability_index.cache import KeyValueCache
from lucy.capability_index.connections import ConnectionStore
from lucy.errors import InvalidRequestError

log = logging.getLogger(__name__)

Key = tuple[str, str | None]


class ConnectionReader(Protocol):
    """``lucy.providers.base.ConnectionReader``, as the index uses it."""

    name: str

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]: ...

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None: ...


class CachedReader:
    """One provider's connection state behind the cache, refreshed in the background."""

    def __init__(
        self,
        reader: ConnectionReader,
        cache: KeyValueCache,
        *,
        ttl: float,
        max_known: int = 50_000,
        refresher: ThreadPoolExecutor | None = None,
    ) -> None:
        self.reader = reader
        self.name = reader.name
        self._cache = cache
        self._ttl = ttl
        self._known: LRUCache[Key, frozenset[str]] = LRUCache(maxsize=max_known)
        self._lock = threading.Lock()
        self._pending: set[Key] = set()
        self._refresher = refresher or ThreadPoolExecutor(
            max_workers=2, thread_name_prefix=f"conn-{reader.name}"
        )

    def toolkits(self, workspace: str, user: str | None) -> frozenset[str]:
        cached = self._cache.get(self._namespace(workspace), user or "*")
        if cached is not None:
            return frozenset(json.loads(cached))
        with self._lock:
            known = self._known.get((workspace, user))
        if known is not None:
            self._refresh_later((workspace, user))
            return known
        return self._read((workspace, user), fallback=frozenset())

    def invalidate(self, workspace: str) -> None:
        """Forget what is known of ``workspace``: the next read asks the provider."""
        self._cache.invalidate(self._namespace(workspace))
        with self._lock:
            for key in [k for k in self._known if k[0] == workspace]:
                del self._known[key]

    def close(self) -> None:
        self._refresher.shutdown(wait=False, cancel_futures=True)

    def _namespace(self, workspace: str) -> str:
        return f"conn:{self.name}:{workspace}"

    def _read(self, key: Key, *, fallback: frozenset[str]) -> frozenset[str]:
        workspace, user = key
        try:
            found = frozenset(self.reader.connected_toolkits(workspace, user))
        except Exception as exc:  # a provider outage must not fail the request
            log.warning("%s connection state for %s unreadable: %s", self.name, workspace, exc)
            return fallback
        self._cache.set(
            self._namespace(workspace), user or "*", json.dumps(sorted(found)), self._ttl
        )
        with self._lock:
            self._known[key] = found
        return found

    def _refresh_later(self, key: Key) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)

        def run() -> None:
            try:
                with self._lock:
                    stale = self._known.get(key, frozenset())
                self._read(key, fallback=stale)
            finally:
                with self._lock:
                    self._pending.discard(key)

        try:
            self._refresher.submit(run)
        except RuntimeError:  # shut down: serve what is known
            with self._lock:
                self._pending.discard(key)


class RoutedConnections:
    """A ``ConnectionStore`` over the local store and the providers' readers.

    ``owners()`` maps each indexed toolkit to its provider (from the live index). The local
    store answers for toolkits whose provider has no reader; a provider's toolkits are
    connected and disconnected at that provider, not here."""

    def __init__(
        self,
        local: ConnectionStore,
        readers: Iterable[CachedReader],
        owners: Callable[[], Mapping[str, str]],
    ) -> None:
        self.local = local
        self.readers = {r.name: r for r in readers}
        self._owners = owners

    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        local = self.local.toolkits(workspace, user)
        if not self.readers:
            return local
        owners = self._owners()
        found = {tk for tk in local if owners.get(tk) not in self.readers}
        for reader in self.readers.values():
            found |= reader.toolkits(workspace, user)
        return frozenset(found)

    def connect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self.local.connect(workspace, self._local_only(toolkits), user)

    def disconnect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self.local.disconnect(workspace, self._local_only(toolkits), user)

    def owner(self, toolkit: str) -> CachedReader | None:
        """The reader of the provider that owns ``toolkit``; None for a local toolkit."""
        return self.readers.get(self._owners().get(toolkit, ""))

    def invalidate(self, workspace: str) -> None:
        for reader in self.readers.values():
            reader.invalidate(workspace)

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()

    def _local_only(self, toolkits: Iterable[str]) -> list[str]:
        chosen = list(toolkits)
        owned = {tk: r.name for tk in chosen if (r := self.owner(tk)) is not None}
        if owned:
            where = ", ".join(f"{tk} ({name})" for tk, name in sorted(owned.items()))
            raise InvalidRequestError(
                f"these toolkits are connected through their provider, not in Lucy: {where}; "
                "connect them there (the connect link in a reply names where)",
                field="toolkits",
            )
        return chosen
