"""Connection state from the provider that owns each toolkit, served without waiting on it.

``RoutedConnections`` answers "which toolkits may this caller use" from the local store for the
toolkits no provider owns, and from each provider's ``ConnectionReader`` for its own.
``CachedReader`` puts a provider behind the cache: a fresh entry is served as it is; past its
TTL the last value read is served at once and re-read in the background, so a retrieval waits
on a provider only the first time a workspace is seen (a cold miss), and then at most
``cold_wait`` seconds: past that it goes on without the provider's toolkits while the read
finishes behind it. A provider that fails is read as "nothing connected" (never as everything),
and the failure is not cached. As in the local store's cache, each owner's part (the
workspace's, each user's own) is cached and read on its own.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from cachetools import LRUCache

from lucy.capability_index.cache import KeyValueCache
from lucy.capability_index.connections import PART, InvalidatingStore, namespace
from lucy.errors import InvalidRequestError

log = logging.getLogger(__name__)

Key = tuple[str, str | None]


class ConnectionReader(Protocol):
    """``lucy.providers.base.ConnectionReader``, as the index uses it."""

    name: str

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]: ...

    def own_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]: ...

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None: ...


class CachedReader:
    """One provider's connection state behind the cache, refreshed in the background."""

    def __init__(
        self,
        reader: ConnectionReader,
        cache: KeyValueCache,
        *,
        ttl: float,
        cold_wait: float = 2.0,
        max_known: int = 50_000,
        refresher: ThreadPoolExecutor | None = None,
    ) -> None:
        self.reader = reader
        self.name = reader.name
        self._cache = cache
        self._ttl = ttl
        self._cold_wait = cold_wait
        self._known: LRUCache[Key, frozenset[str]] = LRUCache(maxsize=max_known)
        self._lock = threading.Lock()
        self._inflight: dict[Key, Future[frozenset[str] | None]] = {}
        self._refresher = refresher or ThreadPoolExecutor(
            max_workers=8, thread_name_prefix=f"conn-{reader.name}"
        )

    def toolkits(self, workspace: str, user: str | None) -> frozenset[str]:
        """The workspace's part and, with ``user``, the user's own: each from the cache, or the
        last value read (refreshed behind), or a read waited for at most ``cold_wait``."""
        keys: list[Key] = (
            [(workspace, None)] if user is None else [(workspace, None), (workspace, user)]
        )
        found: set[str] = set()
        waiting: list[tuple[Key, Future[frozenset[str] | None]]] = []
        for key in keys:
            cached = self._cache.get(self._namespace(*key), PART)
            if cached is not None:
                found.update(json.loads(cached))
                continue
            with self._lock:
                known = self._known.get(key)
            future = self._read_behind(key)
            if known is not None:
                found |= known
            else:
                waiting.append((key, future))
        deadline = time.monotonic() + self._cold_wait
        for key, future in waiting:
            try:
                part = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                log.warning(
                    "%s is slow to say what %s connected: going on without", self.name, key[0]
                )
                continue
            found |= part or frozenset()
        return frozenset(found)

    def invalidate(self, workspace: str, user: str | None = None) -> None:
        """Forget what is known of one owner's part: the next read asks the provider."""
        self._cache.invalidate(self._namespace(workspace, user))
        self.forget_known(workspace, user)

    def forget_known(self, workspace: str | None = None, user: str | None = None) -> None:
        """Drop the last values read (of ``workspace``'s part, or ``user``'s there; None:
        of all), not the shared cache."""
        with self._lock:
            if workspace is None:
                self._known.clear()
            else:
                self._known.pop((workspace, user), None)

    def close(self) -> None:
        self._refresher.shutdown(wait=False, cancel_futures=True)

    def _namespace(self, workspace: str, user: str | None) -> str:
        return namespace(workspace, self.name, user)

    def _read_behind(self, key: Key) -> Future[frozenset[str] | None]:
        """The read of ``key`` under way, or a new one (one at a time per key)."""
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                return future
            try:
                future = self._refresher.submit(self._read, key)
            except RuntimeError:  # shut down: read in this thread
                future = Future()
                future.set_result(self._read(key))
                return future
            self._inflight[key] = future
        future.add_done_callback(lambda done: self._landed(key, done))
        return future

    def _landed(self, key: Key, done: Future[frozenset[str] | None]) -> None:
        with self._lock:
            if self._inflight.get(key) is done:
                del self._inflight[key]

    def _read(self, key: Key) -> frozenset[str] | None:
        """Ask the provider; remember and cache the answer. None when it failed."""
        workspace, user = key
        try:
            found = frozenset(self.reader.own_toolkits(workspace, user))
        except Exception as exc:  # a provider outage must not fail the request
            log.warning("%s connection state for %s unreadable: %s", self.name, workspace, exc)
            return None
        value = json.dumps(sorted(found))
        self._cache.set(self._namespace(workspace, user), PART, value, self._ttl)
        with self._lock:
            self._known[key] = found
        return found


class RoutedConnections:
    """A ``ConnectionStore`` over the local store and the providers' readers.

    ``owners()`` maps each indexed toolkit to its provider (from the live index). The local
    store answers for toolkits whose provider has no reader; a provider's toolkits are
    connected and disconnected at that provider, not here."""

    def __init__(
        self,
        local: InvalidatingStore,
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

    def invalidate(self, workspace: str, user: str | None = None) -> None:
        """Forget one owner's connection state (the workspace's, or ``user``'s own), local
        and every provider's."""
        self.local.invalidate(workspace, user)
        for reader in self.readers.values():
            reader.invalidate(workspace, user)

    def namespaces(self, workspace: str, user: str | None = None) -> list[str]:
        """Every cache namespace that holds that owner's connection state."""
        return [
            namespace(workspace, user=user),
            *(namespace(workspace, name, user) for name in self.readers),
        ]

    def forget_known(self, workspace: str | None = None, user: str | None = None) -> None:
        """What this process alone remembers of provider connection state (that owner's, or
        all): another replica has already deleted the shared entries."""
        for reader in self.readers.values():
            reader.forget_known(workspace, user)

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
