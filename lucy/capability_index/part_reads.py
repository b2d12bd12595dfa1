"""Reads of one owner's connections (a workspace's, or a user's own) behind the cache: the last
value read, served while a read in the background refreshes it, at most one read in flight per
owner, and none remembered that began before the owner was invalidated.

Both the local store's cache (``CachedConnectionStore``) and each provider's
(``CachedReader``) keep their parts here. An invalidation makes the owner's last value
unservable (the next read waits for the source) but keeps it as the fallback for a store that
is down; a read already under way when it landed may carry the state from before the change,
so its answer is returned to whoever waits for it but neither cached nor remembered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from cachetools import LRUCache

log = logging.getLogger(__name__)

Key = tuple[str, str | None]
"""(workspace, user): user None is the workspace's own part."""


@dataclass(frozen=True)
class _Known:
    value: frozenset[str]
    servable: bool


class PartReads:
    def __init__(
        self,
        name: str,
        read: Callable[[Key], frozenset[str]],
        store: Callable[[Key, frozenset[str]], None],
        *,
        max_known: int = 50_000,
        workers: int = 8,
    ) -> None:
        """``read`` asks the source (raising when it cannot); ``store`` puts an answer in the
        shared cache."""
        self._name = name
        self._read = read
        self._store = store
        self._known: LRUCache[Key, _Known] = LRUCache(maxsize=max_known)
        self._generation: LRUCache[Key, int] = LRUCache(maxsize=max_known)
        self._epoch = 0
        self._inflight: dict[Key, Future[frozenset[str] | None]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"conn-{name}")

    def servable(self, key: Key) -> frozenset[str] | None:
        """The last value read, unless the owner was invalidated since."""
        with self._lock:
            known = self._known.get(key)
        return known.value if known is not None and known.servable else None

    def last(self, key: Key) -> frozenset[str] | None:
        """The last value read, invalidated or not (the fallback while the source is down)."""
        with self._lock:
            known = self._known.get(key)
        return None if known is None else known.value

    def now(self, key: Key) -> frozenset[str]:
        """Read in this thread (errors raise); remembered and cached unless invalidated
        meanwhile."""
        began = self._generation_of(key)
        found = self._read(key)
        self._remember(key, found, began)
        return found

    def behind(self, key: Key) -> Future[frozenset[str] | None]:
        """The read of ``key`` under way, or a new one in the background; its result is None
        when the source failed (logged)."""
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                return future
            try:
                future = self._pool.submit(self._quietly, key)
            except RuntimeError:  # shut down: read in this thread
                future = Future()
                future.set_result(self._quietly(key))
                return future
            self._inflight[key] = future
        future.add_done_callback(lambda done: self._landed(key, done))
        return future

    def forget(self, workspace: str | None = None, user: str | None = None) -> None:
        """The owner (None: every owner) changed: its last value is not served again, and a
        read under way is not remembered. Call it before deleting the owner's cache entry."""
        with self._lock:
            if workspace is None:
                self._epoch += 1
                for each, was in list(self._known.items()):
                    self._known[each] = _Known(was.value, servable=False)
                return
            key = (workspace, user)
            self._generation[key] = self._generation.get(key, 0) + 1
            known = self._known.get(key)
            if known is not None:
                self._known[key] = _Known(known.value, servable=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _quietly(self, key: Key) -> frozenset[str] | None:
        try:
            return self.now(key)
        except Exception as exc:  # a background read must not fail anyone's request
            log.warning("%s connection state of %s unreadable: %s", self._name, key[0], exc)
            return None

    def _generation_of(self, key: Key) -> tuple[int, int]:
        with self._lock:
            return self._epoch, self._generation.get(key, 0)

    def _remember(self, key: Key, found: frozenset[str], began: tuple[int, int]) -> None:
        # under the lock, so an invalidation (which forgets first, then deletes from the
        # cache) lands either before this check or after the value is in the cache
        with self._lock:
            if (self._epoch, self._generation.get(key, 0)) != began:
                return  # invalidated while reading: this answer may be from before
            self._known[key] = _Known(found, servable=True)
            self._store(key, found)

    def _landed(self, key: Key, done: Future[frozenset[str] | None]) -> None:
        with self._lock:
            if self._inflight.get(key) is done:
                del self._inflight[key]
