"""Which toolkits each workspace (and user) has connected: the embedded, file-backed store.

A workspace with no record has nothing connected, except ``demo``, which starts with every
toolkit of the demo catalog. Writes are read-modify-write under an exclusive file lock and land
with an atomic replace, so concurrent processes never lose an update.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from lucy.capability_index.cache import KeyValueCache
from lucy.capability_index.part_reads import PartReads
from lucy.errors import BackendUnavailableError
from lucy.store.ids import DEMO_WORKSPACE, check_id

log = logging.getLogger(__name__)


class ConnectionStore(Protocol):
    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        """Toolkits usable by ``user`` in ``workspace``: the workspace's plus the user's own."""

    def own_toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        """The toolkits connected for exactly this owner: the workspace (``user`` None), or
        the user alone."""

    def connect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None: ...

    def disconnect(
        self, workspace: str, toolkits: Iterable[str], user: str | None = None
    ) -> None: ...


class InvalidatingStore(ConnectionStore, Protocol):
    """A connection store with a cache in front: ``invalidate`` forgets one owner's part (the
    workspace's, or a user's own) here and in the shared cache, ``forget_known`` only what
    this process last read of it."""

    def invalidate(self, workspace: str, user: str | None = None) -> None: ...

    def forget_known(self, workspace: str | None = None, user: str | None = None) -> None: ...

    def close(self) -> None: ...


class LocalConnectionStore:
    def __init__(self, path: Path, *, demo_toolkits: Iterable[str] = ()) -> None:
        self._path = path
        self._demo = frozenset(demo_toolkits)
        path.parent.mkdir(parents=True, exist_ok=True)

    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        data = self._read()
        record = data.get(check_id(workspace, "workspace_id"))
        if record is None:
            return self._demo if workspace == DEMO_WORKSPACE else frozenset()
        found = set(record.get("toolkits", []))
        if user is not None:
            found.update(record.get("users", {}).get(check_id(user, "user_id"), []))
        return frozenset(found)

    def own_toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        record = self._read().get(check_id(workspace, "workspace_id"))
        if user is not None:
            check_id(user, "user_id")
            return frozenset(() if record is None else record.get("users", {}).get(user, []))
        if record is None:
            return self._demo if workspace == DEMO_WORKSPACE else frozenset()
        return frozenset(record.get("toolkits", []))

    def connect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self._change(workspace, user, add=set(toolkits))

    def disconnect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self._change(workspace, user, remove=set(toolkits))

    def _change(
        self,
        workspace: str,
        user: str | None,
        add: set[str] | None = None,
        remove: set[str] | None = None,
    ) -> None:
        check_id(workspace, "workspace_id")
        with self._locked():
            data = self._read()
            record = data.setdefault(
                workspace,
                {"toolkits": sorted(self._demo) if workspace == DEMO_WORKSPACE else []},
            )
            if user is None:
                target = record
            else:
                target = record.setdefault("users", {})
                target = {"toolkits": target.setdefault(check_id(user, "user_id"), [])}
            current = set(target["toolkits"]) | (add or set())
            current -= remove or set()
            if user is None:
                record["toolkits"] = sorted(current)
            else:
                record["users"][user] = sorted(current)
            self._write(data)

    def _read(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        return loaded

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self._path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._path.with_suffix(".lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


PART = "*"  # the one key of a part's namespace


def namespace(workspace: str, provider: str | None = None, user: str | None = None) -> str:
    """The cache namespace of one owner's connections (the workspace's, or ``user``'s own) in
    the local store or in ``provider``; an invalidation drops it whole. Ids never hold '/'."""
    where = f"conn:{provider}:{workspace}" if provider else f"conn:{workspace}"
    return where if user is None else f"{where}/{user}"


def parse_namespace(message: str) -> tuple[str, str | None] | None:
    """(workspace, user) of a local-store namespace ``namespace()`` made; None otherwise."""
    if not message.startswith("conn:"):
        return None
    workspace, _, user = message.removeprefix("conn:").partition("/")
    return workspace, user or None


class CachedConnectionStore:
    """Wraps a ConnectionStore with a cache; a change through it invalidates what it changed.

    Each owner's part is cached on its own: the workspace's toolkits, and each user's own; what
    a user can use is their union. A change of the workspace's connections drops one entry,
    not one per user, and a new user of a known workspace reads only their own part. Past the
    cache's TTL the last value read is served while the store is read behind it; after an
    invalidation the next read waits for the store.

    When the store is down (``BackendUnavailableError``), a read serves the last value this
    process read for that part, however old; with none, the error stands (the API answers
    503): never "everything connected"."""

    def __init__(
        self, inner: ConnectionStore, cache: KeyValueCache, *, ttl: float, max_known: int = 50_000
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._ttl = ttl
        self._parts = PartReads(
            "local",
            lambda key: inner.own_toolkits(*key),
            self._store,
            max_known=max_known,
            workers=4,
        )

    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        found = self.own_toolkits(workspace)
        return found if user is None else found | self.own_toolkits(workspace, user)

    def own_toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        cached = self._cache.get(namespace(workspace, user=user), PART)
        if cached is not None:
            return frozenset(json.loads(cached))
        key = (workspace, user)
        known = self._parts.servable(key)
        if known is not None:
            self._parts.behind(key)
            return known
        try:
            return self._parts.now(key)
        except BackendUnavailableError as exc:
            last = self._parts.last(key)
            if last is None:
                raise
            log.warning("connection store down (%s); serving the last value read", exc)
            return last

    def connect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self._inner.connect(workspace, toolkits, user)
        self.invalidate(workspace, user)

    def disconnect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self._inner.disconnect(workspace, toolkits, user)
        self.invalidate(workspace, user)

    def invalidate(self, workspace: str, user: str | None = None) -> None:
        self.forget_known(workspace, user)  # first: a read under way is then not cached
        self._cache.invalidate(namespace(workspace, user=user))

    def forget_known(self, workspace: str | None = None, user: str | None = None) -> None:
        """That owner (None: every owner) changed elsewhere: do not serve what this process
        last read of it without reading again (it stays the fallback while the store is
        down)."""
        self._parts.forget(workspace, user)

    def close(self) -> None:
        self._parts.close()

    def _store(self, key: tuple[str, str | None], found: frozenset[str]) -> None:
        self._cache.set(namespace(key[0], user=key[1]), PART, json.dumps(sorted(found)), self._ttl)
