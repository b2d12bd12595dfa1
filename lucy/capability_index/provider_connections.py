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
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Protocol

from lucy.capability_index.cache import KeyValueCache
from lucy.capability_index.connections import PART, InvalidatingStore, namespace
from lucy.capability_index.part_reads import Key, PartReads
from lucy.errors import InvalidRequestError

log = logging.getLogger(__name__)


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
    ) -> None:
        self.reader = reader
        self.name = reader.name
        self._cache = cache
        self._ttl = ttl
        self._cold_wait = cold_wait
        self._parts = PartReads(
            reader.name,
            lambda key: frozenset(reader.own_toolkits(*key)),
            self._store,
            max_known=max_known,
        )

    def toolkits(self, workspace: str, user: str | None) -> frozenset[str]:
        """The workspace's part and, with ``user``, the user's own: each from the cache, or the
        last value read (refreshed behind), or a read waited for at most ``cold_wait``."""
        keys: list[Key] = (
            [(workspace, None)] if user is None else [(workspace, None), (workspace, user)]
        )
        found: set[str] = set()
        waiting: list[Future[frozenset[str] | None]] = []
        for key in keys:
            cached = self._cache.get(self._namespace(*key), PART)
            if cached is not None:
                found.update(json.loads(cached))
                continue
            known = self._parts.servable(key)
            future = self._parts.behind(key)
            if known is not None:
                found |= known
            else:
                waiting.append(future)
        deadline = time.monotonic() + self._cold_wait
        for future in waiting:
            try:
                part = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                log.warning(
                    "%s is slow to say what %s connected: going on without", self.name, workspace
                )
                continue
            found |= part or frozenset()  # a failed read: nothing connected, never everything
        return frozenset(found)

    def invalidate(self, workspace: str, user: str | None = None) -> None:
        """Forget what is known of one owner's part: the next read asks the provider."""
        self.forget_known(workspace, user)  # first: a read under way is then not cached
        self._cache.invalidate(self._namespace(workspace, user))

    def forget_known(self, workspace: str | None = None, user: str | None = None) -> None:
        """Do not serve the last values read (of that owner; None: of all) again without
        asking the provider; the shared cache is left alone."""
        self._parts.forget(workspace, user)

    def close(self) -> None:
        self._parts.close()

    def _namespace(self, workspace: str, user: str | None) -> str:
        return namespace(workspace, self.name, user)

    def _store(self, key: Key, found: frozenset[str]) -> None:
        value = json.dumps(sorted(found))
        self._cache.set(self._namespace(*key), PART, value, self._ttl)


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
        """What this process alone remembers of that owner's connection state (None: of
        all), local and every provider's: another replica changed it."""
        self.local.forget_known(workspace, user)
        for reader in self.readers.values():
            reader.forget_known(workspace, user)

    def close(self) -> None:
        self.local.close()
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
